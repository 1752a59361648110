"""Sweeps: every (model x hardware x visual input x batch) point in one vectorised evaluation
per model -> one tidy DataFrame (a row per point x stage, base units in the column names).

The visual input is one axis of visual tokens, images (and image sizes), video frames or video
seconds (and fps): costmodel/analysis/sweep_axes.py. The grid is flattened hardware-major
(hardware, then the axes, then batch); each field of
`Points`, `Rates` and the capacity is an array with one entry per point, and
`costmodel.core.evaluate.evaluate` runs once per model, prepared by
`costmodel.analysis.prepare` like every other entry point, so a sweep row equals `estimate()`
at that point (tested).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from costmodel.analysis.arguments import (
    HardwareArg,
    ModelArg,
    grid_values,
    hardware_arg,
    listed,
    model_arg,
    nonempty,
    once,
    user_level,
    workload_arg,
)
from costmodel.analysis.pages import small_pages
from costmodel.analysis.prepare import image_size, prepare
from costmodel.analysis.sweep_axes import DISPLAY, Axes, resolve
from costmodel.core.compression.points import capped_at
from costmodel.core.evaluate import STAGES, Evaluation, evaluate
from costmodel.core.inputs import Points
from costmodel.core.ops import Arr
from costmodel.core.video import sampled_frame_arrays
from costmodel.errors import ContextWarning, CostmodelError
from costmodel.specs.compression import AnyCompression
from costmodel.specs.hardware import HardwareProfile
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import Workload

STAGE_COLUMNS = ("flops", "useful_flops", "bytes", "weight_bytes", "act_bytes", "kv_bytes",
                 "latency_s", "bound_latency_s")
POINT_COLUMNS = ("ttft_s", "tpot_s", "e2e_latency_s", "tokens_per_s", "bound_ttft_s",
                 "bound_tpot_s", "bound_e2e_latency_s", "kv_cache_bytes", "weights_bytes",
                 "activation_bytes", "total_memory_bytes", "per_gpu_total_memory_bytes", "fits")


def evaluate_grid(spec: ModelSpec, profiles: Sequence[HardwareProfile], visual: Arr,
                  batch: Arr, w: Workload, axis: str = "visual_tokens",
                  ) -> tuple[Evaluation, dict[str, Arr], str]:
    """One evaluation of one model over a one-axis grid (visual tokens, or video frames with
    axis='video_frames'); see evaluate_axes."""
    axes = Axes(axis, ((axis, np.asarray(visual, dtype=float).reshape(-1)),), w)
    return evaluate_axes(spec, profiles, axes, np.asarray(batch, dtype=float).reshape(-1))


def evaluate_axes(spec: ModelSpec, profiles: Sequence[HardwareProfile], axes: Axes,
                  batch: Arr) -> tuple[Evaluation, dict[str, Arr], str]:
    """One evaluation of one model over the grid: the flattened (axes x batch) grid is a row
    [1, P*B] of points, the devices a column [H, 1]; results [H, P*B], flattened
    hardware-major. Returns it, the grid columns and the engine id."""
    return _evaluate_part(spec, profiles, axes, axes.columns(batch))


def _evaluate_part(spec: ModelSpec, profiles: Sequence[HardwareProfile], axes: Axes,
                   cols: dict[str, Arr], first: int = 0) -> tuple[Evaluation, dict[str, Arr], str]:
    """One evaluation of the devices (indices from `first`) over the grid columns `cols`:
    it, its grid columns (_grid) and the engine id."""
    prep = prepare(spec, profiles, axes.workload, columns=cols)
    return evaluate(spec, prep), _grid(spec, axes, prep.points, cols, len(profiles), first), (
        prep.engine.id)


def _grid(spec: ModelSpec, axes: Axes, pts: Points, cols: dict[str, Arr], n_hw: int,
          first: int = 0) -> dict[str, Arr]:
    """Grid columns of n_hw devices (indices from `first`) over the flattened points: the
    visual tokens each point gives, the tokens a count of the compression is capped at there
    (core/compression/points.capped_at; NaN where none is) and the columns naming its visual
    input (DISPLAY)."""
    bat = cols["batch"]

    def flat(x: Arr) -> Arr:
        return np.tile(np.broadcast_to(np.asarray(x, dtype=float).reshape(-1), bat.shape), n_hw)

    grid = {"hw_idx": np.repeat(np.arange(first, first + n_hw), bat.size),
            "visual_tokens": flat(pts.visual), "batch": np.tile(bat, n_hw),
            "capped_at": flat(capped_at(spec, pts, axes.workload.compression))}
    for name, values in _display(spec, axes, cols).items():
        grid[name] = np.tile(values, n_hw)
    return grid


def _display(spec: ModelSpec, axes: Axes, cols: dict[str, Arr]) -> dict[str, Arr]:
    """Per point: the images, image size ('WxH'), video seconds, fps and frames that set its
    visual tokens (only the axis's own; the frames of a (seconds, fps) point sampled as the
    prepare step samples them)."""
    if axes.kind == "visual_tokens":
        return {}
    out: dict[str, Arr] = {k: cols[k] for k in ("images", "video_seconds", "video_fps", "video_frames")
           if k in cols}
    if "video_seconds" in cols:
        out["video_frames"] = sampled_frame_arrays(spec, cols["video_seconds"], cols["video_fps"])
    if axes.shows_size:
        if "image_width" in cols:
            wh = np.stack([cols["image_width"], cols["image_height"]], axis=1)
        else:
            wh = np.broadcast_to(np.asarray(image_size(spec, axes.workload), dtype=float),
                                 (cols["batch"].size, 2))
        pairs, inverse = np.unique(wh, axis=0, return_inverse=True)
        labels = np.array([f"{int(a)}x{int(b)}" if a else "none" for a, b in pairs],
                          dtype=object)  # none: a text-only model has no image size
        out["image_size"] = labels[np.asarray(inverse).reshape(-1)]
    return out


def _flat(x: Arr, shape: tuple[int, int]) -> Arr:
    """A result broadcast to [H, T*B] and flattened hardware-major."""
    return np.broadcast_to(np.asarray(x), shape).reshape(-1)


FLOAT_COLUMNS = STAGE_COLUMNS + POINT_COLUMNS[:-1]  # every numeric column but `fits`


def _columns(ev: Evaluation, grid: dict[str, Arr], n_hw: int, model_idx: int,
             out: Arr) -> dict[str, Arr]:
    """One model's rows (point x stage, stage fastest) as plain arrays; the float columns
    fill `out`, their part ([FLOAT_COLUMNS, rows]) of the sweep's one 2-D block, so the frame
    is built without copying column by column or block by block."""
    n, k = len(grid["batch"]), len(STAGES)
    shape = (n_hw, n // n_hw)
    per_point = {"ttft_s": ev.ttft_s, "tpot_s": ev.tpot_s, "e2e_latency_s": ev.e2e_latency_s,
                 "tokens_per_s": ev.tokens_per_s, "bound_ttft_s": ev.bound.ttft_s,
                 "bound_tpot_s": ev.bound.tpot_s, "bound_e2e_latency_s": ev.bound.e2e_latency_s,
                 "kv_cache_bytes": ev.kv_cache_bytes,
                 "weights_bytes": ev.weights_bytes, "activation_bytes": ev.activation_bytes,
                 "total_memory_bytes": ev.total_memory_bytes,
                 "per_gpu_total_memory_bytes": ev.per_gpu_total_memory_bytes}
    block = out.reshape(len(FLOAT_COLUMNS), n, k)  # a view: `out` is contiguous per column
    for i, c in enumerate(STAGE_COLUMNS):
        for j, s in enumerate(STAGES):
            src = ev.bound.stage_latency_s[s] if c == "bound_latency_s" else getattr(ev.stages[s], c)
            block[i, :, j] = _flat(src, shape)
    for i, c in enumerate(POINT_COLUMNS[:-1], start=len(STAGE_COLUMNS)):
        block[i] = _flat(per_point[c], shape)[:, None]
    whole = ("images", "video_frames")  # counts: int columns; seconds, fps: float; size: text
    extra = {c: np.repeat(grid[c].astype(int) if c in whole else grid[c], k)
             for c in DISPLAY if c in grid}
    return {**extra, "model": np.full(n * k, model_idx), "hardware": np.repeat(grid["hw_idx"], k),
            "batch": np.repeat(grid["batch"].astype(int), k),
            "visual_tokens": np.repeat(grid["visual_tokens"].astype(int), k),
            "capped_at": np.repeat(grid["capped_at"], k),
            "stage": np.tile(np.arange(k), n), "fits": np.repeat(_flat(ev.fits, shape), k)}


def _frame(parts: list[dict[str, Arr]], block: Arr, names: list[str], hw_names: list[str],
           w: Workload, engine: str) -> pd.DataFrame:
    """The tidy frame from per-model column arrays and the float block ([FLOAT_COLUMNS,
    rows], filled by _columns)."""
    def cat(key: str) -> Arr:
        return np.concatenate([p[key] for p in parts]) if len(parts) > 1 else parts[0][key]

    rows = block.shape[1]
    head = pd.DataFrame({
        "model": pd.Categorical.from_codes(cat("model"), pd.Index(names)),
        "hardware": pd.Categorical.from_codes(cat("hardware"), pd.Index(hw_names)),
        "batch": cat("batch"), "visual_tokens": cat("visual_tokens"),
        **{c: pd.Categorical(cat(c)) if c == "image_size" else cat(c)
           for c in DISPLAY if c in parts[0]},
        "text_tokens": np.full(rows, w.text_tokens),
        "output_tokens": np.full(rows, w.output_tokens),
        "compression": compression_column(w.compression, cat("capped_at")),
        "engine": pd.Categorical.from_codes(np.zeros(rows, dtype=int), pd.Index([engine])),
        "stage": pd.Categorical.from_codes(cat("stage"), pd.Index(list(STAGES))),
    })
    nums = pd.DataFrame(block.T, columns=list(FLOAT_COLUMNS), copy=False)
    nums["fits"] = cat("fits")
    return pd.concat([head, nums], axis=1)


def compression_column(comp: AnyCompression | None, cap: Arr) -> pd.Categorical:
    """Each row's compression label: the compression's, with ' (capped at N)' where a count
    it keeps is above the N visual tokens entering its stage, which are then all kept (`cap`,
    per row: core/compression/points.capped_at, NaN where none is): a stage's keep_tokens,
    or a schedule's count above the visual tokens reaching the LLM (after the stages before
    it, a video method's merge included). `estimate` refuses the same counts
    (analysis/compression_options.check_kept_count, by the same rule)."""
    label = comp.label if comp else "none"
    cap = np.asarray(cap, dtype=float)
    below = np.unique(cap[np.isfinite(cap)]).astype(int)
    codes = np.where(np.isfinite(cap), 1 + np.searchsorted(below, np.nan_to_num(cap)), 0)
    names = [label, *(f"{label} (capped at {n})" for n in below)]
    return pd.Categorical.from_codes(codes, pd.Index(names))


CHUNK = 50_000  # (device, point) cells per evaluation: ~25 KB of operators a cell (1M points
# in one go passed 23 GB and were killed). The 12.9 s that 60,000 points of llava-1.5-7b on
# one device took in one go (1.4 s as 50,000 + 10,000) were huge-page compaction, 2.4 s under
# small_pages; larger chunks still fault more memory in (120,000 points: 2.9 GB peak in one
# go, 1.6 GB in chunks) and the bench grid gains ~10% user time at 100,000 cells for 0.4 GB
# more peak: benchmarks/RESULTS.md, 2026-12-04 21:45


def _chunked(out: tuple[list[dict[str, Arr]], Arr], spec: ModelSpec,
             hardware: Sequence[HardwareProfile], grid_axes: tuple[Axes, Arr], model_idx: int,
             report: tuple[Callable[[int, int], None] | None, int]) -> str:
    """Append one model's rows to `parts` and fill its columns of `block` (out = (parts,
    block)) in evaluations of at most CHUNK cells: devices together while their points fit,
    else one device and CHUNK points at a time (hardware-major, points in grid order: the
    rows one evaluation of every device gives)."""
    axes, bat = grid_axes
    progress, n_models = report
    parts, block = out
    cols = axes.columns(bat)
    size = cols["batch"].size
    row = model_idx * len(hardware) * size * len(STAGES)  # the model's first row of `block`
    per = max(1, CHUNK // size)  # devices per evaluation
    total = n_models * len(hardware) * size
    done, engine = model_idx * len(hardware) * size, ""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", ContextWarning)
        for d in range(0, len(hardware), per):
            group = list(hardware[d:d + per])
            for lo in range(0, size, CHUNK):
                part = {k: v[lo:lo + CHUNK] for k, v in cols.items()}
                ev, grid, engine = _evaluate_part(spec, group, axes, part, first=d)
                rows = len(group) * part["batch"].size * len(STAGES)
                parts.append(_columns(ev, grid, len(group), model_idx,
                                      block[:, row:row + rows]))
                row += rows
                done += len(group) * part["batch"].size
                if progress is not None:
                    progress(done, total)
    _warn_once(seen)
    return engine


def _warn_once(seen: list[warnings.WarningMessage]) -> None:
    """The chunks' warnings again, each once, and of the context warnings (one a chunk, each
    with its chunk's longest sequence) only the longest: one line, as the sweep in one go."""
    context = [w.message for w in seen if isinstance(w.message, ContextWarning)]
    if context:
        warnings.warn(max(context, key=lambda m: m.positions), stacklevel=user_level())
    for text in dict.fromkeys(str(w.message) for w in seen
                              if not isinstance(w.message, ContextWarning)):
        other = next(w for w in seen if str(w.message) == text)
        warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)


