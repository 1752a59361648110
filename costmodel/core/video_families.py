"""Video rules of Qwen2.5-VL, Qwen3-VL and InternVL (pure; no I/O). Registered in
costmodel/core/video.py (`VIDEO_RULES`); formulas in docs/methodology.md, "Video inputs".
All follow transformers 5.23.0:

qwen2_5_vl (`Qwen2VLVideoProcessor`, the video processor transformers maps qwen2_5_vl to in
  `video_processing_auto.py`; `Qwen2_5_VLModel.get_video_features`): Qwen2-VL's rule (frames
  padded to pairs, grid_t = ceil(N/2) passes, tokens = grid_t x patches / 4, same bounds and
  fps sampling) plus `grid_w` = w / 14 patch columns, so the windowed ViT layers are cut into
  windows on the frame's real grid (core/qwen_vl.window_groups).
qwen3_vl (`Qwen3VLVideoProcessor`, `Qwen3VLProcessor.replace_video_token`): patch 16, merge 2,
  temporal 2; the video `smart_resize(num_frames, h, w)` bounds the pixels of the whole clip,
  t_bar x h x w with t_bar = round(N/2) x 2, to the video_preprocessor_config.json's
  [shortest_edge, longest_edge] = [4,096, 25,165,824]; fewer than 2 frames are refused (as it
  raises). Each temporal patch becomes `<t.t seconds>` + <|vision_start|> + h w / (16^2 2^2)
  video tokens + <|vision_end|>: the 2 special tokens per temporal patch are counted here; the
  timestamp text is counted as prompt text (core/video_text.py). fps sampling (`sample_frames`):
  frames = min(max(int(S x F), min_frames 4), max_frames 768), no rounding to pairs.
internvl (`InternVLVideoProcessor`, `InternVLProcessor.replace_video_token`): every frame
  resized to one tile of the encoder's image_size (448), one ViT pass each, 256 tokens
  wrapped in <img> ... </img>: tokens = N x (256 + 2) (the 'Frame{i}: ' labels are prompt
  text: core/video_text.py). fps sampling (`sample_frames` with
  fps): frames = int(S x F) (0 refused: transformers divides by it).
"""

from __future__ import annotations

import math

from costmodel.core.visual_tokens import plan_video as plan_qwen2_vl
from costmodel.core.visual_tokens import smart_resize
from costmodel.errors import CostmodelError
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import VisualPlan

# Qwen3VLVideoProcessor class attributes and the Qwen3-VL repos' video_preprocessor_config.json
# (size {shortest_edge 4096, longest_edge 25165824}, fps 2, min_frames 4, max_frames 768).
QWEN3_VL_VIDEO_PIXELS = (4096, 25165824)
QWEN3_VL_MIN_FRAMES, QWEN3_VL_MAX_FRAMES = 4, 768
QWEN3_VL_FRAME_SPECIAL_TOKENS = 2  # <|vision_start|>, <|vision_end|> per temporal patch
INTERNVL_FRAME_SPECIAL_TOKENS = 2  # <img>, </img> per frame


