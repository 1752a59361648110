"""`costmodel plan` (SLO capacity planning) and `costmodel batching` (decode vs batch)."""

from __future__ import annotations

from typing import Any

import numpy as np
import typer

from costmodel.analysis.plan import batching, plan
from costmodel.analysis.planning import CLI, plan_records, refuse_split
from costmodel.analysis.serving import batching_records
from costmodel.cli import captions
from costmodel.cli import fleet_common as fc
from costmodel.cli.output import Format, table
from costmodel.errors import CostmodelError
from costmodel.specs.workload import MAX_BATCH
from costmodel.units import DType, seconds, si


def plan_table(recs: list[dict[str, Any]], head: str, gpus: int = 1) -> str:
    rows = []
    for r in recs:
        b = r["largest_batch"]
        rows.append([r["hardware"], "yes" if b else "NO", str(b) if b else "-",
                     seconds(r["ttft_s_at_largest"]) if b else "-",
                     seconds(r["tpot_s_at_largest"]) if b else "-",
                     f"{r['tokens_per_s_at_largest']:.1f}" if b else "-", r["limiting"],
                     _scales(r),
                     "fits" if r["scale_capacity_to_meet"] <= 1.0
                     else fc.factor(r["scale_capacity_to_meet"])])
    t = table(rows, ["device", "met", "max batch", "TTFT", "TPOT", "tokens/s",
                     "limited by", "scale to meet: compute/bandwidth/both", "memory"],
              right={2, 3, 4, 5})
    link = ("; interconnect: the tp / ep communication holds most of it (scaling compute or "
            "bandwidth does not shorten it; the profile's interconnect does)"
            if any("interconnect" in r["limiting"] for r in recs) else "")
    return "\n".join([head, "", t, "",
                      "limited by: at the first failing batch (max batch + 1, or 1 when not met); "
                      "host: the engine's launches, longer than the device's work, set most "
                      f"of that latency (scaling the device does not shorten them){link}",
                      "tokens/s: at max batch, batch x output tokens / end-to-end latency (the "
                      f"batch's TTFT + decode), for {fc.replica_text(gpus)} (capacity's "
                      "req/s/GPU divides by the GPUs)",
                      "scale: smallest factor on peak FLOP/s, on bandwidth, or on both that meets "
                      "the latency SLO at the target batch (re-evaluated, 1% steps; - = none up "
                      "to 1000x); memory: footprint / capacity"]
                     + [f"[changed] {r['hardware']}: {r['hardware_changes']}"
                        for r in recs if r["hardware_changes"]])


def _scales(r: dict[str, Any]) -> str:
    vals = [r[f"scale_{k}_to_meet"] for k in ("compute", "bandwidth", "both")]
    return "met" if all(v == 1.0 for v in vals) else " / ".join(fc.factor(v) for v in vals)


def plan_command(
    model: str = fc.MODEL, hardware: str | None = fc.HARDWARE,
    ttft: float | None = typer.Option(None, help="TTFT SLO in seconds, e.g. 0.3."),
    tpot: float | None = typer.Option(None, help="TPOT SLO in seconds, e.g. 0.05."),
    visual_tokens: int | None = fc.VISUAL, images: int = fc.IMAGES,
    image_size: str | None = fc.IMAGE_SIZE,
    video_frames: int | None = fc.VIDEO_FRAMES, video_fps: float | None = fc.FPS,
    video_seconds: float | None = fc.SECONDS, text_tokens: int = fc.TEXT,
    output_tokens: int = fc.OUTPUT,
    batch: int = typer.Option(1, min=1, max=MAX_BATCH, help="Target batch for the scaling answer."),
    max_batch: int = typer.Option(1024, min=1, max=MAX_BATCH, help="Largest batch searched."),
    dtype: DType | None = fc.DTYPE, weight_dtype: DType | None = fc.WDTYPE,
    weight_group: int | None = fc.WGROUP, weight_group_bytes: float | None = fc.WGROUP_BYTES,
    weight_parts: str | None = fc.WPARTS,
    kv_dtype: DType | None = fc.KVDTYPE, sets: list[str] = fc.SETS, fmt: Format = fc.FMT,
    flash_attention: bool | None = fc.FLASH, overlap: str = fc.OVERLAP, logits: str = fc.LOGITS,
    convention: str = fc.CONVENTION, engine: str | None = fc.ENGINE, tp: int = fc.TP,
    pp: int = fc.PP, ep: int = fc.EP, microbatches: int | None = fc.MICROBATCHES, keep: str | None = fc.KEEP,
    at: str | None = fc.AT, method: str | None = fc.METHOD, schedule: str | None = fc.SCHEDULE,
    kv_keep: str | None = fc.KV_KEEP, kv_policy: str | None = fc.KV_POLICY,
    sparse_decode: str | None = fc.SPARSE_DECODE,
) -> None:
    """Per device: is the SLO met, the largest batch that meets it and fits, what limits it,
    and what scaling of compute, bandwidth or memory would meet it."""
    slo = fc.slo_from_options(ttft, tpot, output_tokens, required=True)
    refuse_split(microbatches, max_batch, CLI)
    spec, profiles, w = fc.setup(locals())
    res = plan(spec, profiles, w, slo, max_batch=max_batch, auto_dtype=dtype is None)
    recs = plan_records(res, slo)
    head = (f"{spec.name}: {captions.request_text(spec, w)}; {fc.slo_text(slo)}; batch "
            f"searched 1..{max_batch}; scaling "
            f"for batch {batch}{fc.run_text(res.fleet.engine, w)}")
    fc.emit(recs, fmt, plan_table(recs, head, w.parallel.gpus), res.fleet.engine, w,
            [res.fleet.host_note])


