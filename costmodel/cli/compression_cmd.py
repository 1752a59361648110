"""`costmodel compare-compression`: baseline vs a token-compression scenario, with savings (several
--keep values: one scenario each, compression_curve.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import typer

from costmodel.analysis.estimate import Estimate
from costmodel.analysis.estimate import estimate as run_estimate
from costmodel.analysis.refusals import refuse_unused
from costmodel.cli import captions, feedback
from costmodel.cli.compression_curve import (
    average_visual,
    curve_doc,
    curve_records,
    header,
    keep_values,
    render_curve,
    savings_pct,
    savings_text,
)
from costmodel.cli.compression_options import (
    KV_KEEP,
    KV_POLICY,
    METHOD,
    SCHEDULE,
    SPARSE_DECODE,
    compression_from_options,
    refuse_count_above,
)
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
    QUIET,
    SECONDS,
    TEXT_TOKENS,
    TP,
    VIDEO_FRAMES,
    VISUAL_TOKENS,
    WEIGHT_DTYPE,
    WEIGHT_GROUP,
    WEIGHT_GROUP_BYTES,
    workload_from_values,
)
from costmodel.cli.output import Format, dumps, records_csv, table
from costmodel.cli.plot_cmd import output_format, plots, save
from costmodel.core.compression.formulas import (
    PAPER_FORMULAS,
    paper_flops_ratio,
)
from costmodel.loading.load import load_hardware, load_model
from costmodel.specs.workload import MAX_TOKENS
from costmodel.units import DType, seconds, si

TTFT = ("vision", "projector", "prefill")


def compare_rows(base: Estimate, comp: Estimate) -> list[dict[str, Any]]:
    """(metric, stage, unit, baseline, compressed, savings_pct) in base units: the savings
    frame of costmodel/plots.py (per-request metrics under stage 'total'); latencies on the
    engine, and the same at the roofline bound (metrics bound_*)."""
    rows = []
    for s in base.stages:
        b, c = base.stages[s], comp.stages[s]
        rows += [{"metric": q, "stage": s, "unit": u, "baseline": getattr(b, q),
                  "compressed": getattr(c, q)}
                 for q, u in (("flops", "FLOP"), ("bytes", "B"), ("latency_s", "s"),
                              ("bound_latency_s", "s"))]
    for q, u, get in (("ttft_s", "s", lambda e: e.ttft_s), ("tpot_s", "s", lambda e: e.tpot_s),
                      ("e2e_latency_s", "s", lambda e: e.e2e_latency_s),
                      ("bound_ttft_s", "s", lambda e: e.bound.ttft_s),
                      ("bound_tpot_s", "s", lambda e: e.bound.tpot_s),
                      ("bound_e2e_latency_s", "s", lambda e: e.bound.e2e_latency_s),
                      ("kv_cache_bytes", "B", lambda e: e.memory.kv_cache_bytes),
                      ("total_memory_bytes", "B", lambda e: e.memory.total_bytes)):
        rows.append({"metric": q, "stage": "total", "unit": u, "baseline": get(base),
                     "compressed": get(comp)})
    for r in rows:
        r["savings_pct"] = savings_pct(r["baseline"], r["compressed"])
    return rows


def context(base: Estimate, new: Estimate) -> dict[str, Any]:
    """What the savings are of, as CSV columns after the savings frame (`plot savings` titles
    its figure with them)."""
    w = new.workload
    return {"model": base.model.name, "hardware": base.hardware.id,
            "device": base.hardware.name, "compression": captions.compression_text(w),
            "visual_tokens": base.plan.llm_tokens, "text_tokens": w.text_tokens,
            "output_tokens": w.output_tokens, "batch": w.batch,
            "dtype": captions.dtype_text(w), "engine": new.prepared.engine.id}


def savings_caption(base: Estimate, new: Estimate) -> str:
    """Title of the savings figure: model, device, workload, engine, compression."""
    return captions.caption("Savings", base.model.name, captions.device_text(base.hardware),
                            engine=new.prepared.engine.id,
                            **captions.workload_fields(new.workload,
                                                       f"{base.plan.llm_tokens:g}"))


def paper_rows(base: Estimate, new: Estimate) -> list[dict[str, Any]]:
    """Average visual tokens per LLM layer and the prefill FLOPs ratio (compressed / baseline)
    under each paper's formula (core/compression/formulas.py), then costmodel's own."""
    spec, pts, comp = base.model, base.prepared.points, new.workload.compression
    rows = [{"formula": f.name, "flops_ratio": float(np.ravel(paper_flops_ratio(f, spec, pts,
                                                                                comp))[0]),
             "source": f.source} for f in PAPER_FORMULAS]
    pre = new.stages["prefill"].flops / base.stages["prefill"].flops
    ttft = sum(new.stages[s].flops for s in TTFT) / sum(base.stages[s].flops for s in TTFT)
    rows.append({"formula": "costmodel", "flops_ratio": pre,
                 "source": f"prefill stage, all operators and the method's own (with vision "
                           f"and projector: {100 * ttft:.1f}%)"})
    avg = average_visual(base, comp)
    for r in rows:
        r["average_visual_tokens"] = avg
        r["visual_tokens"] = float(np.ravel(pts.visual)[0])
    return rows


def method_ops(new: Estimate) -> list[dict[str, Any]]:
    """The methods' own operators: FLOPs, bytes, what each writes (its transient buffer)."""
    return [{"operator": c.op.name, "stage": c.op.stage, "flops": float(np.ravel(c.flops)[0]),
             "bytes": float(np.ravel(c.bytes)[0]),
             "writes_bytes": float(np.ravel(c.op.act_write_bytes + c.op.kv_write_bytes)[0]),
             "eager_attention": "eager_attn" in c.op.name}
            for c in new.evaluation.op_costs if c.op.name.startswith("compress/")]


