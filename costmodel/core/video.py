"""Videos -> encoder passes and visual tokens, per model family (pure; no I/O).

Each family's rule is one `VideoRule` in `VIDEO_RULES`, keyed by name; a model's rule is
`TokenScheme.video_rule` when set (the loader sets it per model_type), else the default for its
token-scheme kind (`KIND_DEFAULTS`). A family adds its rule with one entry in each (see
docs/methodology.md, "Video inputs"). The rules follow transformers 5.23.0 (Qwen2.5-VL,
Qwen3-VL and InternVL: costmodel/core/video_families.py):

qwen2_vl (`Qwen2VLVideoProcessor`, `Qwen2VLModel.get_video_features`): frames padded to a
  multiple of temporal_patch_size (2) by repeating the last; each frame smart_resize'd with the
  processor's pixel bounds; grid_t = frames / 2 ViT passes of (h/14)(w/14) patches (the ViT
  attends within one temporal patch); tokens = grid_t x patches / merge^2 (`plan_video` in
  visual_tokens.py). fps sampling (`Qwen2VLVideoProcessor.sample_frames`): frames =
  floor(min(max(S x F, min_frames 4), max_frames 768) / 2) x 2.
llava_onevision (`LlavaOnevisionVideoProcessor`, `LlavaOnevisionModel.get_video_features`):
  every frame resized to the encoder's image_size (no anyres tiles), one ViT pass each; the
  projector maps all side^2 patch features of a frame, then `apply_pooling` interpolates the
  side x side grid bilinearly to ceil(side/2)^2 (27x27 = 729 -> 14x14 = 196 for SigLIP 384/14);
  one image_newline per video: tokens = frames x ceil(side/2)^2 + 1. fps sampling
  (`video_utils.default_sample_indices_fn`): frames = max(1, int(S x F)), no frame cap.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from costmodel.core import video_families as vf
from costmodel.core import video_text as vtx
from costmodel.core.ops import Arr
from costmodel.core.visual_tokens import per_distinct, plan_columns, smart_resize
from costmodel.core.visual_tokens import plan_video as plan_qwen2_vl
from costmodel.errors import CostmodelError
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import VisualPlan

# Qwen2VLVideoProcessor class attributes (transformers 5.23.0, video_processing_qwen2_vl.py).
QWEN2_VL_MIN_FRAMES = 4
QWEN2_VL_MAX_FRAMES = 768


@dataclass(frozen=True)
class VideoRule:
    """One family's video rule: plan(spec, frames, width, height) -> per-sample VisualPlan;
    sample(spec, seconds, fps) -> frames the family's video processor samples from a clip of
    `seconds` at `fps`; resize(spec, frames, W, H) -> the (W, H) each frame is resized to
    (Qwen3-VL's depends on the frames); source:
    the transformers code it follows (for messages and docs); fixed_size: every frame is
    resized to one size whatever its own (the frame size sets no token)."""

    plan: Callable[[ModelSpec, int, int, int], VisualPlan]
    sample: Callable[[ModelSpec, float, float], int]
    resize: Callable[[ModelSpec, int, int, int], tuple[int, int]]  # (frames, W, H) -> (W, H)
    source: str
    # (frames, seconds or None) -> text tokens the processor writes around the video
    # (core/video_text.py); none for the families whose placeholders are all special tokens.
    text: Callable[[ModelSpec, int, float | None], int] = lambda spec, frames, seconds: 0
    fixed_size: bool = False


def sample_qwen2_vl(spec: ModelSpec, seconds: float, fps: float) -> int:
    """Qwen2VLVideoProcessor.sample_frames with fps: num_frames = S x F clamped to
    [min_frames, max_frames], then floored to a multiple of temporal_patch_size. The source
    clip is taken to hold at least that many frames (total_num_frames does not bind)."""
    t = spec.vision.temporal_patch_size if spec.vision else 2
    max_frames = math.floor(QWEN2_VL_MAX_FRAMES / t) * t
    n = min(max(seconds * fps, QWEN2_VL_MIN_FRAMES), max_frames)
    return math.floor(n / t) * t


def resize_qwen2_vl(spec: ModelSpec, frames: int, width: int, height: int) -> tuple[int, int]:
    """Each frame's smart_resize (the scheme's pixel bounds, as plan_video uses)."""
    m = spec.projector.merge_size if spec.projector else 1
    ts, p = spec.token_scheme, spec.vision.patch_size if spec.vision else 1
    return smart_resize(width, height, p * m, ts.min_pixels, ts.max_pixels)


def resize_onevision(spec: ModelSpec, frames: int, width: int, height: int) -> tuple[int, int]:
    """LlavaOnevisionVideoProcessor.size: the encoder's image_size square (384 x 384)."""
    side = spec.vision.image_size if spec.vision else 0
    return side, side


