"""The one path from a workload to the core: `prepare` turns (model, devices, workload, grid)
into a `costmodel.core.evaluate.Prepared` (points, precision, rates, options, convention), and
every entry point (estimate, sweep, compare, plan, batching, energy, compare-compression,
plot, validate, the Python API) calls it before `costmodel.core.evaluate.evaluate`.

Grid columns (`columns`): 1-D arrays of equal length K for any of GRID_FIELDS (batch,
visual_tokens, images, image_width and image_height (together: image_size), video_frames,
video_seconds, video_fps, text_tokens, output_tokens); each replaces the workload's value
point by point (a sweep passes its flattened grid, validate one column per measured row).
Every column is checked through the Workload rules at its smallest and largest value before
any work. Visual tokens given (a column or the workload's) are planned vectorised
(`plan_token_arrays`); images and videos per distinct (count, size[, seconds, fps]) with the
scalar planners of one request (`plan_image_arrays`, `plan_video_arrays`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import ValidationError

from costmodel import conventions
from costmodel.analysis.arguments import user_level
from costmodel.analysis.weights import resolve_weights
from costmodel.core.compression import kept
from costmodel.core.evaluate import Prepared
from costmodel.core.inputs import Options, Points
from costmodel.core.ops import Arr
from costmodel.core.parallel.pipeline import stage_bounds
from costmodel.core.parallel.tensor import shard_spec
from costmodel.core.roofline import as_column
from costmodel.core.video import (
    plan_video_arrays,
    sampled_frame_arrays,
    sampled_frames,
    video_text_arrays,
    video_text_tokens,
)
from costmodel.core.visual_tokens import plan_image_arrays, plan_token_arrays
from costmodel.errors import ContextWarning, CostmodelError, one_line
from costmodel.loading.load import load_engine
from costmodel.specs.compression import Compression, CompressionPlan
from costmodel.specs.engine import Engine
from costmodel.specs.hardware import HardwareProfile
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import Workload
from costmodel.units import DType

GRID_FIELDS = ("batch", "visual_tokens", "images", "image_width", "image_height", "video_frames",
               "video_seconds", "video_fps", "text_tokens", "output_tokens")
VIDEO_COLUMNS = ("video_frames", "video_seconds", "video_fps")
SIZE_COLUMNS = ("image_width", "image_height")  # the Workload's image_size (W, H), per point
REAL_COLUMNS = ("video_seconds", "video_fps")  # not whole numbers


def math_dtypes(profiles: Sequence[HardwareProfile], dtype: DType | None) -> tuple[DType, ...]:
    """The math dtype per device: `dtype`, or (None = auto) bf16 where supported, else fp16.
    The convention's rates refuse a dtype a device has no peak for (UnsupportedDtype)."""
    return tuple(dtype or (DType.bf16 if h.supports(DType.bf16) else DType.fp16)
                 for h in profiles)


def _check_columns(w: Workload, columns: Mapping[str, Arr]) -> int:
    """Length K of the grid; each column's extremes pass the Workload rules."""
    unknown = set(columns) - set(GRID_FIELDS)
    if unknown:
        raise CostmodelError(f"columns: {sorted(unknown)} cannot vary; use {', '.join(GRID_FIELDS)}")
    if sum(c in columns for c in SIZE_COLUMNS) == 1:
        raise CostmodelError("columns: image_width and image_height go together; give both")
    sizes = {len(np.asarray(c).reshape(-1)) for c in columns.values()}
    if len(sizes) > 1:
        raise CostmodelError("columns: grid columns differ in length; give equal lengths")
    fields = {"image_size" if k in SIZE_COLUMNS else k for k in columns}
    base = w.model_dump(exclude=fields)
    for pick in (np.min, np.max):
        at: dict[str, Any] = {k: float(pick(v)) if k in REAL_COLUMNS else int(pick(v))
              for k, v in columns.items() if k not in SIZE_COLUMNS}
        if "image_size" in fields:
            at["image_size"] = tuple(int(pick(columns[k])) for k in SIZE_COLUMNS)
        try:
            Workload(**base, **at)
        except ValidationError as e:
            raise CostmodelError(one_line(e)) from None
    return sizes.pop() if sizes else 1


def _check_size_used(w: Workload, columns: Mapping[str, Arr]) -> None:
    """An image size with no image to size is refused, not ignored: images 0 at every point
    (the workload's or the grid's), no video and no visual tokens given."""
    sized = w.image_size is not None or SIZE_COLUMNS[0] in columns
    given = w.has_video or w.visual_tokens is not None or any(
        c in columns for c in ("visual_tokens", *VIDEO_COLUMNS))
    if sized and not given and not np.any(np.asarray(columns.get("images", w.images)) > 0):
        raise CostmodelError("image_size: --images 0 sends no image, so the size would go "
                             "unused; drop --image-size, or give --images 1 or more")