def _paper_text(prows: list[dict[str, Any]], ops: list[dict[str, Any]]) -> list[str]:
    r0 = prows[0]
    lines = [f"average visual tokens per LLM layer: {r0['average_visual_tokens']:.1f} of "
             f"{r0['visual_tokens']:g} (sum over layers / layers)", "",
             table([[r["formula"], f"{100 * r['flops_ratio']:.1f}%", r["source"]] for r in prows],
                   ["FLOPs ratio", "LLM", "formula and source"], right={1})]
    if ops:
        lines += ["", table([[o["operator"], o["stage"], si(o["flops"], "FLOP"),
                              si(o["bytes"], "B"), si(o["writes_bytes"], "B")] for o in ops],
                            ["method operator", "stage", "FLOPs", "bytes", "writes"],
                            right={2, 3, 4})]
        eager = [o["operator"] for o in ops if o["eager_attention"]]
        if eager:
            lines.append("eager attention (no FlashAttention) in the scoring layer: "
                         + ", ".join(eager))
    return lines


def render(base: Estimate, comp: Estimate, label: str, rows: list[dict[str, Any]]) -> str:
    def fmt(x: float, unit: str) -> str:
        return seconds(x) if unit == "s" else si(x, unit)

    cells = [[r["metric"], r["stage"], fmt(r["baseline"], r["unit"]),
              fmt(r["compressed"], r["unit"]),
              savings_text(r["savings_pct"])] for r in rows]
    head = header(base, comp, label, ": latency_s, ttft_s, tpot_s and e2e_latency_s are the "
                  "expected latencies on it; bound_* the roofline at the datasheet peaks")
    t = table(cells, ["quantity", "stage", "baseline", "compressed", "savings"],
              right={2, 3, 4})
    return "\n".join(head + ["", t, ""] + _paper_text(paper_rows(base, comp), method_ops(comp)))