def plan_onevision(spec: ModelSpec, frames: int, width: int, height: int) -> VisualPlan:
    """LLaVA-OneVision video (the frame size does not matter: every frame is resized to the
    encoder's image_size). Encoder: `frames` passes of side^2 (+ CLS) tokens; projector: every
    patch feature (pooling follows it); LLM: frames x ceil(side/2)^2 + one newline."""
    v = spec.vision
    if v is None or frames == 0:
        return VisualPlan(crops=0, seq_per_crop=0, projector_rows=0, llm_tokens=0)
    side = v.image_size // v.patch_size
    pooled = math.ceil(side / 2)
    return VisualPlan(crops=frames, seq_per_crop=side * side + int(v.cls_token),
                      projector_rows=frames * side * side,
                      llm_tokens=frames * pooled * pooled + int(spec.token_scheme.newline_token))


def sample_onevision(spec: ModelSpec, seconds: float, fps: float) -> int:
    """video_utils.default_sample_indices_fn: num_frames = max(1, int(S x F)); no cap."""
    return max(1, int(seconds * fps))


VIDEO_RULES: dict[str, VideoRule] = {
    "qwen2_vl": VideoRule(plan_qwen2_vl, sample_qwen2_vl, resize_qwen2_vl,
                          "transformers Qwen2VLVideoProcessor"),
    "llava_onevision": VideoRule(plan_onevision, sample_onevision, resize_onevision,
                                 "transformers LlavaOnevisionModel.get_video_features",
                                 fixed_size=True),
    "qwen2_5_vl": VideoRule(vf.plan_qwen2_5_vl, sample_qwen2_vl, vf.resize_qwen2_5_vl,
                            "transformers Qwen2VLVideoProcessor (Qwen2.5-VL)"),
    "qwen3_vl": VideoRule(vf.plan_qwen3_vl, vf.sample_qwen3_vl, vf.resize_qwen3_vl,
                          "transformers Qwen3VLVideoProcessor, Qwen3VLProcessor",
                          lambda spec, n, s: vtx.qwen3_vl_text(n, s, _temporal(spec))),
    "internvl": VideoRule(vf.plan_internvl, vf.sample_internvl, vf.resize_internvl,
                          "transformers InternVLVideoProcessor, InternVLProcessor",
                          lambda spec, n, s: vtx.internvl_text(n), fixed_size=True),
}
# The rule of a token-scheme kind when the scheme names none (dynamic = Qwen2-VL's patching).
KIND_DEFAULTS: dict[str, str] = {"dynamic": "qwen2_vl"}
# Families transformers gives no video path, with the alternative to name (by scheme kind).
NO_VIDEO_HINT = "give the frames as --images N (each frame one image)"


def _temporal(spec: ModelSpec) -> int:
    return spec.vision.temporal_patch_size if spec.vision else 2


