"""Sweeps: every (model x hardware x visual tokens x batch) point in one vectorised evaluation
per model -> one tidy DataFrame (a row per point x stage, base units in the column names).

The grid is flattened hardware-major (hardware, then visual tokens, then batch); each field of
`Points`, `Rates` and the capacity is an array with one entry per point, and
`costmodel.core.evaluate.evaluate` runs once per model, prepared by
`costmodel.analysis.prepare` like every other entry point, so a sweep row equals `estimate()`
at that point (tested).
"""

from __future__ import annotations

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
    workload_arg,
)
from costmodel.analysis.prepare import prepare
from costmodel.core.evaluate import STAGES, Evaluation, evaluate
from costmodel.core.ops import Arr
from costmodel.errors import CostmodelError
from costmodel.specs.hardware import HardwareProfile
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import Workload

STAGE_COLUMNS = ("flops", "useful_flops", "bytes", "weight_bytes", "act_bytes", "kv_bytes",
                 "latency_s", "bound_latency_s")
POINT_COLUMNS = ("ttft_s", "tpot_s", "e2e_latency_s", "tokens_per_s", "bound_ttft_s",
                 "bound_tpot_s", "bound_e2e_latency_s", "kv_cache_bytes", "weights_bytes",
                 "activation_bytes", "total_memory_bytes", "fits")


def evaluate_grid(spec: ModelSpec, profiles: Sequence[HardwareProfile], visual: Arr,
                  batch: Arr, w: Workload, axis: str = "visual_tokens",
                  ) -> tuple[Evaluation, dict[str, Arr], str]:
    """One evaluation of one model over the grid: the flattened (visual tokens x batch) grid
    is a row [1, T*B] of points, the devices a column [H, 1]; results [H, T*B], flattened
    hardware-major. Returns it, the grid columns and the engine id. axis 'video_frames':
    `visual` holds frame counts (the grid has their visual tokens and a video_frames column)."""
    tok, bat = (x.reshape(-1).astype(float) for x in np.meshgrid(
        np.asarray(visual), np.asarray(batch), indexing="ij"))
    prep = prepare(spec, profiles, w, columns={axis: tok, "batch": bat})
    ev = evaluate(spec, prep)
    return ev, _grid(prep.points.visual, tok, bat, len(profiles), axis), prep.engine.id


def _grid(visual: Arr, axis_values: Arr, bat: Arr, n_hw: int, axis: str,
          first: int = 0) -> dict[str, Arr]:
    """Grid columns of n_hw devices (indices from `first`) over the flattened points."""
    vis = np.broadcast_to(np.asarray(visual, dtype=float).reshape(-1), bat.shape)
    grid = {"hw_idx": np.repeat(np.arange(first, first + n_hw), bat.size),
            "visual_tokens": np.tile(vis, n_hw), "batch": np.tile(bat, n_hw)}
    if axis == "video_frames":
        grid["video_frames"] = np.tile(axis_values, n_hw)
    return grid


def _flat(x: Arr, shape: tuple[int, int]) -> Arr:
    """A result broadcast to [H, T*B] and flattened hardware-major."""
    return np.broadcast_to(np.asarray(x), shape).reshape(-1)


FLOAT_COLUMNS = STAGE_COLUMNS + POINT_COLUMNS[:-1]  # every numeric column but `fits`


