"""Images -> visual tokens, per token scheme (pure; no I/O).

fixed (LLaVA-1.5): the image is resized to image_size; tokens = (image_size/patch)^2, CLS dropped
  (vision_feature_select_strategy "full": + 1, the CLS row kept; VisionSpec.feature_keeps_cls).
anyres (LLaVA-NeXT, transformers `select_best_resolution`, `unpad_image`, image_newline):
  a base crop plus tiles of image_size; tokens = base + unpadded grid rows x (cols + newline).
  anyres_max_N (LLaVA-OneVision, transformers `LlavaOnevisionModel.pack_image_features` and
  `LlavaOnevisionProcessor._get_unpadded_features`): when the unpadded grid has more than
  1.1^2 x N crops' worth of features it is downscaled by ratio = sqrt(rows*cols / (N*side^2))
  to (rows // ratio) x (cols // ratio) before the newline tokens are added.
dynamic (Qwen2-VL `smart_resize`; Qwen2.5-VL and Qwen3-VL use the same image processor,
  transformers `Qwen2VLImageProcessor`, with their own patch, merge and pixel bounds): the image
  is resized to multiples of patch x merge within [min_pixels, max_pixels];
  patches = (H/patch)(W/patch); tokens = patches / merge^2.
  Video (`plan_video`): pairs of frames form one temporal patch (temporal_patch_size 2).
tiles (InternVL): see costmodel/core/tiles.py.
splits (Idefics3 / SmolVLM): see costmodel/core/idefics3_tokens.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from costmodel.core import mllama_tiles
from costmodel.core.gemma3_tokens import pan_and_scan_crops
from costmodel.core.idefics3_tokens import plan_splits
from costmodel.core.ops import Arr
from costmodel.core.tiles import plan_tiles
from costmodel.errors import CostmodelError
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import VisualPlan

T = TypeVar("T")


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
    base crop, the unpadded (and, for anyres_max_N, downscaled) grid and one newline per row.
    With single_image_anyres and several images (LLaVA-OneVision: transformers 5.23
    `LlavaOnevisionImageProcessor._preprocess`, "only single image patching is supported";
    `LlavaOnevisionProcessor.replace_image_token`, num_image_tokens + 1) each image is its base
    crop alone: side^2 tokens plus one newline."""
    v, ts, pj = spec.vision, spec.token_scheme, spec.projector
    assert v is not None and pj is not None  # plan_images returns early without them
    side = v.image_size // v.patch_size
    m2 = pj.merge_size ** 2
    if ts.single_image_anyres and images > 1:
        return VisualPlan(crops=images, seq_per_crop=side * side + int(v.cls_token),
                          projector_rows=images * side * side,
                          llm_tokens=images * (side * side // m2 + int(ts.newline_token)))
    ph, pw = best_resolution(width, height, ts.grid_pinpoints)
    grid_r, grid_c = ph // v.image_size, pw // v.image_size
    rows, cols = _unpadded(grid_r * side, grid_c * side, width, height)
    rows, cols = anyres_max(rows, cols, side, ts.anyres_max_patches)
    tokens = (side * side + rows * cols) // m2 + rows * int(ts.newline_token)
    crops = 1 + grid_r * grid_c
    return VisualPlan(crops=images * crops, seq_per_crop=side * side + int(v.cls_token),
                      projector_rows=images * crops * side * side, llm_tokens=images * tokens)


def plan_video(spec: ModelSpec, frames: int, width: int, height: int) -> VisualPlan:
    """Per-sample plan for one video of `frames` frames of width x height (Qwen2-VL).

    transformers `Qwen2VLVideoProcessor` (5.23.0): each frame is smart_resize'd (cap_pixels_per_frame
    off, its default), the frames are padded to a multiple of temporal_patch_size by repeating
    the last one, and patchify gives grid_t = ceil(frames / 2) temporal patches of
    (h/14) x (w/14); the ViT attends within each temporal patch (`get_vision_cu_seqlens`,
    merge_temporal=False), so grid_t encoder sequences. tokens = grid_t x (h/14)(w/14) / 4:
    16 frames of 448x448 -> 8 x 32 x 32 / 4 = 2,048 (not 16 images' 4,096). Frames use the
    scheme's image bounds [min_pixels, max_pixels]; a video_preprocessor_config.json may set
    others (the class default is [128 x 28^2, 768 x 28^2]). The 'qwen2_vl' rule of
    costmodel/core/video.py (reached from a Workload's video fields).
    """
    v, ts = spec.vision, spec.token_scheme
    if v is None or spec.projector is None or frames == 0:
        return VisualPlan(crops=0, seq_per_crop=0, projector_rows=0, llm_tokens=0)
    if ts.kind != "dynamic":
        raise CostmodelError(f"--video-frames: the {ts.kind} token scheme has no video rule yet; "
                             "give the frames as --images")
    m = spec.projector.merge_size
    w, h = smart_resize(width, height, v.patch_size * m, ts.min_pixels, ts.max_pixels)
    grid_t = math.ceil(frames / v.temporal_patch_size)
    patches = (w // v.patch_size) * (h // v.patch_size)
    return VisualPlan(crops=grid_t, seq_per_crop=patches, projector_rows=grid_t * patches,
                      llm_tokens=grid_t * patches // (m * m))


def plan_images(spec: ModelSpec, images: int, width: int, height: int) -> VisualPlan:
    """Per-sample plan for `images` images of width x height pixels."""
    v, ts = spec.vision, spec.token_scheme
    if spec.cross_vision is not None:  # Llama-3.2-Vision: core/mllama_tiles.py
        return mllama_tiles.plan_images(spec.cross_vision, images)
    if v is None or spec.projector is None or images == 0:
        return VisualPlan(crops=0, seq_per_crop=0, projector_rows=0, llm_tokens=0)
    m = spec.projector.merge_size  # a patch merger maps m^2 patches to one token
    if ts.kind == "fixed":
        p, f = v.patches_per_image, v.features_per_image  # f = p + 1 when the CLS row is kept
        if ts.pan_and_scan:  # Gemma 3: the whole image plus its crops, each encoded alike
            images *= 1 + pan_and_scan_crops(width, height, ts.pan_and_scan_min_crop_size,
                                              ts.pan_and_scan_max_num_crops,
                                              ts.pan_and_scan_min_ratio_to_activate)
        return VisualPlan(crops=images, seq_per_crop=p + int(v.cls_token),
                          projector_rows=images * f, llm_tokens=images * f // (m * m))
    if ts.kind == "anyres":
        return _plan_anyres(spec, images, width, height)
    if ts.kind == "tiles":
        return plan_tiles(spec, images, width, height)
    if ts.kind == "splits":
        return plan_splits(spec, images, width, height)
    w, h = smart_resize(width, height, v.patch_size * m, ts.min_pixels, ts.max_pixels)
    patches = (w // v.patch_size) * (h // v.patch_size)
    return VisualPlan(crops=images, seq_per_crop=patches, projector_rows=images * patches,
                      llm_tokens=images * patches // (m * m), grid_w=w // v.patch_size)


def plan_token_arrays(spec: ModelSpec, visual_tokens: Arr | float, images: int = 1) -> dict[str, Arr]:
    """Per-sample plan when the visual tokens entering the LLM are given directly, vectorised
    over an array of counts N: crops (encoder passes), seq_per_crop, projector_rows, visual.

    fixed / anyres / tiles: the encoder runs ceil(N x merge^2 / features_per_crop) crops at its
    native size (features: the patches, + the CLS row under LLaVA's "full" strategy) and the
    projector maps N x merge^2 features to N tokens (tiles: the
    given N are all projector outputs; no <img></img> text tokens are added). dynamic: N tokens come
    from N x merge^2 patches spread over `images` images (one encoder pass each).
    """
    n = np.asarray(visual_tokens, dtype=float)
    z = np.zeros_like(n)
    v = spec.vision
    if spec.cross_vision is not None:  # Llama-3.2-Vision: core/mllama_tiles.py
        return mllama_tiles.plan_token_arrays(spec.cross_vision, n)
    if v is None or spec.projector is None:
        return {"crops": z, "seq_per_crop": z, "projector_rows": z, "visual": n}
    some = n > 0
    m2 = spec.projector.merge_size ** 2  # a patch merger maps m^2 patches to one token
    if spec.token_scheme.kind == "dynamic":
        n_img = float(max(images, 1))
        return {"crops": np.where(some, n_img, 0.0), "seq_per_crop": n * m2 / n_img,
                "projector_rows": n * m2, "visual": n}
    per_crop = v.features_per_image  # feature rows a pass gives (LLaVA "full": + the CLS row)
    return {"crops": np.ceil(n * m2 / per_crop),
            "seq_per_crop": np.where(some, v.patches_per_image + int(v.cls_token), 0.0),
            "projector_rows": n * m2, "visual": n}


def plan_tokens(spec: ModelSpec, visual_tokens: int, images: int = 1) -> VisualPlan:
    """plan_token_arrays for one count, as a VisualPlan (the torch reference uses it)."""
    a = {k: float(np.ravel(v)[0]) for k, v in plan_token_arrays(spec, visual_tokens, images).items()}
    return VisualPlan(crops=a["crops"], seq_per_crop=a["seq_per_crop"],
                      projector_rows=a["projector_rows"], llm_tokens=a["visual"])


def per_distinct(fn: Callable[..., T], *columns: Arr) -> tuple[list[T], np.ndarray]:
    """`fn` once per distinct row of the columns (each [K], e.g. image count, width, height),
    called with that row's values as floats; returns the results and each point's index into
    them [K]. A sweep's points repeat few distinct inputs (the batch and the devices add
    none), so a scalar planner runs a handful of times, not once per point."""
    rows = np.stack([np.asarray(c, dtype=float).reshape(-1) for c in columns], axis=1)
    distinct, inverse = np.unique(rows, axis=0, return_inverse=True)
    return [fn(*r) for r in distinct.tolist()], np.asarray(inverse).reshape(-1)


PLAN_FIELDS = {"crops": "crops", "seq_per_crop": "seq_per_crop",
               "projector_rows": "projector_rows", "visual": "llm_tokens", "grid_w": "grid_w"}


def plan_columns(plans: list[VisualPlan], inverse: np.ndarray) -> dict[str, Arr]:
    """Distinct VisualPlans spread back over the points: the grid columns prepare's Points
    take (crops, seq_per_crop, projector_rows, visual, grid_w), one entry per point."""
    return {k: np.array([getattr(p, a) for p in plans], dtype=float)[inverse]
            for k, a in PLAN_FIELDS.items()}


def plan_image_arrays(spec: ModelSpec, images: Arr, widths: Arr, heights: Arr) -> dict[str, Arr]:
    """plan_images over arrays of image counts and sizes (W, H) (a sweep's image axes; K = 1
    for one request): each distinct (count, W, H) planned once with the scalar plan_images
    estimate uses, since the anyres, tiles, splits and dynamic plans depend on the geometry
    through integer rounding that does not vectorise."""
    plans, inverse = per_distinct(lambda n, w, h: plan_images(spec, int(n), int(w), int(h)),
                                  images, widths, heights)
    return plan_columns(plans, inverse)


def image_size_ignored(spec: ModelSpec) -> str | None:
    """Why this model's image plan does not depend on the image size (so an axis of image
    sizes gives one point), or None when it does (anyres, tiles, splits, dynamic, and a fixed
    scheme with Gemma 3's pan and scan)."""
    v, ts = spec.vision, spec.token_scheme
    if spec.cross_vision is not None:
        return (f"every image runs as {spec.cross_vision.max_num_tiles} tiles whatever its "
                "size (core/mllama_tiles.py)")
    if v is None or spec.projector is None:
        return "it has no vision tower"
    if ts.kind == "fixed" and not ts.pan_and_scan:
        return f"its fixed token scheme resizes every image to {v.image_size}x{v.image_size}"
    return None