def sweep(specs: ModelArg | Sequence[ModelArg], hardware: HardwareArg | Sequence[HardwareArg],
          visual_tokens: Sequence[int] | Arr | None = None, batch: Sequence[int] | Arr | None = None,
          workload: Workload | None = None, progress: Callable[[int, int], None] | None = None,
          video_frames: Sequence[int] | Arr | None = None, images: Sequence[int] | Arr | None = None,
          image_sizes: Sequence[Any] | None = None, video_seconds: Sequence[float] | Arr | None = None,
          video_fps: float | Sequence[float] | Arr | None = None, **fields: Any) -> pd.DataFrame:
    """The tidy table over models x hardware x (visual input) x batch.

    `specs` and `hardware`: one or a list each of specs, ids or file paths (as `estimate`).
    `workload` (and keyword fields such as text_tokens=64, output_tokens=128, act_dtype='bf16',
    compression=Compression(...), which replace those fields of `workload`) fixes everything
    but the swept axes; its own visual input is replaced by the axis, its batch by `batch`
    where given (else the workload's batch, 1 by default, is the one batch). The axis (one):
    visual_tokens; or images=[1, 2, 4] per request (at image_size, else the model's size),
    image_sizes=[(448, 448), (896, 896)] beside them (or alone, at the workload's images);
    or a video per sample: video_frames=[8, 16] (frames of image_size), or
    video_seconds=[4, 8, 16] at video_fps (one or several), the frames the model's video
    processor samples. Beside visual_tokens, images=N is the count the tokens are spread
    over (dynamic-resolution models). The frame has a column per swept input (images,
    image_size 'WxH', video_seconds, video_fps, video_frames) beside the visual tokens each
    point gives (costmodel/analysis/sweep_axes.py). A Python loop runs over models and
    chunks of at most CHUNK (device, point) cells: every device at once while the grid
    fits, else groups of devices or one device and CHUNK points at a time (the same rows in
    the same order); `progress(points done, points)` is called after each chunk.
    """
    model_list = [model_arg(m) for m in nonempty("model", listed(specs))]
    profiles = [hardware_arg(h) for h in nonempty("hardware", listed(hardware))]
    w = workload_arg(workload, fields)
    bat = grid_values("batch", w.batch if batch is None else batch)
    axes = resolve(w, visual_tokens=visual_tokens, images=images,
                   image_sizes=image_sizes, video_frames=video_frames,
                   video_seconds=video_seconds, video_fps=video_fps)
    return sweep_over(model_list, profiles, axes, bat, progress)


def sweep_over(model_list: list[ModelSpec], profiles: list[HardwareProfile], axes: Axes,
               bat: Arr, progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """`sweep` over resolved axes (sweep_axes.resolve; the CLI resolves its options so)."""
    names, hw_ids = list(dict.fromkeys(m.name for m in model_list)), [h.id for h in profiles]
    if len(names) != len(model_list):
        raise CostmodelError("model: the same model name appears twice; give each once")
    once("hardware", hw_ids, "device")
    for spec in model_list:
        axes.check(spec)
    parts: list[dict[str, Arr]] = []
    engine, size = "", axes.columns(bat)["batch"].size
    with small_pages():  # no huge-page advice for the temporaries (analysis/pages.py)
        block = np.empty((len(FLOAT_COLUMNS), len(model_list) * len(profiles) * size * len(STAGES)))
        for i, spec in enumerate(model_list):
            engine = _chunked((parts, block), spec, profiles, (axes, bat), i,
                              (progress, len(model_list)))
        return _frame(parts, block, names, hw_ids, axes.workload, engine)