def _columns(ev: Evaluation, grid: dict[str, Arr], n_hw: int, model_idx: int) -> dict[str, Arr]:
    """One model's rows (point x stage, stage fastest) as plain arrays; the float columns
    fill one 2-D block so the frame is built without copying column by column."""
    n, k = len(grid["batch"]), len(STAGES)
    shape = (n_hw, n // n_hw)
    per_point = {"ttft_s": ev.ttft_s, "tpot_s": ev.tpot_s, "e2e_latency_s": ev.e2e_latency_s,
                 "tokens_per_s": ev.tokens_per_s, "bound_ttft_s": ev.bound.ttft_s,
                 "bound_tpot_s": ev.bound.tpot_s, "bound_e2e_latency_s": ev.bound.e2e_latency_s,
                 "kv_cache_bytes": ev.kv_cache_bytes,
                 "weights_bytes": ev.weights_bytes, "activation_bytes": ev.activation_bytes,
                 "total_memory_bytes": ev.total_bytes}
    block = np.empty((len(FLOAT_COLUMNS), n, k))
    for i, c in enumerate(STAGE_COLUMNS):
        for j, s in enumerate(STAGES):
            src = ev.bound.stage_latency_s[s] if c == "bound_latency_s" else getattr(ev.stages[s], c)
            block[i, :, j] = _flat(src, shape)
    for i, c in enumerate(POINT_COLUMNS[:-1], start=len(STAGE_COLUMNS)):
        block[i] = _flat(per_point[c], shape)[:, None]
    extra = {"video_frames": np.repeat(grid["video_frames"].astype(int), k)} if (
        "video_frames" in grid) else {}
    return {**extra, "model": np.full(n * k, model_idx), "hardware": np.repeat(grid["hw_idx"], k),
            "batch": np.repeat(grid["batch"].astype(int), k),
            "visual_tokens": np.repeat(grid["visual_tokens"].astype(int), k),
            "stage": np.tile(np.arange(k), n), "fits": np.repeat(_flat(ev.fits, shape), k),
            "block": block.reshape(len(FLOAT_COLUMNS), n * k)}


def _frame(parts: list[dict[str, Arr]], names: list[str], hw_names: list[str],
           w: Workload, engine: str) -> pd.DataFrame:
    """The tidy frame from per-model column arrays."""
    def cat(key: str) -> Arr:
        return np.concatenate([p[key] for p in parts]) if len(parts) > 1 else parts[0][key]

    block = np.concatenate([p["block"] for p in parts], axis=1) if len(parts) > 1 else (
        parts[0]["block"])
    rows = block.shape[1]
    label = w.compression.label if w.compression else "none"
    head = pd.DataFrame({
        "model": pd.Categorical.from_codes(cat("model"), pd.Index(names)),
        "hardware": pd.Categorical.from_codes(cat("hardware"), pd.Index(hw_names)),
        "batch": cat("batch"), "visual_tokens": cat("visual_tokens"),
        **({"video_frames": cat("video_frames")} if "video_frames" in parts[0] else {}),
        "text_tokens": np.full(rows, w.text_tokens),
        "output_tokens": np.full(rows, w.output_tokens),
        "compression": pd.Categorical.from_codes(np.zeros(rows, dtype=int), pd.Index([label])),
        "engine": pd.Categorical.from_codes(np.zeros(rows, dtype=int), pd.Index([engine])),
        "stage": pd.Categorical.from_codes(cat("stage"), pd.Index(list(STAGES))),
    })
    nums = pd.DataFrame(block.T, columns=list(FLOAT_COLUMNS), copy=False)
    nums["fits"] = cat("fits")
    return pd.concat([head, nums], axis=1)


CHUNK = 200_000  # points per evaluation when a sweep reports progress


def _chunked(parts: list[dict[str, Arr]], spec: ModelSpec, hardware: Sequence[HardwareProfile],
             grid_w: tuple[Arr, Arr, Workload], model_idx: int,
             report: tuple[Callable[[int, int], None], int]) -> str:
    """Append one model's rows to `parts`, one device and CHUNK grid points at a time
    (hardware-major, points in grid order: the rows `evaluate_grid` gives in one go)."""
    vis, bat, w = grid_w
    axis = "video_frames" if w.video_frames is not None else "visual_tokens"
    progress, n_models = report
    tok, bb = (x.reshape(-1).astype(float) for x in np.meshgrid(vis, bat, indexing="ij"))
    total = n_models * len(hardware) * tok.size
    done, engine = model_idx * len(hardware) * tok.size, ""
    for d, h in enumerate(hardware):
        for lo in range(0, tok.size, CHUNK):
            t, b = tok[lo:lo + CHUNK], bb[lo:lo + CHUNK]
            prep = prepare(spec, [h], w, columns={axis: t, "batch": b})
            grid = _grid(prep.points.visual, t, b, 1, axis, first=d)
            parts.append(_columns(evaluate(spec, prep), grid, 1, model_idx))
            engine, done = prep.engine.id, done + t.size
            progress(done, total)
    return engine


def _token_axis(visual_tokens: Sequence[int] | Arr | None, video_frames: Sequence[int] | Arr | None,
                w: Workload) -> tuple[str, Arr, Workload]:
    """The sweep's token axis (name, values) and its workload (a video axis sets the
    workload's video to the first count, so every check sees a video)."""
    if (visual_tokens is None) == (video_frames is None):
        raise CostmodelError("visual_tokens: a sweep's token axis is visual tokens or video "
                             "frames; give one of --visual-tokens and --video-frames")
    if video_frames is None:
        if w.image_size is not None:
            raise CostmodelError("image_size: a sweep varies the visual tokens; drop image_size "
                                 "(or estimate that image size on its own)")
        return "visual_tokens", grid_values("visual_tokens", visual_tokens), w
    if w.video_fps is not None:
        raise CostmodelError("video_fps: a sweep over video frames gives the frames; drop "
                             "--fps and --seconds")
    frames = grid_values("video_frames", video_frames)
    return "video_frames", frames, w.model_copy(update={"video_frames": int(frames[0])})


def sweep(specs: ModelArg | Sequence[ModelArg], hardware: HardwareArg | Sequence[HardwareArg],
          visual_tokens: Sequence[int] | Arr | None, batch: Sequence[int] | Arr = (1,),
          workload: Workload | None = None, progress: Callable[[int, int], None] | None = None,
          video_frames: Sequence[int] | Arr | None = None, **fields: Any) -> pd.DataFrame:
    """The tidy table over models x hardware x visual tokens x batch.

    `specs` and `hardware`: one or a list each of specs, ids or file paths (as `estimate`).
    `workload` (and keyword fields such as text_tokens=64, output_tokens=128, act_dtype='bf16',
    compression=Compression(...), which replace those fields of `workload`) fixes everything
    but the swept axes; its own batch and visual_tokens are ignored. video_frames (instead of
    visual_tokens, which is then None): the token axis is one video of each frame count per
    sample (the workload's image_size per frame), with a video_frames column beside the
    visual tokens. A Python loop runs over models only, unless `progress` is given: then each
    model is evaluated per device in chunks of CHUNK points (the same rows in the same order)
    and `progress(points done, points)` is called after each chunk.
    """
    model_list = [model_arg(m) for m in nonempty("model", listed(specs))]
    profiles = [hardware_arg(h) for h in nonempty("hardware", listed(hardware))]
    bat = grid_values("batch", batch)
    axis, vis, w = _token_axis(visual_tokens, video_frames, workload_arg(workload, fields))
    names, hw_ids = list(dict.fromkeys(m.name for m in model_list)), [h.id for h in profiles]
    if len(names) != len(model_list):
        raise CostmodelError("model: the same model name appears twice; give each once")
    twice = sorted({h for h in hw_ids if hw_ids.count(h) > 1})
    if twice:
        raise CostmodelError(f"hardware: {twice[0]} appears twice in --hardware; give each device once")
    parts, engine = [], ""
    for i, spec in enumerate(model_list):
        if progress is None:
            ev, grid, engine = evaluate_grid(spec, profiles, vis, bat, w, axis)
            parts.append(_columns(ev, grid, len(profiles), i))
        else:
            engine = _chunked(parts, spec, profiles, (vis, bat, w), i, (progress, len(model_list)))
    return _frame(parts, names, hw_ids, w, engine)
