"""`costmodel sweep`: models x hardware x visual input x batch in one tidy table. The visual
input is one axis: --visual-tokens, --images (and/or --image-size, several sizes an axis
beside it), --video-frames, or --seconds at --fps (several fps an axis beside it);
costmodel/analysis/sweep_axes.py resolves them and refuses the rest in one line. The prepare
step (options -> axes -> frame) and the figure are costmodel/cli/sweep_run.py's, shared with
`costmodel plot sweep`."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from costmodel.analysis.host_cpu import devices_host_note
from costmodel.analysis.prepare import workload_engine
from costmodel.cli import compression_options as co
from costmodel.cli import feedback
from costmodel.cli.fleet_common import changed_lines, device_fields, gpus_note
from costmodel.cli.options import (
    CONVENTION,
    DTYPE,
    ENGINE,
    EP,
    FLASH,
    FORMAT,
    KV_DTYPE,
    LOGITS,
    MICROBATCHES,
    OUTPUT_TOKENS,
    OVERLAP,
    PP,
    QUIET,
    TEXT_TOKENS,
    TP,
    WEIGHT_DTYPE,
    WEIGHT_GROUP,
    WEIGHT_GROUP_BYTES,
    WEIGHT_PARTS,
)
from costmodel.cli.output import Format, dumps, frame_csv, table
from costmodel.cli.plot_cmd import output_format
from costmodel.cli.sweep_run import draw, run_sweep
from costmodel.units import DType, count, seconds, si

if TYPE_CHECKING:
    import pandas as pd

    from costmodel.specs.hardware import HardwareProfile

CAPPED = " (capped at "  # a compression label's suffix where a kept count is capped

# The columns naming a point's visual input, as the table heads them.
AXIS_HEADS = {"image_size": "size", "images": "images", "video_fps": "fps",
              "video_seconds": "seconds", "video_frames": "frames"}


def render(df: pd.DataFrame, gpus: int = 1) -> str:
    """Aligned text table of the sweep frame (human units); a column per swept input (images,
    size, seconds, fps, frames) before the visual tokens they give. Memory is the most loaded
    GPU's (the whole model's on one GPU), the footprint `fits` is judged by."""
    records: Iterable[Any] = df.itertuples()  # the columns' types are known at run time only
    axes = [c for c in AXIS_HEADS if c in df.columns]
    rows = [[str(r.model), str(r.hardware), str(r.batch),
             *(_cell(getattr(r, c)) for c in axes), str(r.visual_tokens), str(r.stage),
             si(r.flops, "FLOP"), si(r.bytes, "B"), seconds(r.latency_s), seconds(r.ttft_s),
             seconds(r.tpot_s), seconds(r.e2e_latency_s), si(r.per_gpu_total_memory_bytes, "B"),
             "yes" if r.fits else "NO"] for r in records]
    head = ["model", "hardware", "batch", *(AXIS_HEADS[c] for c in axes), "visual", "stage",
            "FLOPs", "bytes", "latency", "TTFT", "TPOT", "e2e", "memory", "fits"]
    stage = head.index("stage")
    return (table(rows, head, right=set(range(2, len(head) - 1)) - {stage}) + "\n\n" + _note(df)
            + gpus_note(gpus, joules=False) + _capped_note(df))


def _cell(value: object) -> str:
    return count(value) if isinstance(value, float) else str(value)


def _note(df: pd.DataFrame) -> str:
    """What the latencies are (the engine's expected ones) and the compression applied."""
    def listed(col: str) -> str:
        return ", ".join(dict.fromkeys(str(v) for v in df[col])) if col in df.columns else "none"

    return (f"latency, TTFT, TPOT, e2e: expected on engine {listed('engine')} (the roofline "
            f"bound: bound_* columns of -f csv/json) | compression: "
            + ", ".join(dict.fromkeys(_base_label(x) for x in listed("compression").split(", "))))


def _base_label(label: str) -> str:
    """A compression label less its ' (capped at N)' (analysis/sweep.compression_column)."""
    return label.split(CAPPED)[0]


def _capped_note(df: pd.DataFrame) -> str:
    """'\ncapped: ...' naming the points where a count the compression keeps is above the
    tokens there are (core/compression/points.capped_at; their rows' compression reads '... (capped at
    N)' in -f csv/json); '' when none."""
    if "compression" not in df:
        return ""
    label = df["compression"].astype(str)
    capped = df.loc[label.str.contains(CAPPED, regex=False), "visual_tokens"]
    if capped.empty:
        return ""
    at = ", ".join(count(v) for v in sorted(set(capped)))
    return (f"\ncapped: at visual {at} a count {_base_label(label[capped.index[0]])} keeps is "
            "above the tokens there are (the visual tokens; for a schedule, those reaching the "
            "LLM): those points keep all of them (their compression reads '(capped at N)' in "
            "-f csv/json)")


def sweep(
    model: str = typer.Argument(..., help="Zoo ids or config.json paths, comma-separated."),
    hardware: str = typer.Option(..., "--hardware", "-H", help="Hardware ids, comma list."),
    visual_tokens: str | None = typer.Option(None, help="Visual tokens axis: "
                                             "start:stop[:step] (step 1 by default) and/or "
                                             "list, e.g. 0:2880:64."),
    images: str | None = typer.Option(None, "--images", help="Images per request axis, e.g. "
                                      "1,2,4,8 (at --image-size, else the model's size). With "
                                      "--visual-tokens: one count, the images a "
                                      "dynamic-resolution model spreads the tokens over."),
    image_size: str | None = typer.Option(None, "--image-size", help="Image (or video frame) "
                                          "WIDTHxHEIGHT; a comma list sweeps the sizes, e.g. "
                                          "448x448,896x896 (alone: one image per request)."),
    video_frames: str | None = typer.Option(None, "--video-frames", help="Video frames axis, "
                                            "e.g. 8,16,32 (one video per request)."),
    video_seconds: str | None = typer.Option(None, "--seconds", help="Video seconds axis with "
                                             "--fps, e.g. 4,8,16,32 or 2:30:2 (start:stop[:step], "
                                             "step 1 by default): the frames the "
                                             "model's video processor samples."),
    video_fps: str | None = typer.Option(None, "--fps", help="Frames per second of --seconds; "
                                         "a list sweeps it too, e.g. 1,2."),
    batch: str = typer.Option("1", help="Batch sizes: list or "
                                "start:stop[:step] grid (step 1 by default), e.g. 1,8 or 1:32."),
    text_tokens: int = TEXT_TOKENS,
    output_tokens: int = OUTPUT_TOKENS,
    dtype: DType = DTYPE,
    weight_dtype: DType | None = WEIGHT_DTYPE,
    weight_group: int | None = WEIGHT_GROUP,
    weight_group_bytes: float | None = WEIGHT_GROUP_BYTES,
    weight_parts: str | None = WEIGHT_PARTS,
    kv_dtype: DType | None = KV_DTYPE,
    flash_attention: bool | None = FLASH,
    overlap: str = OVERLAP,
    logits: str = LOGITS,
    convention: str = CONVENTION,
    engine: str | None = ENGINE,
    tp: int = TP,
    pp: int = PP,
    ep: int = EP,
    microbatches: int | None = MICROBATCHES,
    keep: str | None = co.KEEP,
    at: str | None = co.AT,
    method: str | None = co.METHOD,
    schedule: str | None = co.SCHEDULE,
    kv_keep: str | None = co.KV_KEEP,
    kv_policy: str | None = co.KV_POLICY,
    sparse_decode: str | None = co.SPARSE_DECODE,
    cluster_iters: int | None = co.CLUSTER_ITERS,
    merge_per_layer: int | None = co.MERGE_PER_LAYER,
    overhead: bool = co.OVERHEAD,
    sets: list[str] = typer.Option([], "--set", help="What-if KEY=VALUE on every device "
                                   "(repeatable), as estimate's."),
    fmt: Format = FORMAT,
    plot: Path | None = typer.Option(None, "--plot", help="Also draw it: out.png|svg|pdf."),
    quiet: bool = QUIET,
) -> None:
    """One row per (model, hardware, visual input, batch, stage); per-point TTFT, TPOT, memory."""
    feedback.also_quiet(quiet)
    if plot is not None:
        output_format(plot, "--plot")  # a bad path fails before any work
    run = run_sweep(locals())
    if plot is not None:
        draw(run, plot, "--plot")
    w = run.axes.workload
    note = devices_host_note(run.hardware, workload_engine(w))  # a Jetson's host, as estimate's
    _echo(_what_if(run.frame, run.hardware), fmt, run.hardware, w.parallel.gpus, [note])


def _echo(df: pd.DataFrame, fmt: Format, hws: list[HardwareProfile], gpus: int,
          notes: Iterable[str] = ()) -> None:
    """The frame as JSON, CSV or the text table (with the what-if lines and `notes`)."""
    if fmt is Format.json:
        text = [c for c in ("model", "hardware", "compression", "stage", "image_size")
                if c in df.columns]
        typer.echo(dumps(df.astype(dict.fromkeys(text, str)).to_dict(orient="records")))
    elif fmt is Format.csv:
        typer.echo(frame_csv(df), nl=False)
    else:
        typer.echo("\n".join([render(df, gpus), *changed_lines(hws), *(n for n in notes if n)]))


def _what_if(df: pd.DataFrame, hws: list[HardwareProfile]) -> pd.DataFrame:
    """The rows with a `hardware_changes` column where a device carries --set changes (as the
    fleet commands' JSON and CSV)."""
    changes = {h.id: device_fields(h)["hardware_changes"] for h in hws}
    if not any(changes.values()):
        return df
    return df.assign(hardware_changes=df["hardware"].astype(str).map(changes))
