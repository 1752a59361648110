"""The prepare step of `costmodel sweep` and `costmodel plot sweep`, shared: the axis options
parsed (--visual-tokens, --images, --image-size, --video-frames, --seconds, --fps, --batch),
resolved by costmodel/analysis/sweep_axes.py, the models and devices loaded, what estimate
refuses refused, and one `sweep_over` call; then the figure both commands draw from that frame
(`draw`), so a plotted point is the row `sweep` prints. One implementation: a rule or message
changed here changes both commands."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from costmodel.analysis.refusals import refuse_unused
from costmodel.cli import captions, feedback
from costmodel.cli import compression_options as co
from costmodel.cli.default_dtype import refuse_default_dtype
from costmodel.cli.options import available_bytes, workload_from_values
from costmodel.cli.parsing import (
    MAX_POINTS,
    id_list,
    parse_grid,
    parse_image_sizes,
    parse_real_grid,
)
from costmodel.cli.plot_cmd import plots, save
from costmodel.errors import CostmodelError
from costmodel.loading.load import load_hardware, load_model
from costmodel.specs.workload import MAX_BATCH, MAX_FPS, MAX_FRAMES, MAX_IMAGES, MAX_SECONDS

if TYPE_CHECKING:
    import pandas as pd

    from costmodel.analysis.sweep_axes import Axes
    from costmodel.specs.hardware import HardwareProfile
    from costmodel.specs.model import ModelSpec
    from costmodel.specs.workload import Workload

# Peak host memory of a sweep command, measured on the 2-core VM (costmodel sweep llava-1.5-7b
# -H a100-80gb --visual-tokens 1:N -f csv): 1.67 GB at 200,000 points, 6.4 GB at 1,000,000, so
# about 6 KB a point (the frame, 4 rows a point, and its text) over ~0.5 GB (the interpreter
# and one chunk's operators: analysis/sweep.CHUNK). An estimate, to refuse what cannot fit.
BYTES_PER_POINT = 6_000.0
BASE_BYTES = 0.5e9


def check_memory(n: int, option: str) -> None:
    """A grid whose table would not fit in the host's memory is refused before any work (a
    1M-point sweep takes ~6.4 GB; MAX_POINTS alone would let one need ~300 GB)."""
    need, have = BASE_BYTES + BYTES_PER_POINT * n, available_bytes()
    if have is not None and need > have:
        raise CostmodelError(f"{option}: {n:,} points would take about {need / 1e9:.1f} GB "
                             f"(~6 KB a point), more than the {have / 1e9:.1f} GB of memory "
                             "available; use a coarser step, or fewer models, devices or "
                             "batches")


# The sweep's axes as the commands name them (analysis/sweep_axes.py writes its messages so).
AXIS_OPTIONS = {"visual_tokens": "--visual-tokens", "images": "--images",
                "image_sizes": "--image-size", "video_frames": "--video-frames",
                "video_seconds": "--seconds", "video_fps": "--fps"}
# The option values (the commands' parameter names) that give the axes.
AXIS_VALUES = ("visual_tokens", "images", "image_size", "video_frames", "video_seconds",
               "video_fps")
# The workload's own visual input: none (the axes give it).
NO_INPUT = dict.fromkeys(AXIS_VALUES)


@dataclass(frozen=True)
class SweepRun:
    """One sweep as the commands ran it: the tidy frame (analysis/sweep.py), the models and
    devices loaded, the resolved axes and the batch option's text (the title quotes it)."""

    frame: pd.DataFrame
    specs: list[ModelSpec]
    hardware: list[HardwareProfile]
    axes: Axes
    batch: str


def run_sweep(values: dict[str, Any]) -> SweepRun:
    """The sweep of a command's option values (its parameters by name: model, hardware, the
    axis texts, batch, the workload, compression and --set options)."""
    from costmodel.analysis.sweep_axes import resolve

    given = _parsed(*(values[k] for k in AXIS_VALUES))
    bat = parse_grid(values["batch"], "--batch", minimum=1, maximum=MAX_BATCH)
    comp = co.compression_from_values(values)
    models, devices = id_list(values["model"], "MODEL"), id_list(values["hardware"], "--hardware")
    # the grid strings are the axes; the Workload's own batch and video are the grid's first
    # (a video compression, tempmerge or dycoke, needs a video)
    w = workload_from_values(values, **{**NO_INPUT, **_first_video(given)},
                             batch=int(bat[0]), compression=comp)
    axes = resolve(w, names=AXIS_OPTIONS, **given)
    n = len(models) * len(devices) * axes.points * len(bat)
    if n > MAX_POINTS:
        raise CostmodelError(f"{AXIS_OPTIONS[axes.kind]}: {n} points exceed {MAX_POINTS}; use "
                             "a coarser step")
    check_memory(n, AXIS_OPTIONS[axes.kind])
    specs = [load_model(m) for m in models]
    _refuse_unused(specs, axes, w, values["images"] is not None)
    hws = [load_hardware(h, tuple(values.get("sets") or ())) for h in devices]
    for hw in hws:
        refuse_default_dtype(hw, w.act_dtype, "sweep")
    from costmodel.analysis.sweep import sweep_over  # pandas only when the command runs

    with feedback.progress(f"sweep: {n:,} points",
                           n) if n > feedback.PROGRESS_POINTS else nullcontext() as tick:
        df = sweep_over(specs, hws, axes, bat, progress=tick)
    return SweepRun(df, specs, hws, axes, values["batch"])


