"""`compare-compression --keep 0.1,0.25,0.5`: one compressed scenario per kept value against
the one baseline, the curve a token-compression paper reports ("what do I save at 10, 25, 50%
of the visual tokens?"). The other compression options (--at, --method, --schedule, --kv-keep,
--kv-policy, --sparse-decode, --cluster-iters, --no-overhead) apply to every scenario alike;
--plot draws one scenario and is refused. One value keeps compression_cmd's output as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from costmodel.analysis.compression import average_visual, savings_pct, savings_text
from costmodel.analysis.estimate import Estimate
from costmodel.cli import captions
from costmodel.cli.output import table
from costmodel.errors import CostmodelError
from costmodel.units import count, seconds, si


def refuse_plot(keeps: Sequence[str | None], plot: Path | None) -> None:
    """--plot draws one scenario: refused with several --keep values, before any work."""
    if plot is not None and len(keeps) > 1:
        raise CostmodelError("--plot: draws one --keep at a time; give one value, or use "
                             "-f csv for all of them")


def _pct(base: float, new: float) -> str:
    return savings_text(savings_pct(base, new))


def _cells(keep: str, label: str, e: Estimate, avg: float, base: Estimate | None) -> list[str]:
    """One row: the scenario's figures in human units, then its savings against `base` (none
    for the baseline row itself). TTFT, TPOT and e2e are expected on the engine; TTFT bound is
    the roofline at the datasheet peaks; KV cache and memory at the end of generation (B)."""
    cells = [keep, label, f"{avg:.1f}", si(e.stages["prefill"].flops, "FLOP"),
             si(e.memory.kv_cache_bytes, "B"), si(e.memory.total_memory_bytes, "B"), seconds(e.ttft_s),
             seconds(e.tpot_s), seconds(e.e2e_latency_s), seconds(e.bound.ttft_s)]
    if base is None:
        return cells + ["-"] * 3
    return cells + [_pct(base.ttft_s, e.ttft_s),
                    _pct(base.memory.kv_cache_bytes, e.memory.kv_cache_bytes),
                    _pct(base.e2e_latency_s, e.e2e_latency_s)]


def header(base: Estimate, new: Estimate, label: str, engine_note: str) -> list[str]:
    """The lines above compare-compression's table: model, device and compression; the
    workload; the engine and what is expected on it (`engine_note`)."""
    w, hw, e = base.workload, base.hardware, new.prepared.engine
    return [f"{base.model.name} on {captions.device_text(hw)} | compression: {label}",
            f"batch {w.batch} | {count(base.plan.llm_tokens)} visual tokens + {w.text_tokens} text "
            f"tokens{captions.vtext_caption(base.model, w)} -> {w.output_tokens} output tokens"
            + (f" | {video}" if (video := captions.video_text(base.model, w)) else ""),
            f"engine {e.id} ({e.name}){engine_note}"]


def fit_lines(labels: Sequence[str], ests: Sequence[Estimate]) -> list[str]:
    """One line when the baseline or a scenario does not fit the device's memory (its
    latencies are priced as if it did), naming each run's footprint (per GPU under
    --tp/--pp/--ep) against one GPU's capacity; none when all fit."""
    if all(e.memory.fits for e in ests):
        return []
    parts = [f"{label} {si(m.per_gpu_total_memory_bytes, 'B')} "  # the whole model on 1 GPU
             + ("fits" if m.fits else "DOES NOT FIT")
             for label, m in ((lb, e.memory) for lb, e in zip(labels, ests, strict=True))]
    gpu = " per GPU" if ests[0].memory.gpus > 1 else ""
    return [f"memory{gpu} of {si(ests[0].memory.capacity_bytes, 'B')}: " + " | ".join(parts)
            + " (latencies as if it fit)"]


def render_curve(base: Estimate, keeps: Sequence[str], news: Sequence[Estimate]) -> str:
    """The text table of several scenarios: a row for the baseline, a row per kept value."""
    rows = [_cells("-", "none (baseline)", base, average_visual(base, None), None)]
    rows += [_cells(k, n.workload.compression.label,  # type: ignore[union-attr]
                    n, average_visual(base, n.workload.compression), base)
             for k, n in zip(keeps, news, strict=True)]
    cols = ["keep", "compression", "LLM visual", "prefill FLOPs", "KV cache", "memory", "TTFT",
            "TPOT", "e2e", "TTFT bound", "TTFT saved", "KV saved", "e2e saved"]
    engine = news[0].prepared.engine.id
    note = [f"TTFT, TPOT, e2e and the TTFT and e2e savings: expected on engine {engine}; "
            "TTFT bound: the roofline at the datasheet peaks",
            "LLM visual: average visual tokens per LLM layer | savings: against the baseline "
            "row, positive = less | per stage, paper formulas, method operators: -f json or csv"]
    fit = fit_lines(["baseline"] + [f"keep {k}" for k in keeps], [base, *news])
    return "\n".join(header(base, news[0], "--keep " + ",".join(keeps) + " (a row each)", "")
                     + ["", table(rows, cols, right=set(range(2, len(cols)))), *fit, ""]
                     + note)