def parse_batches(text: str) -> np.ndarray:
    """'1:256' (every integer) or '1,2,4,8' -> sorted unique float array."""
    try:
        if ":" in text:
            lo, hi = (int(x) for x in text.split(":"))
            vals = list(range(lo, hi + 1)) if hi <= 65536 else [hi]  # sized before built
        else:
            vals = [int(x) for x in text.split(",")]
    except ValueError:
        vals = []
    if not vals or min(vals) < 1 or max(vals) > 65536 or len(vals) > 65536:
        raise CostmodelError(f"--batch: '{text}' is not a range LO:HI or a list like 1,2,4 of "
                             "positive integers (at most 65536)")
    return np.array(sorted(set(vals)), dtype=float)


def _shown(batches: np.ndarray, extra: list[float]) -> list[int]:
    """Rows for the table: powers of two in the grid, the ends, and the crossings."""
    keep = {b for b in batches if (int(b) & (int(b) - 1)) == 0}
    keep |= {batches[0], batches[-1]} | {x for x in extra if np.isfinite(x)}
    return [int(np.searchsorted(batches, b)) for b in sorted(keep)]


def batching_command(
    model: str = fc.MODEL, hardware: str | None = fc.HARDWARE,
    batch: str = typer.Option("1:256", help="Batch sizes: LO:HI (all) or a list 1,2,4."),
    visual_tokens: int | None = fc.VISUAL, images: int = fc.IMAGES,
    image_size: str | None = fc.IMAGE_SIZE,
    video_frames: int | None = fc.VIDEO_FRAMES, video_fps: float | None = fc.FPS,
    video_seconds: float | None = fc.SECONDS, text_tokens: int = fc.TEXT,
    output_tokens: int = fc.OUTPUT, dtype: DType | None = fc.DTYPE,
    weight_dtype: DType | None = fc.WDTYPE, kv_dtype: DType | None = fc.KVDTYPE,
    weight_group: int | None = fc.WGROUP, weight_group_bytes: float | None = fc.WGROUP_BYTES,
    weight_parts: str | None = fc.WPARTS,
    sets: list[str] = fc.SETS, fmt: Format = fc.FMT,
    flash_attention: bool | None = fc.FLASH, overlap: str = fc.OVERLAP, logits: str = fc.LOGITS,
    convention: str = fc.CONVENTION, engine: str | None = fc.ENGINE, tp: int = fc.TP,
    pp: int = fc.PP, ep: int = fc.EP, microbatches: int | None = fc.MICROBATCHES, keep: str | None = fc.KEEP,
    at: str | None = fc.AT, method: str | None = fc.METHOD, schedule: str | None = fc.SCHEDULE,
    kv_keep: str | None = fc.KV_KEEP, kv_policy: str | None = fc.KV_POLICY,
    sparse_decode: str | None = fc.SPARSE_DECODE,
) -> None:
    """Decode throughput and TPOT versus batch, and the batch where decode turns compute-bound."""
    grid = parse_batches(batch)
    spec, profiles, w = fc.setup(locals(), batch=int(grid[0]))  # the grid's checked in prepare
    res = batching(spec, profiles, w, grid, auto_dtype=dtype is None)
    recs, parts = batching_records(res), []
    for d, h in enumerate(profiles):
        rows = recs[d * len(grid):(d + 1) * len(grid)]  # each device's batches, in order
        parts.append(_device_table(h.id, rows, grid, float(res.turns_compute[d]),
                                   float(res.linears_compute[d])))
    head = (f"{spec.name}: decode versus batch ({captions.request_text(spec, w)})"
            f"{fc.run_text(res.fleet.engine, w)}")
    note = ("compute-bound at: smallest batch where >= half the decode latency is in compute-bound "
            "operators (all / linear layers only); '-' = not within the batches given"
            f"{fc.gpus_note(w.parallel.gpus, joules=False)}")
    fc.emit(recs, fmt, "\n\n".join([head, *parts, "\n".join([note, *fc.changed_lines(profiles)])]),
            res.fleet.engine, w, [res.fleet.host_note])


def _device_table(hid: str, rows: list[dict[str, Any]], grid: np.ndarray, turn: float,
                  lin: float) -> str:
    show = _shown(grid, [turn, lin])
    t = table([[str(r["batch"]), seconds(r["ttft_s"]), seconds(r["tpot_s"]),
                f"{r['decode_tokens_per_s']:.1f}",
                f"{100 * r['decode_compute_share']:.0f}%",
                f"{100 * r['decode_linear_compute_share']:.0f}%", si(r["per_gpu_total_memory_bytes"], "B"),
                "yes" if r["fits"] else "NO"] for r in (rows[i] for i in show)],
              ["batch", "TTFT", "TPOT", "decode tok/s", "compute-bound", "linears c-b", "memory",
               "fits"], right={0, 1, 2, 3, 4, 5, 6})

    def at(x: float) -> str:
        return f"batch {x:g}" if np.isfinite(x) else "-"

    return (f"{hid}: decode turns compute-bound at {at(turn)} (linear layers at {at(lin)})\n"
            + t)