def video_rule(spec: ModelSpec) -> VideoRule:
    """The model's video rule, or one CostmodelError line naming the alternative."""
    if spec.cross_vision is not None:  # Llama-3.2-Vision: MllamaProcessor takes no videos
        raise CostmodelError(f"--video-frames: {spec.name} (cross-attention) has no video "
                             f"input in transformers 5.23; {NO_VIDEO_HINT}")
    if spec.vision is None:
        raise CostmodelError(f"--video-frames: {spec.name} has no vision tower; drop the "
                             "video options")
    ts = spec.token_scheme
    name = ts.video_rule or KIND_DEFAULTS.get(ts.kind)
    if name is None:
        raise CostmodelError(f"--video-frames: {spec.name} ({ts.kind} token scheme) has no "
                             f"video input in transformers 5.23; {NO_VIDEO_HINT}")
    if name not in VIDEO_RULES:
        raise CostmodelError(f"--video-frames: {spec.name} names video rule '{name}', which is "
                             f"not one of {', '.join(sorted(VIDEO_RULES))}")
    return VIDEO_RULES[name]


def sampled_frames(spec: ModelSpec, seconds: float, fps: float) -> int:
    """Frames the model's video processor samples from `seconds` of video at `fps`."""
    return video_rule(spec).sample(spec, seconds, fps)


def plan_video(spec: ModelSpec, frames: int, width: int, height: int) -> VisualPlan:
    """Per-sample plan for one video of `frames` frames of width x height pixels."""
    return video_rule(spec).plan(spec, frames, width, height)


def video_text_rule(spec: ModelSpec) -> str | None:
    """The video text-token rule in words (`models show`), or None when the family adds
    none (or has no video path)."""
    ts = spec.token_scheme
    name = ts.video_rule or KIND_DEFAULTS.get(ts.kind)
    return vtx.TEXT_RULES.get(name or "")


def video_text_tokens(spec: ModelSpec, frames: int, seconds: float | None = None) -> int:
    """Text tokens the processor writes around a video of `frames` frames (sampled from
    `seconds` of clip; None: --video-frames alone), per sample (core/video_text.py)."""
    return video_rule(spec).text(spec, frames, seconds)


def video_text_arrays(spec: ModelSpec, frames: Arr, seconds: Arr | float | None = None) -> Arr:
    """video_text_tokens over arrays of frame counts and clip seconds (None: --video-frames
    alone), each distinct (frames, seconds) once."""
    f = np.asarray(frames, dtype=float).reshape(-1)
    if seconds is None:
        texts, inverse = per_distinct(lambda n: video_text_tokens(spec, int(n)), f)
    else:
        s = np.broadcast_to(np.asarray(seconds, dtype=float).reshape(-1), f.shape)
        texts, inverse = per_distinct(lambda n, t: video_text_tokens(spec, int(n), t), f, s)
    return np.array(texts, dtype=float)[inverse]


def sampled_frame_arrays(spec: ModelSpec, seconds: Arr, fps: Arr) -> Arr:
    """sampled_frames over arrays of clip seconds and fps (a sweep's --seconds / --fps axes),
    each distinct (seconds, fps) once."""
    frames, inverse = per_distinct(lambda s, f: sampled_frames(spec, s, f), seconds, fps)
    return np.array(frames, dtype=float)[inverse]


def plan_video_arrays(spec: ModelSpec, frames: Arr, width: Arr | int,
                      height: Arr | int) -> dict[str, Arr]:
    """plan_video over arrays of frame counts and frame sizes (a sweep's axes): crops,
    seq_per_crop, projector_rows, visual, grid_w (0 = unknown), one entry per point (each
    distinct (frames, W, H) planned once)."""
    f = np.asarray(frames, dtype=float).reshape(-1)
    w, h = (np.broadcast_to(np.asarray(x, dtype=float).reshape(-1), f.shape) for x in (width, height))
    plans, inverse = per_distinct(lambda n, a, b: plan_video(spec, int(n), int(a), int(b)), f, w, h)
    return plan_columns(plans, inverse)


def frame_size_ignored(spec: ModelSpec) -> str | None:
    """Why this model's video plan does not depend on the frame size (LLaVA-OneVision and
    InternVL resize every frame to the encoder's image), or None when it does."""
    rule = video_rule(spec)
    if not rule.fixed_size:
        return None
    w, h = rule.resize(spec, 1, 1, 1)
    return f"every video frame is resized to {w}x{h}"
