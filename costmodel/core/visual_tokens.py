"""Images -> visual tokens, per token scheme (pure; no I/O).

fixed (LLaVA-1.5): the image is resized to image_size; tokens = (image_size/patch)^2, CLS dropped.
anyres (LLaVA-NeXT, transformers `select_best_resolution`, `unpad_image`, image_newline):
  a base crop plus tiles of image_size; tokens = base + unpadded grid rows x (cols + newline).
  anyres_max_N (LLaVA-OneVision, transformers `LlavaOnevisionModel.pack_image_features` and
  `LlavaOnevisionProcessor._get_unpadded_features`): when the unpadded grid has more than
  1.1^2 x N crops' worth of features it is downscaled by ratio = sqrt(rows*cols / (N*side^2))
  to (rows // ratio) x (cols // ratio) before the newline tokens are added.
dynamic (Qwen2-VL `smart_resize`): the image is resized to multiples of patch x merge within
  [min_pixels, max_pixels]; patches = (H/patch)(W/patch); tokens = patches / merge^2.
"""

from __future__ import annotations

import math

from costmodel.errors import CostmodelError
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


MAX_ASPECT_RATIO = 200  # transformers smart_resize: "absolute aspect ratio must be smaller than 200"


def smart_resize(width: int, height: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """Qwen2-VL's resize: (width, height) rounded to multiples of `factor` within pixel bounds.

    transformers `models/qwen2_vl/image_processing_qwen2_vl.py::smart_resize` (5.23.0), line for
    line: a side of under factor/2 px rounds to 0, so the product falls below min_pixels and the
    image is scaled up (13x1000 -> 504x28, not 1008x28). An aspect ratio above 200 is refused.
    """
    if max(width, height) / min(width, height) > MAX_ASPECT_RATIO:
        raise CostmodelError(
            f"--image-size: {width}x{height} has aspect ratio {max(width, height) / min(width, height):.4g}"
            f"; Qwen2-VL's smart_resize refuses more than {MAX_ASPECT_RATIO}; use a less elongated image"
        )
    h = round(height / factor) * factor
    w = round(width / factor) * factor
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return w, h


def anyres_max(rows: int, cols: int, side: int, max_patches: int | None) -> tuple[int, int]:
    """LLaVA-OneVision's anyres_max_N cap on the unpadded feature grid (rows x cols).

    transformers `LlavaOnevisionModel.pack_image_features`: ratio = sqrt(rows*cols / (N*side^2));
    if ratio > 1.1 the grid is bilinearly resized to (int(rows // ratio), int(cols // ratio)).
    None (LLaVA-NeXT) = no cap.
    """
    if max_patches is None:
        return rows, cols
    ratio = math.sqrt(rows * cols / (max_patches * side * side))
    if ratio > 1.1:
        return int(rows // ratio), int(cols // ratio)
    return rows, cols


def _plan_anyres(spec: ModelSpec, images: int, width: int, height: int) -> VisualPlan:
    """Base crop + best-resolution tiles; the projector sees every crop's patches, the LLM the
    base crop, the unpadded (and, for anyres_max_N, downscaled) grid and one newline per row."""
    v, ts = spec.vision, spec.token_scheme
    side = v.image_size // v.patch_size
    m2 = spec.projector.merge_size ** 2
    ph, pw = best_resolution(width, height, ts.grid_pinpoints)
    grid_r, grid_c = ph // v.image_size, pw // v.image_size
    rows, cols = _unpadded(grid_r * side, grid_c * side, width, height)
    rows, cols = anyres_max(rows, cols, side, ts.anyres_max_patches)
    tokens = (side * side + rows * cols) // m2 + rows * int(ts.newline_token)
    crops = 1 + grid_r * grid_c
    return VisualPlan(crops=images * crops, seq_per_crop=side * side + int(v.cls_token),
                      projector_rows=images * crops * side * side, llm_tokens=images * tokens)


def plan_images(spec: ModelSpec, images: int, width: int, height: int) -> VisualPlan:
    """Per-sample plan for `images` images of width x height pixels."""
    v, ts = spec.vision, spec.token_scheme
    if v is None or spec.projector is None or images == 0:
        return VisualPlan(crops=0, seq_per_crop=0, projector_rows=0, llm_tokens=0)
    m = spec.projector.merge_size  # a patch merger maps m^2 patches to one token
    if ts.kind == "fixed":
        p = (v.image_size // v.patch_size) ** 2
        return VisualPlan(crops=images, seq_per_crop=p + int(v.cls_token),
                          projector_rows=images * p, llm_tokens=images * p // (m * m))
    if ts.kind == "anyres":
        return _plan_anyres(spec, images, width, height)
    w, h = smart_resize(width, height, v.patch_size * m, ts.min_pixels, ts.max_pixels)
    patches = (w // v.patch_size) * (h // v.patch_size)
    return VisualPlan(crops=images, seq_per_crop=patches, projector_rows=images * patches,
                      llm_tokens=images * patches // (m * m))


def plan_tokens(spec: ModelSpec, visual_tokens: int, images: int = 1) -> VisualPlan:
    """Per-sample plan when the number of visual tokens entering the LLM is given directly.

    fixed / anyres: the encoder runs ceil(N / patches_per_crop) crops at its native size and
    the projector maps N patch features to N tokens. dynamic: N tokens come from N x merge^2
    patches spread over `images` images (one encoder pass each).
    """
    v = spec.vision
    if v is None or spec.projector is None or visual_tokens == 0:
        return VisualPlan(crops=0, seq_per_crop=0, projector_rows=0, llm_tokens=visual_tokens)
    if spec.token_scheme.kind == "dynamic":
        m2 = spec.projector.merge_size ** 2
        n_img = max(images, 1)
        return VisualPlan(crops=n_img, seq_per_crop=visual_tokens * m2 / n_img,
                          projector_rows=visual_tokens * m2, llm_tokens=visual_tokens)
    per_crop = v.patches_per_image
    m2 = spec.projector.merge_size ** 2  # a patch merger maps m^2 patches to one token
    return VisualPlan(crops=math.ceil(visual_tokens * m2 / per_crop),
                      seq_per_crop=per_crop + int(v.cls_token),
                      projector_rows=visual_tokens * m2, llm_tokens=visual_tokens)
