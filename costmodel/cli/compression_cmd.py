"""`costmodel compare-compression`: baseline vs a token-compression scenario, with savings (several
--keep values: one scenario each, compression_curve.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from costmodel.analysis.compression import (
    CompressionComparison,
    compare_scenarios,
    method_ops,
    paper_rows,
    savings_text,
    scenario_compressions,
)
from costmodel.analysis.compression_options import keep_values
from costmodel.analysis.estimate import Estimate
from costmodel.cli import captions, feedback
from costmodel.cli.compression_curve import fit_lines, header, refuse_plot, render_curve
from costmodel.cli.compression_options import (
    CLUSTER_ITERS,
    KV_KEEP,
    KV_POLICY,
    MERGE_PER_LAYER,
    METHOD,
    OVERHEAD,
    SCHEDULE,
    SPARSE_DECODE,
)
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
    QUIET,
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
from costmodel.cli.output import Format, dumps, records_csv, table
from costmodel.cli.plot_cmd import output_format, plots, save
from costmodel.loading.load import load_hardware, load_model
from costmodel.units import DType, count, seconds, si


def savings_caption(base: Estimate, new: Estimate) -> str:
    """Title of the savings figure: model, device, workload, engine, compression."""
    return captions.caption("Savings", base.model.name, captions.device_text(base.hardware),
                            engine=new.prepared.engine.id,
                            **captions.workload_fields(new.workload,
                                                       count(base.plan.llm_tokens),
                                                       spec=base.model))


def _paper_text(prows: list[dict[str, Any]] | None, ops: list[dict[str, Any]]) -> list[str]:
    """The paper formulas' FLOPs ratios (none where no visual token is removed: paper_rows)
    and the method's own operators."""
    lines: list[str] = []
    if prows is not None:
        r0 = prows[0]
        lines += [f"average visual tokens per LLM layer: {r0['average_visual_tokens']:.1f} of "
                  f"{count(r0['visual_tokens'])} (sum over layers / layers)", "",
                  table([[r["formula"], f"{100 * r['flops_ratio']:.1f}%", r["source"]]
                         for r in prows], ["FLOPs ratio", "LLM", "formula and source"],
                        right={1})]
    if ops:
        lines += [""] if lines else []  # render puts a blank line before the first
        lines.append(table([[o["operator"], o["stage"], si(o["flops"], "FLOP"),
                             si(o["bytes"], "B"), si(o["writes_bytes"], "B")] for o in ops],
                           ["method operator", "stage", "FLOPs", "bytes", "writes"],
                           right={2, 3, 4}))
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
    fit = fit_lines(["baseline", "compressed"], [base, comp])
    more = _paper_text(paper_rows(base, comp), method_ops(comp))
    host = [base.host_note] if base.host_note else []  # a Jetson's own host CPU, as estimate
    return "\n".join(head + ["", t, *fit, *host] + (["", *more] if more else []))


def _write(fmt: Format, result: CompressionComparison, plot: Path | None) -> None:
    """The output: --format json is result.to_dict(), csv result.records() (the Python API's
    documents, analysis/compression.py); the table one scenario's rows with the paper formulas
    and method operators, or several scenarios a row each (compression_curve.py); --plot draws
    one scenario's savings."""
    base, news = result.baseline, result.compressed
    if plot is not None:
        import pandas as pd

        save(plots().savings_figure(pd.DataFrame(result.savings()),
                                    savings_caption(base, news[0])), plot, "--plot")
    if fmt is Format.json:
        typer.echo(dumps(result.to_dict()))
    elif fmt is Format.csv:
        typer.echo(records_csv(result.records()), nl=False)
    elif len(news) == 1:
        typer.echo(render(base, news[0], captions.compression_text(news[0].workload),
                          result.savings()))
    else:
        typer.echo(render_curve(base, [str(k) for k in result.keeps], news))


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
    cluster_iters: int | None = CLUSTER_ITERS,
    merge_per_layer: int | None = MERGE_PER_LAYER,
    overhead: bool = OVERHEAD,
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
    keeps = keep_values(keep)
    refuse_plot(keeps, plot)
    if plot is not None:
        output_format(plot, "--plot")  # a bad path fails before any work
    comps = scenario_compressions(keeps, at=at, method=method, schedule=schedule, kv_keep=kv_keep,
                                  kv_policy=kv_policy, cluster_iters=cluster_iters,
                                  merge_per_layer=merge_per_layer, overhead=overhead,
                                  sparse_decode=sparse_decode)
    base_w = workload_from_values(locals())
    spec, hw = load_model(model), load_hardware(hardware, tuple(sets))
    refuse_default_dtype(hw, base_w.act_dtype, "compare-compression")
    # the Python API's steps (costmodel.compare_compression), so both give the same documents
    _write(fmt, compare_scenarios(spec, hw, base_w, keeps, comps), plot)
