"""`costmodel sweep`: models x hardware x visual tokens x batch in one tidy table."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import typer

from costmodel.analysis.refusals import refuse_unused
from costmodel.cli import compression_options as co
from costmodel.cli import feedback
from costmodel.cli.fleet_common import changed_lines, device_fields
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
    workload_from_values,
)
from costmodel.cli.output import Format, dumps, table
from costmodel.cli.parsing import MAX_POINTS, id_list, parse_grid
from costmodel.cli.plot_cmd import output_format, plots, save, sweep_axis, sweep_caption
from costmodel.errors import CostmodelError
from costmodel.loading.load import load_hardware, load_model
from costmodel.specs.workload import MAX_BATCH
from costmodel.units import DType, seconds, si

if TYPE_CHECKING:
    import pandas as pd

    from costmodel.specs.hardware import HardwareProfile

def render(df: pd.DataFrame) -> str:
    """Aligned text table of the sweep frame (human units); a frames column for a video axis."""
    records: Iterable[Any] = df.itertuples()  # the columns' types are known at run time only
    video = "video_frames" in df.columns
    rows = [[str(r.model), str(r.hardware), str(r.batch),
             *([str(r.video_frames)] if video else []), str(r.visual_tokens), str(r.stage),
             si(r.flops, "FLOP"), si(r.bytes, "B"), seconds(r.latency_s), seconds(r.ttft_s),
             seconds(r.tpot_s), seconds(r.e2e_latency_s), si(r.total_memory_bytes, "B"),
             "yes" if r.fits else "NO"] for r in records]
    head = ["model", "hardware", "batch", *(["frames"] if video else []), "visual", "stage",
            "FLOPs", "bytes", "latency", "TTFT", "TPOT", "e2e", "memory", "fits"]
    stage = head.index("stage")
    return table(rows, head, right=set(range(2, len(head) - 1)) - {stage}) + "\n\n" + _note(df)


def _note(df: pd.DataFrame) -> str:
    """What the latencies are (the engine's expected ones) and the compression applied."""
    def listed(col: str) -> str:
        return ", ".join(dict.fromkeys(str(v) for v in df[col])) if col in df.columns else "none"

    return (f"latency, TTFT, TPOT, e2e: expected on engine {listed('engine')} (the roofline "
            f"bound: bound_* columns of -f csv/json) | compression: {listed('compression')}")


def sweep(
    model: str = typer.Argument(..., help="Zoo ids or config.json paths, comma-separated."),
    hardware: str = typer.Option(..., "--hardware", "-H", help="Hardware ids, comma list."),
    visual_tokens: str | None = typer.Option(None, help="start:stop:step and/or list, e.g. "
                                             "0:2880:64 (or --video-frames)."),
    video_frames: str | None = typer.Option(None, "--video-frames", help="Video frames axis "
                                            "instead of --visual-tokens, e.g. 8,16,32."),
    image_size: str | None = typer.Option(None, help="Frame WIDTHxHEIGHT with --video-frames."),
    batch: str = typer.Option("1", help="Batch sizes: list or grid, e.g. 1,8 or 1:32:1."),
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
    """One row per (model, hardware, visual tokens, batch, stage); per-point TTFT, TPOT, memory."""
    feedback.also_quiet(quiet)
    if plot is not None:
        output_format(plot, "--plot")  # a bad path fails before any work
    vis, frames = sweep_axis(visual_tokens, video_frames, image_size)
    bat = parse_grid(batch, "--batch", minimum=1, maximum=MAX_BATCH)
    comp = co.compression_from_values(locals())
    models, devices = id_list(model, "MODEL"), id_list(hardware, "--hardware")
    axis = vis if frames is None else frames
    assert axis is not None  # _axis returns one of them
    n = len(models) * len(devices) * len(axis) * len(bat)
    if n > MAX_POINTS:
        raise CostmodelError(f"--visual-tokens: {n} points exceed {MAX_POINTS}; use a coarser step")
    specs = [load_model(m) for m in models]
    text_only = [s.name for s in specs if not s.is_vlm]
    if text_only and vis is not None and np.any(np.asarray(vis) > 0):
        # as estimate refuses it (analysis/refusals.refuse_unused): tokens a model cannot take
        raise CostmodelError(f"--visual-tokens: {text_only[0]} has no vision tower; sweep it "
                             "with --visual-tokens 0, or sweep vision models only")
    hws = [load_hardware(h, tuple(sets)) for h in devices]
    # the grid strings are the axes; the Workload's own batch is the grid's first
    first = None if frames is None else int(np.ravel(frames)[0])  # a video axis: a video
    w = workload_from_values(locals(), batch=int(bat[0]), visual_tokens=None,
                             video_frames=first, compression=comp)
    for spec in specs:  # as estimate: a visual-token compression on a text-only model
        if not spec.is_vlm:
            refuse_unused(spec, w)
    from costmodel.analysis.sweep import sweep as run_sweep  # pandas only when the command runs

    with feedback.progress(f"sweep: {n:,} points",
                           n) if n > feedback.PROGRESS_POINTS else nullcontext() as tick:
        df = run_sweep(specs, hws, vis, bat, w, progress=tick, video_frames=frames)
    if plot is not None:
        caption = sweep_caption(df, hws, w, batch, specs)
        save(plots().sweep_figure(df, {h.id: h.memory_bytes for h in hws}, caption), plot, "--plot")
    df = _what_if(df, hws)
    if fmt is Format.json:
        typer.echo(dumps(df.astype({c: str for c in ("model", "hardware", "compression",
                                                     "stage")}).to_dict(orient="records")))
    elif fmt is Format.csv:
        typer.echo(df.to_csv(index=False), nl=False)
    else:
        typer.echo("\n".join([render(df), *changed_lines(hws)]))


def _what_if(df: pd.DataFrame, hws: list[HardwareProfile]) -> pd.DataFrame:
    """The rows with a `hardware_changes` column where a device carries --set changes (as the
    fleet commands' JSON and CSV)."""
    changes = {h.id: device_fields(h)["hardware_changes"] for h in hws}
    if not any(changes.values()):
        return df
    return df.assign(hardware_changes=df["hardware"].astype(str).map(changes))
