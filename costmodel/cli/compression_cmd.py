"""`costmodel compare-compression`: baseline vs one token-compression scenario, with savings."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

from costmodel.analysis.estimate import Estimate
from costmodel.analysis.estimate import estimate as run_estimate
from costmodel.cli.common import (
    BATCH,
    CONVENTION,
    DTYPE,
    ENGINE,
    FLASH,
    FORMAT,
    IMAGE_SIZE,
    IMAGES,
    KV_DTYPE,
    LOGITS,
    MICROBATCHES,
    OUTPUT_TOKENS,
    OVERLAP,
    PP,
    TEXT_TOKENS,
    TP,
    VISUAL_TOKENS,
    WEIGHT_DTYPE,
    Format,
    dumps,
    records_csv,
    refuse_unused,
    table,
    workload_from_options,
)
from costmodel.cli.plot_cmd import output_format, plots, save
from costmodel.errors import CostmodelError, one_line
from costmodel.loading.load import load_hardware, load_model
from costmodel.specs.compression import Compression
from costmodel.specs.workload import MAX_TOKENS
from costmodel.units import DType, seconds, si


def parse_at(text: str) -> tuple[str, int | None]:
    """'projector' | 'llm-layer:K' | 'vit' -> (where, K)."""
    t = text.strip().lower()
    if t in ("projector", "vit"):
        return t, None
    head, _, k = t.partition(":")
    if head in ("llm-layer", "llm_layer") and k.strip().isdigit() and int(k) >= 1:
        return "llm_layer", int(k)
    raise CostmodelError(f"--at: '{text}' is not projector, llm-layer:K (K >= 1) or vit")


def parse_keep(text: str) -> tuple[float | None, int | None]:
    """'0.1' -> ratio 0.1; '64' -> 64 tokens. Values up to 1 are ratios, larger ones counts."""
    try:
        x = float(text)
    except ValueError:
        raise CostmodelError(f"--keep: '{text}' is not a ratio (0..1) or a token count") from None
    if not math.isfinite(x) or x < 0:
        raise CostmodelError(f"--keep: '{text}' must be a ratio in 0..1 or a count >= 2")
    if x <= 1.0:
        return x, None
    if x != int(x):
        raise CostmodelError(f"--keep: '{text}' is above 1, so it must be a whole token count")
    return None, int(x)


def _check_clash(where: str, keep: str | None, count: int | None,
                 merge_per_layer: int | None) -> None:
    """Option combinations that name nothing to do, or something another place ignores."""
    if where == "vit" and count is not None:
        raise CostmodelError("--keep: with --at vit give a ratio (0..1) or --merge-per-layer")
    if where == "vit" and keep is not None and merge_per_layer is not None:
        raise CostmodelError("--keep: --at vit takes --keep RATIO or --merge-per-layer R, not "
                             "both (R decides and the ratio would be ignored)")
    if where == "vit" and keep is None and merge_per_layer is None:
        raise CostmodelError("--keep: --at vit needs --keep RATIO or --merge-per-layer R, "
                             "e.g. --keep 0.5")
    if where != "vit" and merge_per_layer is not None:
        raise CostmodelError("--merge-per-layer: only --at vit merges per layer; drop it or "
                             "use --at vit")
    if where != "vit" and keep is None:
        raise CostmodelError("--keep: give the visual tokens kept, a ratio 0..1 or a count, "
                             "e.g. --keep 0.1")


def build_compression(keep: str | None, at: str, method: str | None, cluster_iters: int,
                      merge_per_layer: int | None, overhead: bool) -> Compression:
    where, layer = parse_at(at)
    ratio, count = parse_keep(keep) if keep is not None else (None, None)
    _check_clash(where, keep, count, merge_per_layer)
    fields = {"where": where, "keep_ratio": ratio, "keep_tokens": count, "layer": layer,
              "merge_per_layer": merge_per_layer, "method": method,
              "cluster_iters": cluster_iters, "overhead": overhead}
    try:
        return Compression(**fields)
    except ValidationError as e:
        raise CostmodelError(one_line(e, "compression")) from None


def optional_compression(keep: str | None, at: str) -> Compression | None:
    """The --keep/--at compression of sweep, compare, plan, ... (None without --keep; an --at
    of its own would place nothing, so it is refused)."""
    if keep is None:
        if at.strip().lower() != "projector":
            raise CostmodelError(f"--at: '{at[:40]}' places a compression; give --keep too, "
                                 "e.g. --keep 0.5")
        return None
    return build_compression(keep, at, None, 10, None, True)


def _pct(base: float, new: float) -> float | None:
    return 100.0 * (1.0 - new / base) if base else None


def compare_rows(base: Estimate, comp: Estimate) -> list[dict[str, Any]]:
    """(metric, stage, unit, baseline, compressed, savings_pct) in base units: the savings
    frame of costmodel/plots.py (per-request metrics under stage 'total')."""
    rows = []
    for s in base.stages:
        b, c = base.stages[s], comp.stages[s]
        rows += [{"metric": q, "stage": s, "unit": u, "baseline": getattr(b, q),
                  "compressed": getattr(c, q)}
                 for q, u in (("flops", "FLOP"), ("bytes", "B"), ("latency_s", "s"))]
    for q, u, get in (("ttft_s", "s", lambda e: e.ttft_s), ("tpot_s", "s", lambda e: e.tpot_s),
                      ("e2e_latency_s", "s", lambda e: e.e2e_latency_s),
                      ("kv_cache_bytes", "B", lambda e: e.memory.kv_cache_bytes),
                      ("total_memory_bytes", "B", lambda e: e.memory.total_bytes)):
        rows.append({"metric": q, "stage": "total", "unit": u, "baseline": get(base),
                     "compressed": get(comp)})
    for r in rows:
        r["savings_pct"] = _pct(r["baseline"], r["compressed"])
    return rows


def render(base: Estimate, comp: Estimate, label: str, rows: list[dict[str, Any]]) -> str:
    def fmt(x: float, unit: str) -> str:
        return seconds(x) if unit == "s" else si(x, unit)

    cells = [[r["metric"], r["stage"], fmt(r["baseline"], r["unit"]),
              fmt(r["compressed"], r["unit"]),
              "-" if r["savings_pct"] is None else f"{round(r['savings_pct'], 1) + 0.0:.1f}%"] for r in rows]
    w = base.workload
    hw = base.hardware
    head = [f"{base.model.name} on {hw.name} ({hw.id}) | compression: {label}",
            f"batch {w.batch} | {base.plan.llm_tokens:g} visual tokens + {w.text_tokens} text "
            f"tokens -> {w.output_tokens} output tokens"]
    extra = [o.op.name for o in comp.evaluation.op_costs if o.op.name.startswith("compress/")]
    tail = [f"method overhead operators: {', '.join(extra)}"] if extra else []
    t = table(cells, ["quantity", "stage", "baseline", "compressed", "savings"],
              right={2, 3, 4})
    return "\n".join(head + ["", t, ""] + tail)


def compare_compression(
    model: str = typer.Argument(..., help="Zoo id (costmodel models list) or config.json path."),
    hardware: str = typer.Option(..., "--hardware", "-H", help="Hardware id or YAML path."),
    keep: str | None = typer.Option(None, help="Kept visual tokens: ratio 0..1 or a count."),
    at: str = typer.Option("projector", help="projector | llm-layer:K (FastV) | vit (ToMe)."),
    method: str | None = typer.Option(None, help="projector: select|cluster|merge."),
    cluster_iters: int = typer.Option(10, min=1, max=1000,
                                      help="k-means iterations (method cluster)."),
    merge_per_layer: int | None = typer.Option(None, min=0, max=MAX_TOKENS,
                                               help="ToMe r (with --at vit)."),
    overhead: bool = typer.Option(True, help="Count the method's own cost (scores, clustering)."),
    visual_tokens: int | None = VISUAL_TOKENS,
    images: int = IMAGES,
    image_size: str | None = IMAGE_SIZE,
    text_tokens: int = TEXT_TOKENS,
    output_tokens: int = OUTPUT_TOKENS,
    batch: int = BATCH,
    dtype: DType = DTYPE,
    weight_dtype: DType | None = WEIGHT_DTYPE,
    kv_dtype: DType | None = KV_DTYPE,
    flash_attention: bool | None = FLASH,
    overlap: str = OVERLAP,
    logits: str = LOGITS,
    convention: str = CONVENTION,
    engine: str | None = ENGINE,
    tp: int = TP,
    pp: int = PP,
    microbatches: int | None = MICROBATCHES,
    sets: list[str] = typer.Option([], "--set", help="What-if KEY=VALUE on the hardware."),
    fmt: Format = FORMAT,
    plot: Path | None = typer.Option(None, "--plot", help="Also draw the savings: out.png|svg|pdf."),
) -> None:
    """Baseline vs compressed: FLOPs, bytes, latency per stage; TTFT, TPOT, KV cache, e2e."""
    if plot is not None:
        output_format(plot, "--plot")  # a bad path fails before any work
    comp = build_compression(keep, at, method, cluster_iters, merge_per_layer, overhead)
    base_w = workload_from_options(
        batch=batch, visual_tokens=visual_tokens, images=images, image_size=image_size,
        text_tokens=text_tokens, output_tokens=output_tokens, dtype=dtype,
        weight_dtype=weight_dtype, kv_dtype=kv_dtype, flash_attention=flash_attention,
        overlap=overlap, logits=logits, convention=convention, engine=engine, tp=tp,
        pp=pp, microbatches=microbatches)
    spec, hw = load_model(model), load_hardware(hardware, tuple(sets))
    refuse_unused(spec, base_w)
    base = run_estimate(spec, hw, base_w)
    if comp.keep_tokens is not None and comp.keep_tokens > base.plan.llm_tokens:
        raise CostmodelError(f"--keep: {comp.keep_tokens} tokens kept, but {spec.name} has "
                             f"{base.plan.llm_tokens:g} visual tokens here; keep fewer or give "
                             "a ratio")
    new = run_estimate(spec, hw, base_w.model_copy(update={"compression": comp}))
    rows = compare_rows(base, new)
    if plot is not None:
        import pandas as pd

        fig = plots().savings_figure(pd.DataFrame(rows), f"{spec.name} on {hw.id}: {comp.label}")
        save(fig, plot, "--plot")
    if fmt is Format.json:
        typer.echo(dumps({"model": spec.name, "hardware": hw.id, "compression": comp.label,
                          "compression_spec": comp.model_dump(), "rows": rows,
                          "baseline": base.to_dict(), "compressed": new.to_dict()}))
    elif fmt is Format.csv:
        typer.echo(records_csv(rows), nl=False)
    else:
        typer.echo(render(base, new, comp.label, rows))