def _check_figures(engine: Engine, profiles: Sequence[HardwareProfile]) -> None:
    """An engine YAML's explicit `kernel_figures` must name a figure set one of the devices
    carries (decode_kernel_by_engine / attention_kernel_by_engine), else it is a typo that
    would silently fall back to the pooled figures. Devices with no per-engine sets at all
    take the pooled figures, as documented (specs/engine.py)."""
    name = engine.source_file.kernel_figures
    have = sorted(set().union(*(h.kernel_params_by_engine for h in profiles)))
    if name is not None and have and name not in have:
        raise CostmodelError(f"kernel_figures: engine {engine.id} names the figure set "
                             f"'{name}', which no device here carries (they carry: "
                             f"{', '.join(have)}); name one of those, or leave kernel_figures "
                             "out for the device's pooled figures")


def _check_parallel(spec: ModelSpec, profiles: Sequence[HardwareProfile], w: Workload,
                    batch: Arr) -> None:
    par = w.parallel
    if par.gpus == 1:
        return
    missing = [h.id for h in profiles if h.interconnect_bytes_per_s is None]
    if missing:
        raise CostmodelError(f"interconnect: {', '.join(missing)} has no GPU-to-GPU link "
                             "bandwidth; add interconnect.bandwidth_GBps (--set "
                             "interconnect.bandwidth_GBps=300) or use --tp 1 --pp 1 --ep 1")
    if np.any(np.asarray(batch) % par.m):
        raise CostmodelError(f"parallel.microbatches: {par.m} does not divide every batch; "
                             "choose a divisor of the batch")
    shard_spec(spec, par.tp, par.ep)  # raises when tp does not divide the heads, ep the experts
    stage_bounds(spec.llm.num_layers, par.pp)


def _check_model(spec: ModelSpec, w: Workload, pts: Points) -> None:
    """ToMe's r checked against the patches; a sequence longer than the model's context
    reported (a ContextWarning: the count is still defined, e.g. under RoPE scaling, but the
    model was not trained that long)."""
    _check_merge(spec, w, pts)
    visual = pts.visual
    for c in _stages(w):
        visual = kept(c, visual) if c.where == "projector" else visual
    visual = visual if pts.visual_in_prompt else 0.0 * visual  # cross-attention VLMs: text only
    longest = int(np.max(visual + pts.text + pts.output)) - 1
    limit = spec.llm.max_position_embeddings
    if limit is not None and longest > limit:
        warnings.warn(ContextWarning(
            f"{spec.name}: a sequence of {longest} positions (visual + text + output tokens - "
            f"1) exceeds its max_position_embeddings {limit}; the figures extrapolate past the "
            "trained context", longest), stacklevel=user_level())


def _stages(w: Workload) -> tuple[Compression, ...]:
    """The token-compression stages of a workload (one, several in a plan, or none)."""
    c = w.compression
    if c is None:
        return ()
    return c.stages if isinstance(c, CompressionPlan) else (c,)


def _check_merge(spec: ModelSpec, w: Workload, pts: Points) -> None:
    """ToMe's r must leave patches to merge (a kept count above the tokens is capped, as
    documented in specs/compression.py; `compare-compression` refuses it)."""
    v = spec.vision
    for comp in _stages(w):
        if comp.where != "vit" or comp.merge_per_layer is None or v is None:
            continue
        patches = int(np.max(pts.seq_per_crop)) - int(v.cls_token)
        n = v.executed_layers
        if patches > 0 and comp.merge_per_layer * n >= patches:
            raise CostmodelError(f"merge_per_layer: {comp.merge_per_layer} per layer x {n} ViT "
                                 f"layers merges away all {patches} patches; give at most "
                                 f"{max((patches - 1) // n, 0)}")


def image_size(spec: ModelSpec, w: Workload) -> tuple[int, int]:
    """(W, H) of each image (or video frame): the workload's, else the model's default (the
    token scheme's, else one encoder input: the ViT's image or Llama-3.2-Vision's tile)."""
    v = spec.vision or spec.cross_vision
    return w.image_size or spec.token_scheme.default_image_size or (
        (v.image_size, v.image_size) if v else (0, 0))


def video_frames(spec: ModelSpec, w: Workload) -> int:
    """Frames of the workload's video: video_frames, or what the model's video processor
    samples from video_seconds at video_fps (costmodel/core/video.py); 0 = no video."""
    if w.video_frames is not None:
        return w.video_frames
    if w.video_seconds is None or w.video_fps is None:
        return 0
    return sampled_frames(spec, w.video_seconds, w.video_fps)


def video_text(spec: ModelSpec, w: Workload) -> int:
    """Text tokens the model's processor writes around the workload's video (timestamps,
    frame labels: core/video_text.py), per sample; 0 without a video or --visual-tokens."""
    if not w.has_video or w.visual_tokens is not None:
        return 0
    return video_text_tokens(spec, video_frames(spec, w), w.video_seconds)