def plan_qwen2_5_vl(spec: ModelSpec, frames: int, width: int, height: int) -> VisualPlan:
    """Qwen2-VL's video plan with the frame's patch columns (grid_w) for the window cut."""
    plan = plan_qwen2_vl(spec, frames, width, height)
    if plan.crops == 0:
        return plan
    w, _ = resize_qwen2_5_vl(spec, frames, width, height)
    assert spec.vision is not None  # plan_qwen2_vl returns early without it
    return plan.model_copy(update={"grid_w": w // spec.vision.patch_size})


def resize_qwen2_5_vl(spec: ModelSpec, frames: int, width: int, height: int) -> tuple[int, int]:
    """Each frame's smart_resize with the scheme's pixel bounds (as Qwen2-VL)."""
    m = spec.projector.merge_size if spec.projector else 1
    ts, p = spec.token_scheme, spec.vision.patch_size if spec.vision else 1
    return smart_resize(width, height, p * m, ts.min_pixels, ts.max_pixels)


def video_smart_resize(frames: int, width: int, height: int, factor: int, temporal: int,
                       min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """transformers `qwen3_vl/video_processing_qwen3_vl.py::smart_resize`, line for line:
    sides under `factor` are scaled up first; the bounds apply to t_bar x h x w (the clip)."""
    if frames < temporal:
        raise CostmodelError(f"--video-frames: {frames} frame(s); Qwen3-VL's video processor "
                             f"needs at least {temporal} (temporal_patch_size)")
    if height < factor or width < factor:
        scale = max(factor / height, factor / width)
        height, width = int(height * scale), int(width * scale)
    if max(height, width) / min(height, width) > 200:
        raise CostmodelError(f"--image-size: {width}x{height} has aspect ratio over 200, which "
                             "Qwen3-VL's smart_resize refuses; use a less elongated frame")
    h, w = round(height / factor) * factor, round(width / factor) * factor
    t = round(frames / temporal) * temporal
    if t * h * w > max_pixels:
        beta = math.sqrt(frames * height * width / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif t * h * w < min_pixels:
        beta = math.sqrt(min_pixels / (frames * height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return w, h


def resize_qwen3_vl(spec: ModelSpec, frames: int, width: int, height: int) -> tuple[int, int]:
    """(W, H) of every frame of a Qwen3-VL video of `frames` frames."""
    v, pj = spec.vision, spec.projector
    assert v is not None and pj is not None
    lo, hi = QWEN3_VL_VIDEO_PIXELS
    return video_smart_resize(max(frames, v.temporal_patch_size), width, height,
                              v.patch_size * pj.merge_size, v.temporal_patch_size, lo, hi)


def plan_qwen3_vl(spec: ModelSpec, frames: int, width: int, height: int) -> VisualPlan:
    """grid_t = ceil(N/2) ViT passes of (h/16)(w/16) patches; LLM: grid_t x (patches / 4 + 2)."""
    v, pj = spec.vision, spec.projector
    if v is None or pj is None or frames == 0:
        return VisualPlan(crops=0, seq_per_crop=0, projector_rows=0, llm_tokens=0)
    t = v.temporal_patch_size
    lo, hi = QWEN3_VL_VIDEO_PIXELS
    w, h = video_smart_resize(frames, width, height, v.patch_size * pj.merge_size, t, lo, hi)
    grid_t = math.ceil(frames / t)
    patches = (w // v.patch_size) * (h // v.patch_size)
    per_t = patches // pj.merge_size**2 + QWEN3_VL_FRAME_SPECIAL_TOKENS
    return VisualPlan(crops=grid_t, seq_per_crop=patches, projector_rows=grid_t * patches,
                      llm_tokens=grid_t * per_t, grid_w=w // v.patch_size)


def sample_qwen3_vl(spec: ModelSpec, seconds: float, fps: float) -> int:
    """Qwen3VLVideoProcessor.sample_frames: min(max(int(S x F), 4), 768); the source clip is
    taken to hold at least that many frames."""
    return min(max(int(seconds * fps), QWEN3_VL_MIN_FRAMES), QWEN3_VL_MAX_FRAMES)


def resize_internvl(spec: ModelSpec, frames: int, width: int, height: int) -> tuple[int, int]:
    """Every frame becomes one tile of the encoder's image_size (448 x 448)."""
    side = spec.vision.image_size if spec.vision else 0
    return side, side


def plan_internvl(spec: ModelSpec, frames: int, width: int, height: int) -> VisualPlan:
    """N ViT passes of (448/14)^2 (+ CLS) patches; projector: all of them; LLM: N x (256 + 2)."""
    v, pj = spec.vision, spec.projector
    if v is None or pj is None or frames == 0:
        return VisualPlan(crops=0, seq_per_crop=0, projector_rows=0, llm_tokens=0)
    p = v.patches_per_image
    return VisualPlan(crops=frames, seq_per_crop=p + int(v.cls_token), projector_rows=frames * p,
                      llm_tokens=frames * (p // pj.merge_size**2 + INTERNVL_FRAME_SPECIAL_TOKENS))


def sample_internvl(spec: ModelSpec, seconds: float, fps: float) -> int:
    """InternVLVideoProcessor.sample_frames with fps: int(S x F) (transformers divides by it,
    so 0 frames is refused)."""
    n = int(seconds * fps)
    if n < 1:
        raise CostmodelError(f"--seconds/--fps: {seconds:g} s at {fps:g} fps samples no frame "
                             "for InternVL (int(S x F) = 0); give a longer clip or a higher fps")
    return n
