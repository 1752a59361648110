"""Images -> visual tokens, per token scheme (pure; no I/O).

fixed (LLaVA-1.5): the image is resized to image_size; tokens = (image_size/patch)^2, CLS dropped.
anyres (LLaVA-NeXT, transformers `select_best_resolution`, `unpad_image`, image_newline):
  a base crop plus tiles of image_size; tokens = base + unpadded grid rows x (cols + newline).
dynamic (Qwen2-VL `smart_resize`): the image is resized to multiples of patch x merge within
  [min_pixels, max_pixels]; patches = (H/patch)(W/patch); tokens = patches / merge^2.
"""

from __future__ import annotations

import math

import numpy as np

from costmodel.core.ops import Arr
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import VisualPlan


def best_resolution(width: int, height: int, pinpoints: tuple[tuple[int, int], ...]) -> tuple[int, int]:
    """(height, width) of the pinpoint that keeps most resolution, then wastes least."""
    best, best_eff, best_waste = pinpoints[0], -1, math.inf
    for ph, pw in pinpoints:
        scale = min(pw / width, ph / height)
        eff = min(int(width * scale) * int(height * scale), width * height)
        waste = pw * ph - eff
        if eff > best_eff or (eff == best_eff and waste < best_waste):
            best, best_eff, best_waste = (ph, pw), eff, waste
    return best


def _unpadded(rows: int, cols: int, width: int, height: int) -> tuple[int, int]:
    """Feature grid left after removing the padding added to keep the aspect ratio."""
    if width / height > cols / rows:
        new_rows = int(round(height * (cols / width), 7))
        pad = (rows - new_rows) // 2
        return rows - 2 * pad, cols
    new_cols = int(round(width * (rows / height), 7))
    pad = (cols - new_cols) // 2
    return rows, cols - 2 * pad


def smart_resize(width: int, height: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """Qwen2-VL's resize: (width, height) rounded to multiples of `factor` within pixel bounds."""
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return w, h


def plan_images(spec: ModelSpec, images: int, width: int, height: int) -> VisualPlan:
    """Per-sample plan for `images` images of width x height pixels."""
    v, ts = spec.vision, spec.token_scheme
    if v is None or spec.projector is None or images == 0:
        return VisualPlan(crops=0, seq_per_crop=0, projector_rows=0, llm_tokens=0)
    cls = int(v.cls_token)
    side = v.image_size // v.patch_size
    m2 = spec.projector.merge_size ** 2  # a patch merger maps m^2 patches to one token
    if ts.kind == "fixed":
        p = side * side
        return VisualPlan(crops=images, seq_per_crop=p + cls, projector_rows=images * p,
                          llm_tokens=images * p // m2)
    if ts.kind == "anyres":
        ph, pw = best_resolution(width, height, ts.grid_pinpoints)
        grid_r, grid_c = ph // v.image_size, pw // v.image_size
        rows, cols = _unpadded(grid_r * side, grid_c * side, width, height)
        tokens = (side * side + rows * cols) // m2 + rows * int(ts.newline_token)
        crops = 1 + grid_r * grid_c
        return VisualPlan(crops=images * crops, seq_per_crop=side * side + cls,
                          projector_rows=images * crops * side * side,
                          llm_tokens=images * tokens)
    m = spec.projector.merge_size
    w, h = smart_resize(width, height, v.patch_size * m, ts.min_pixels, ts.max_pixels)
    patches = (w // v.patch_size) * (h // v.patch_size)
    return VisualPlan(crops=images, seq_per_crop=patches, projector_rows=images * patches,
                      llm_tokens=images * patches // (m * m))


def plan_token_arrays(spec: ModelSpec, visual_tokens: Arr | float, images: int = 1) -> dict[str, Arr]:
    """Per-sample plan when the visual tokens entering the LLM are given directly, vectorised
    over an array of counts N: crops (encoder passes), seq_per_crop, projector_rows, visual.

    fixed / anyres: the encoder runs ceil(N x merge^2 / patches_per_crop) crops at its native
    size and the projector maps N x merge^2 patch features to N tokens. dynamic: N tokens come
    from N x merge^2 patches spread over `images` images (one encoder pass each).
    """
    n = np.asarray(visual_tokens, dtype=float)
    z = np.zeros_like(n)
    v = spec.vision
    if v is None or spec.projector is None:
        return {"crops": z, "seq_per_crop": z, "projector_rows": z, "visual": n}
    some = n > 0
    m2 = spec.projector.merge_size ** 2  # a patch merger maps m^2 patches to one token
    if spec.token_scheme.kind == "dynamic":
        n_img = float(max(images, 1))
        return {"crops": np.where(some, n_img, 0.0), "seq_per_crop": n * m2 / n_img,
                "projector_rows": n * m2, "visual": n}
    per_crop = v.patches_per_image
    return {"crops": np.ceil(n * m2 / per_crop),
            "seq_per_crop": np.where(some, per_crop + int(v.cls_token), 0.0),
            "projector_rows": n * m2, "visual": n}


def plan_tokens(spec: ModelSpec, visual_tokens: int, images: int = 1) -> VisualPlan:
    """plan_token_arrays for one count, as a VisualPlan (the torch reference uses it)."""
    a = {k: float(np.ravel(v)[0]) for k, v in plan_token_arrays(spec, visual_tokens, images).items()}
    return VisualPlan(crops=a["crops"], seq_per_crop=a["seq_per_crop"],
                      projector_rows=a["projector_rows"], llm_tokens=a["visual"])