def draw(run: SweepRun, path: Path, option: str) -> None:
    """The sweep figure (costmodel/plots/sweep.py) of the frame, written to `path`."""
    caption = sweep_caption(run.frame, run.hardware, run.axes.workload, run.batch, run.specs)
    capacity = {h.id: h.memory_bytes for h in run.hardware}
    save(plots().sweep_figure(run.frame, capacity, caption), path, option)


def _parsed(visual_tokens: str | None, images: str | None, image_size: str | None,
            video_frames: str | None, video_seconds: str | None,
            video_fps: str | None) -> dict[str, Any]:
    """The axis options parsed (None where not given), each in the grid grammar."""
    def grid(text: str | None, parse: Any) -> Any:
        return None if text is None else parse(text)

    return {"visual_tokens": grid(visual_tokens, lambda t: parse_grid(t, "--visual-tokens")),
            "images": grid(images, lambda t: parse_grid(t, "--images", maximum=MAX_IMAGES)),
            "image_sizes": grid(image_size, parse_image_sizes),
            "video_frames": grid(video_frames, lambda t: parse_grid(
                t, "--video-frames", minimum=1, maximum=MAX_FRAMES)),
            "video_seconds": grid(video_seconds, lambda t: parse_real_grid(
                t, "--seconds", MAX_SECONDS)),
            "video_fps": grid(video_fps, lambda t: parse_real_grid(t, "--fps", MAX_FPS))}


def _first_video(given: dict[str, Any]) -> dict[str, Any]:
    """The first point's video (frames, or seconds at fps), as Workload fields; {} without."""
    if given["video_frames"] is not None:
        return {"video_frames": int(given["video_frames"][0])}
    if given["video_seconds"] is not None and given["video_fps"] is not None:
        return {"video_seconds": float(given["video_seconds"][0]),
                "video_fps": float(given["video_fps"][0])}
    return {}


def _refuse_unused(specs: list[ModelSpec], axes: Axes, w: Workload, images_given: bool) -> None:
    """What estimate refuses (analysis/refusals.refuse_unused), at the axis's largest input:
    visual tokens or images on a text-only model, --images beside --visual-tokens on a token
    scheme that takes the tokens as the total, a visual-token compression on a text-only
    model. (A video on a model with no video path: the prepare step, as estimate.)"""
    most = {k: int(np.max(v)) for k, v in axes.dims if k in ("visual_tokens", "images")}
    for spec in specs:
        if not spec.is_vlm and most.get("visual_tokens", 0) > 0:
            raise CostmodelError(f"--visual-tokens: {spec.name} has no vision tower; sweep it "
                                 "with --visual-tokens 0, or sweep vision models only")
        if axes.kind == "visual_tokens" and images_given:
            refuse_unused(spec, axes.workload.model_copy(
                update={"visual_tokens": most["visual_tokens"]}))
        if axes.kind == "images" and not spec.is_vlm:
            refuse_unused(spec, axes.workload.model_copy(update={"images": most["images"]}))
        if not spec.is_vlm:
            refuse_unused(spec, w)


# A sweep's visual-input columns as its title words them (x axis: 1-8 images of 448x448;
# 2, 4 s at 2 fps -> 4, 8 frames of 448x448, 640x480).
INPUT_WORDS = {"images": "{} images", "video_seconds": "{} s", "video_fps": "at {} fps",
               "video_frames": "-> {} frames", "image_size": "of {}"}


def sweep_caption(df: Any, hws: list[HardwareProfile], w: Any, batch: object,
                  specs: list[Any]) -> str:
    """Title of a sweep figure: models and devices listed, the visual tokens the points give
    and, in brackets, the x axis: the images, sizes, seconds, fps or frames swept (just 'x
    axis' when the visual tokens are), the dtypes as each model prices them
    (captions.priced_dtypes)."""
    devices = ", ".join(captions.device_text(h) for h in hws) if len(hws) <= 2 else (
        captions.listed([h.id for h in hws]))
    visual = captions.listed(df["visual_tokens"].unique().tolist(), most=1)
    inputs = " ".join(words.format(captions.listed(df[c].unique().tolist()))
                      for c, words in INPUT_WORDS.items() if c in df.columns).removeprefix("-> ")
    if inputs.startswith("1 images"):  # one image per request at several sizes
        inputs = "1 image" + inputs.removeprefix("1 images")
    axis = f"x axis: {inputs}" if inputs else "x axis"
    return captions.caption("Sweep", captions.listed(df["model"].unique()), devices,
                            engine=str(df["engine"].iloc[0]),
                            **captions.workload_fields(w, f"{visual} ({axis})", batch,
                                                       dtypes=captions.priced_dtypes(specs, w)))
