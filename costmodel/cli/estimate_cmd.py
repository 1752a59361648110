"""`costmodel estimate`: one request on one device, by stage."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import typer

from costmodel.analysis.devices import datasheet_only
from costmodel.analysis.estimate import Estimate
from costmodel.analysis.estimate import estimate as run_estimate
from costmodel.analysis.refusals import refuse_unused
from costmodel.cli import captions
from costmodel.cli import compression_options as co
from costmodel.cli.default_dtype import refuse_default_dtype
from costmodel.cli.options import (
    BATCH,
    CONVENTION,
    DTYPE,
    ENGINE,
    EP,
    FLASH,
    FORMAT,
    FPS,
    IMAGE_SIZE,
    IMAGES,
    KV_DTYPE,
    LOGITS,
    MICROBATCHES,
    MODEL_HELP,
    OUTPUT_TOKENS,
    OVERLAP,
    PP,
    SECONDS,
    TEXT_TOKENS,
    TP,
    VIDEO_FRAMES,
    VISUAL_TOKENS,
    WEIGHT_DTYPE,
    WEIGHT_GROUP,
    WEIGHT_GROUP_BYTES,
    WEIGHT_PARTS,
    workload_from_values,
)
from costmodel.cli.output import Format, dumps, frame_csv, table
from costmodel.loading.load import load_hardware, load_model
from costmodel.units import DType, count, seconds, si


def estimate(
    model: str = typer.Argument(..., help=MODEL_HELP),
    hardware: str = typer.Option(..., "--hardware", "-H", help="Hardware id or YAML path."),
    visual_tokens: int | None = VISUAL_TOKENS,
    images: int = IMAGES,
    image_size: str | None = IMAGE_SIZE,
    video_frames: int | None = VIDEO_FRAMES,
    video_fps: float | None = FPS,
    video_seconds: float | None = SECONDS,
    text_tokens: int = TEXT_TOKENS,
    output_tokens: int = OUTPUT_TOKENS,
    batch: int = BATCH,
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
    fmt: Format = FORMAT,
    per_op: bool = typer.Option(False, "--per-op", help="Add the per-operator breakdown."),
    tp: int = TP,
    pp: int = PP,
    ep: int = EP,
    microbatches: int | None = MICROBATCHES,
    sets: list[str] = typer.Option([], "--set", help="What-if KEY=VALUE on the hardware."),
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
) -> None:
    """FLOPs, memory traffic, latency and memory footprint of each inference stage."""
    comp = co.compression_from_values(locals())
    w = workload_from_values(locals(), compression=comp)
    spec, hw = load_model(model), load_hardware(hardware, tuple(sets))
    refuse_unused(spec, w)
    co.refuse_count_above(spec, w)
    refuse_default_dtype(hw, w.act_dtype, "estimate")
    est = run_estimate(spec, hw, w)
    if fmt is Format.json:
        doc = est.to_dict()
        if per_op:
            doc["ops"] = est.to_frame().to_dict(orient="records")
        typer.echo(dumps(doc))
    elif fmt is Format.csv:
        typer.echo(frame_csv(est.to_frame()) if per_op else stage_csv(est), nl=False)
    else:
        typer.echo(render(est, per_op))


def stage_csv(est: Estimate) -> str:
    """--format csv: Estimate.stage_frame() (one row per stage; latency_s on the engine)."""
    return frame_csv(est.stage_frame(), index=True)


def _header(est: Estimate) -> list[str]:
    w, p, hw = est.workload, est.plan, est.hardware
    attn = "FlashAttention" if est.prepared.options.flash else "eager attention"
    plural = "" if p.crops == 1 else "es"
    conv = f" | {w.convention} convention" if w.convention != "costmodel" else ""
    e = est.prepared.engine
    counts = est.model.param_counts()
    moe = (f" | mixture of experts: {counts['total'] / 1e9:.2f} B parameters, "
           f"{counts['active'] / 1e9:.2f} B active per token") if "active" in counts else ""
    video = captions.video_text(est.model, w)
    extra = captions.vtext_caption(est.model, w)
    return [
        f"{est.model.name} on {captions.device_text(hw)}{moe}",
        f"batch {w.batch} | {count(p.llm_tokens)} visual tokens ({count(p.crops)} ViT pass{plural}) + "
        f"{w.text_tokens} text tokens{extra} -> {w.output_tokens} output tokens"
        + (f" | {video}" if video else ""),
        f"weights {captions.weight_text(w, est.model, e.int4_format)}, activations {w.act_dtype.value}, "
        f"KV cache {w.kv.value} | "
        f"{attn} | {w.overlap} overlap{conv}",
        f"engine {e.id} ({e.name}): 'expected' is the latency on it; 'bound' is the roofline "
        "at the datasheet peaks",
        *_datasheet_line(est),
    ] + ([f"compression: {w.compression.label} (the figures below are with it; "
          "compare-compression sets the baseline beside them)"] if w.compression else [])


def _datasheet_line(est: Estimate) -> list[str]:
    """The header's line for a device with datasheet figures only (analysis.devices.
    datasheet_only) on an engine that runs measured kernels: its 'expected' is the bound plus
    the engine's host costs, where a bundled device's kernels run below their peaks; [] else."""
    e, hw = est.prepared.engine, est.hardware
    if e.kernels != "measured" or not datasheet_only(hw):
        return []
    return [f"{hw.id} has datasheet figures only (no kernel figures): 'expected' is the bound "
            f"plus {e.id}'s host costs; a YAML with base: <the nearest bundled device> takes "
            "that device's (docs/methodology.md, 'A device not bundled')"]


def render(est: Estimate, per_op: bool = False) -> str:
    steps = int(est.workload.output_tokens) - 1
    decode = f"decode ({steps} step{'' if steps == 1 else 's'})"
    rows = []
    for name, s in est.stages.items():
        label = decode if name == "decode" else name
        rows.append([label, si(s.flops, "FLOP"), si(s.bytes, "B"),
                     f"{s.intensity_flops_per_byte:.1f}", seconds(s.bound_latency_s),
                     seconds(s.latency_s), f"{100 * s.compute_share:.0f}%"])
    t = table(rows, ["stage", "FLOPs", "bytes", "FLOP/B", "bound", "expected",
                     "compute-bound"], right={1, 2, 3, 4, 5, 6})
    m = est.memory
    verdict = "fits" if m.fits else "DOES NOT FIT"
    lines = _header(est) + ["", t, *_shard_note(est), "",
        f"expected: TTFT {seconds(est.ttft_s)} | TPOT {seconds(est.tpot_s)} | end-to-end "
        f"{seconds(est.e2e_latency_s)} | {est.tokens_per_s:.1f} tokens/s",
        f"bound:    TTFT {seconds(est.bound.ttft_s)} | TPOT {seconds(est.bound.tpot_s)} | "
        f"end-to-end {seconds(est.bound.e2e_latency_s)}",
        f"memory: weights {si(m.weights_bytes, 'B')} + KV cache {si(m.kv_cache_bytes, 'B')} + "
        f"activations {si(m.activation_bytes, 'B')} = {si(m.total_memory_bytes, 'B')}"
        + (f" of {si(m.capacity_bytes, 'B')}: {verdict}" if m.gpus == 1 else " (whole model)"),
    ]
    if m.gpus > 1:
        lines.append(parallel_line(est))
    if steps == 0:  # core/evaluate.py: TPOT = one step's latency when none runs
        lines.append("TPOT: with 1 output token no decode step runs; TPOT is "
                     "one decode step's latency, what a next token would take")
    if est.prepared.engine.host_overlap == "async" and any(
            s.launch_s > 0 for s in est.stages.values()):
        lines.append(host_line(est))
    if est.host_note:
        lines.append(est.host_note)
    if est.workload.convention == "llm-viewer":
        lines.append(llm_viewer_line(est))
    if per_op:
        lines += ["", op_table(est)]
    return "\n".join(lines)


def host_line(est: Estimate) -> str:
    """Each stage's launch (host) time against its device time, under host_overlap async
    (the longer sets the stage's time: docs/methodology.md, "Inference engines")."""
    parts = [f"{name} {seconds(s.launch_s)} vs {seconds(s.device_s)}"
             + (" (host-bound)" if s.host_bound else "")
             for name, s in est.stages.items() if s.launch_s > 0]
    return "host launches vs device (async: the longer sets the stage): " + " | ".join(parts)


def llm_viewer_line(est: Estimate) -> str:
    """LLM-Viewer's prefill totals under the names papers print (docs/methodology.md)."""
    t = est.to_dict()["llm_viewer"]["prefill"]
    return (f"LLM-Viewer prefill: OPs {si(t['ops_flops'], 'FLOP')} | memory access ('Total Memory') "
            f"{si(t['memory_access_bytes'], 'B')} | store_act ('Storing Activation') "
            f"{si(t['store_act_bytes'], 'B')} | store_kv_cache {si(t['store_kv_cache_bytes'], 'B')} | "
            f"time {seconds(t['inference_time_s'])}")


def _shard_note(est: Estimate) -> list[str]:
    """Under --tp / --ep the stage FLOPs and bytes are one GPU's shard (core/parallel/
    tensor.py), which the table did not say (--pp alone: every stage summed, the whole model)."""
    par = est.workload.parallel
    if par.tp * par.ep == 1:
        return []
    ep = f" x ep {par.ep}" if par.ep > 1 else ""
    pp = f", summed over the {par.pp} pipeline stages" if par.pp > 1 else ""
    return [f"FLOPs and bytes: one GPU's shard under tp {par.tp}{ep}{pp} (the LLM's layers "
            "split; the vision encoder and projector run whole on every GPU)"]


def parallel_line(est: Estimate) -> str:
    """Per-GPU memory and communication for --tp/--pp/--ep."""
    m, d = est.memory, est.to_dict()["parallel"]
    verdict = "fits" if m.fits else "DOES NOT FIT"
    ep = f" x ep {d['ep']}" if d["ep"] > 1 else ""
    return (f"per GPU ({d['gpus']} GPUs: tp {d['tp']} x pp {d['pp']}{ep}, {d['interconnect']}): "
            f"weights {si(m.per_gpu_weights_bytes, 'B')} + KV cache "
            f"{si(m.per_gpu_kv_cache_bytes, 'B')} + activations {si(m.activation_bytes, 'B')} = "
            f"{si(m.per_gpu_total_memory_bytes, 'B')} of {si(m.capacity_bytes, 'B')}: {verdict} | "
            f"communication {seconds(d['comm_s'] + d['p2p_s'])} | prefill bubble "
            f"{100 * d['prefill_bubble_fraction']:.0f}%")


def op_table(est: Estimate) -> str:
    df = est.to_frame()
    records: Iterable[Any] = df.itertuples()  # the columns' types are known at run time only
    rows = [[r.stage, r.op, str(r.count), si(r.flops, "FLOP"), si(r.bytes, "B"),
             f"{r.intensity_flops_per_byte:.1f}", seconds(r.latency_s), r.bound_by]
            for r in records]
    return table(rows, ["stage", "operator", "x", "FLOPs", "bytes", "FLOP/B", "latency", "bound by"],
                 right={2, 3, 4, 5, 6})