def points(spec: ModelSpec, w: Workload, columns: Mapping[str, Arr], k: int) -> Points:
    """Per-sample counts as rows [1, K]: the workload's values, or the grid columns."""
    def col(name: str, default: float) -> Arr:
        return np.broadcast_to(np.asarray(columns.get(name, default), dtype=float), (k,))

    text = col("text_tokens", w.text_tokens)
    if "visual_tokens" in columns or w.visual_tokens is not None:
        plan = plan_token_arrays(spec, col("visual_tokens", w.visual_tokens or 0), w.images)
    elif w.has_video or any(c in columns for c in VIDEO_COLUMNS):
        frames, seconds = frame_column(spec, w, columns, k)
        plan = plan_video_arrays(spec, frames, *_size_columns(spec, w, columns, k))
        text = text + np.broadcast_to(video_text_arrays(spec, frames, seconds), (k,))
    else:
        plan = plan_image_arrays(spec, col("images", w.images), *_size_columns(spec, w, columns, k))
    grid_w = plan.get("grid_w")
    return Points(batch=col("batch", w.batch)[None], crops=plan["crops"][None],
                  seq_per_crop=plan["seq_per_crop"][None],
                  projector_rows=plan["projector_rows"][None], visual=plan["visual"][None],
                  text=text[None],
                  output=col("output_tokens", w.output_tokens)[None],
                  visual_in_prompt=spec.cross_vision is None,
                  grid_w=None if grid_w is None else grid_w[None])


def _size_columns(spec: ModelSpec, w: Workload, columns: Mapping[str, Arr], k: int,
                  ) -> tuple[Arr, Arr]:
    """Each point's image (or frame) width and height: the grid's, else the workload's (or
    the model's default) size."""
    if "image_width" in columns:
        width, height = (np.asarray(columns[c], dtype=float) for c in SIZE_COLUMNS)
        return np.broadcast_to(width, (k,)), np.broadcast_to(height, (k,))
    size = image_size(spec, w)
    return np.full(k, float(size[0])), np.full(k, float(size[1]))


def frame_column(spec: ModelSpec, w: Workload, columns: Mapping[str, Arr], k: int,
                 ) -> tuple[Arr, Arr | None]:
    """Each point's video frames [K] and clip seconds ([K], or None for frames given
    directly): the video_frames column, the frames the model's processor samples from the
    video_seconds / video_fps columns (each distinct pair once), else the workload's video."""
    if "video_frames" in columns:
        return np.broadcast_to(np.asarray(columns["video_frames"], dtype=float), (k,)), None
    if "video_seconds" not in columns and "video_fps" not in columns:
        seconds = None if w.video_seconds is None else np.full(k, w.video_seconds)
        return np.full(k, float(video_frames(spec, w))), seconds
    s, f = (np.broadcast_to(np.asarray(columns.get(c, getattr(w, c)), dtype=float), (k,))
            for c in ("video_seconds", "video_fps"))
    return sampled_frame_arrays(spec, s, f), s


def workload_engine(w: Workload) -> Engine:
    """The engine a workload is priced on: its own, else its convention's default."""
    return load_engine(w.engine or conventions.get(w.convention).default_engine)


def prepare(spec: ModelSpec, profiles: Sequence[HardwareProfile], w: Workload,
            columns: Mapping[str, Arr] | None = None, auto_dtype: bool = False,
            compute_scale: Arr | float = 1.0, bandwidth_scale: Arr | float = 1.0) -> Prepared:
    """The workload on `profiles` (rates [D, 1]) over the grid `columns` (points [1, K]).

    auto_dtype: math in bf16 where a device has it, else fp16 (the device comparisons);
    otherwise in w.act_dtype everywhere. The workload's weights are first resolved against a
    quantised checkpoint, or the engine's quantised parts (analysis/weights.py);
    Prepared.workload is the resolved workload, the one to label the result with.
    compute_scale / bandwidth_scale multiply the rates (what-if solving in analysis/plan.py);
    arrays broadcast against [D, K]."""
    columns = {k: np.asarray(v).reshape(-1) for k, v in (columns or {}).items()}
    conv = conventions.get(w.convention)
    engine = workload_engine(w)
    w = resolve_weights(spec, w, engine)
    conv.check(w, engine)
    _check_figures(engine, profiles)
    k = _check_columns(w, columns)
    _check_size_used(w, columns)
    pts = points(spec, w, columns, k)
    _check_model(spec, w, pts)
    _check_parallel(spec, profiles, w, pts.batch)
    dtypes = math_dtypes(profiles, None if auto_dtype else w.act_dtype)
    scale = {"compute": compute_scale, "bandwidth": bandwidth_scale}
    rates = as_column(conv.rates(profiles, dtypes, w, engine)).scaled(**scale)
    bound = as_column(conv.bound_rates(profiles, dtypes, w)).scaled(**scale)
    cap = np.array([h.memory_bytes for h in profiles], dtype=float)[:, None]
    flash = w.flash_attention
    if flash is None:
        flash = engine.flash_attention if conv.default_flash is None else conv.default_flash
    opts = Options(flash=flash, overlap=w.overlap, all_logits=w.logits == "all",
                   compression=w.compression, parallel=w.parallel)
    return Prepared(pts, conv.precision(w, engine), rates, bound, cap, opts, conv, engine, w,
                    dtypes)