def report(base: Estimate, new: Estimate, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """compare-compression's JSON for one scenario (one object of several's `scenarios`)."""
    comp = new.workload.compression
    assert comp is not None
    return {"model": base.model.name, "hardware": base.hardware.id, "compression": comp.label,
            "compression_spec": comp.model_dump(), "rows": rows,
            "paper_formulas": paper_rows(base, new), "method_operators": method_ops(new),
            "baseline": base.to_dict(), "compressed": new.to_dict()}


def _write(fmt: Format, base: Estimate, new: Estimate, plot: Path | None) -> None:
    """One scenario's output: the table, JSON or CSV (and the savings figure with --plot)."""
    rows = compare_rows(base, new)
    if plot is not None:
        import pandas as pd

        save(plots().savings_figure(pd.DataFrame(rows), savings_caption(base, new)), plot, "--plot")
    if fmt is Format.json:
        typer.echo(dumps(report(base, new, rows)))
    elif fmt is Format.csv:
        typer.echo(records_csv([{**r, **context(base, new)} for r in rows]), nl=False)
    else:
        typer.echo(render(base, new, captions.compression_text(new.workload), rows))


def _write_curve(fmt: Format, base: Estimate, keeps: list[str], news: list[Estimate]) -> None:
    """Several scenarios' output (compression_curve.py): one table, one CSV, one JSON."""
    if fmt is Format.table:
        typer.echo(render_curve(base, keeps, news))
        return
    frames = [compare_rows(base, n) for n in news]  # the savings frames JSON and CSV carry
    if fmt is Format.json:
        typer.echo(dumps(curve_doc(base, [report(base, n, r) for n, r in zip(news, frames,
                                                                              strict=True)])))
    else:
        typer.echo(records_csv(curve_records(keeps, frames, [context(base, n) for n in news])),
                   nl=False)


def compare_compression(
    model: str = typer.Argument(..., help=MODEL_HELP),
    hardware: str = typer.Option(..., "--hardware", "-H", help="Hardware id or YAML path."),
    keep: str | None = typer.Option(None, help="Kept visual tokens: ratio 0..1 or a count (of "
                                    "the request's visual tokens, all images together); a comma "
                                    "list (0.1,0.25,0.5) compares one scenario per value, the "
                                    "other compression options applying to each alike."),
    at: str | None = typer.Option(None, help="projector | encoder | llm-layer:K (FastV) | vit "
                                  "(ToMe); default: the method's place, else projector."),
    method: str | None = METHOD,
    schedule: str | None = SCHEDULE,
    kv_keep: str | None = KV_KEEP,
    kv_policy: str | None = KV_POLICY,
    sparse_decode: str | None = SPARSE_DECODE,
    cluster_iters: int | None = typer.Option(None, min=1, max=1000,
                                             help="k-means iterations of --method cluster "
                                             "(default 10)."),
    merge_per_layer: int | None = typer.Option(None, min=0, max=MAX_TOKENS,
                                               help="ToMe r (with --at vit)."),
    overhead: bool = typer.Option(True, help="Count the method's own cost (scores, clustering)."),
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
    sets: list[str] = typer.Option([], "--set", help="What-if KEY=VALUE on the hardware."),
    fmt: Format = FORMAT,
    plot: Path | None = typer.Option(None, "--plot", help="Also draw the savings: out.png|svg|pdf."),
    quiet: bool = QUIET,
) -> None:
    """Baseline vs compressed: FLOPs, bytes, latency per stage; TTFT, TPOT, KV cache, e2e."""
    feedback.also_quiet(quiet)
    keeps = keep_values(keep, plot)
    if plot is not None:
        output_format(plot, "--plot")  # a bad path fails before any work
    comps = [compression_from_options(k, at, method, schedule, kv_keep, kv_policy, cluster_iters,
                                      merge_per_layer, overhead, require=True,
                                      sparse_decode=sparse_decode) for k in keeps]
    base_w = workload_from_values(locals())
    spec, hw = load_model(model), load_hardware(hardware, tuple(sets))
    scenarios = [base_w.model_copy(update={"compression": c}) for c in comps]
    for w in scenarios:
        refuse_unused(spec, w)
        refuse_count_above(spec, w)  # a count above the visual tokens, before any work
    base = run_estimate(spec, hw, base_w)
    news = [run_estimate(spec, hw, w) for w in scenarios]
    if len(news) == 1:
        _write(fmt, base, news[0], plot)
    else:
        _write_curve(fmt, base, [str(k) for k in keeps], news)
