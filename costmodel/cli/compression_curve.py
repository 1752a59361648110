"""`compare-compression --keep 0.1,0.25,0.5`: one compressed scenario per kept value against
the one baseline, the curve a token-compression paper reports ("what do I save at 10, 25, 50%
of the visual tokens?"). The other compression options (--at, --method, --schedule, --kv-keep,
--kv-policy, --sparse-decode, --cluster-iters, --no-overhead) apply to every scenario alike;
--plot draws one scenario and is refused. One value keeps compression_cmd's output as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from costmodel.analysis.estimate import Estimate
from costmodel.cli import captions
from costmodel.cli.compression_options import parse_keep
from costmodel.cli.output import table
from costmodel.core.compression.formulas import average_visual_tokens
from costmodel.errors import CostmodelError
from costmodel.specs.compression import AnyCompression
from costmodel.units import seconds, si


def keep_values(keep: str | None, plot: Path | None) -> list[str | None]:
    """The --keep values in the order given: [keep] for one value or none (passed on as it was:
    compression_from_options parses it), else each item checked as one --keep would be, before
    any work: an empty item, a value that is no ratio or count, a repeated value (0.5 and 0.50
    alike) and --plot (one scenario per figure) are refused in one line."""
    if keep is None or "," not in keep:
        return [keep]
    items = [k.strip() for k in keep.split(",")]
    seen: dict[tuple[float | None, int | None], str] = {}
    for k in items:
        if not k:
            raise CostmodelError(f"--keep: empty item in '{keep}'; separate the values by "
                                 "single commas, e.g. --keep 0.1,0.25,0.5")
        parsed = parse_keep(k)
        if parsed in seen:
            raise CostmodelError(f"--keep: {k} repeats {seen[parsed]} in '{keep}'; give each "
                                 "value once")
        seen[parsed] = k
    if plot is not None:
        raise CostmodelError("--plot: draws one --keep at a time; give one value, or use "
                             "-f csv for all of them")
    return list(items)


def savings_pct(base: float, new: float) -> float | None:
    """Savings of `new` against `base` in percent (positive = less); None where the baseline
    is 0. The one formula behind every savings column of compare-compression."""
    return 100.0 * (1.0 - new / base) if base else None


def savings_text(pct: float | None) -> str:
    """A savings_pct as the tables print it (one decimal, no '-0.0'); '-' for None."""
    return "-" if pct is None else f"{round(pct, 1) + 0.0:.1f}%"


def _pct(base: float, new: float) -> str:
    return savings_text(savings_pct(base, new))


def _cells(keep: str, label: str, e: Estimate, avg: float, base: Estimate | None) -> list[str]:
    """One row: the scenario's figures in human units, then its savings against `base` (none
    for the baseline row itself). TTFT, TPOT and e2e are expected on the engine; TTFT bound is
    the roofline at the datasheet peaks; KV cache and memory at the end of generation (B)."""
    cells = [keep, label, f"{avg:.1f}", si(e.stages["prefill"].flops, "FLOP"),
             si(e.memory.kv_cache_bytes, "B"), si(e.memory.total_bytes, "B"), seconds(e.ttft_s),
             seconds(e.tpot_s), seconds(e.e2e_latency_s), seconds(e.bound.ttft_s)]
    if base is None:
        return cells + ["-"] * 3
    return cells + [_pct(base.ttft_s, e.ttft_s),
                    _pct(base.memory.kv_cache_bytes, e.memory.kv_cache_bytes),
                    _pct(base.e2e_latency_s, e.e2e_latency_s)]


def average_visual(base: Estimate, comp: AnyCompression | None) -> float:
    """Average visual tokens per LLM layer (sum over layers / layers) under `comp`, on the
    baseline's points: the 'average visual tokens per LLM layer' line of one scenario."""
    return float(np.ravel(average_visual_tokens(base.model, base.prepared.points, comp))[0])


def header(base: Estimate, new: Estimate, label: str, engine_note: str) -> list[str]:
    """The lines above compare-compression's table: model, device and compression; the
    workload; the engine and what is expected on it (`engine_note`)."""
    w, hw, e = base.workload, base.hardware, new.prepared.engine
    changed = f" [changed: {', '.join(hw.changes)}]" if hw.changes else ""  # as estimate's
    return [f"{base.model.name} on {hw.name} ({hw.id}){changed} | compression: {label}",
            f"batch {w.batch} | {base.plan.llm_tokens:g} visual tokens + {w.text_tokens} text "
            f"tokens{captions.vtext_caption(base.model, w)} -> {w.output_tokens} output tokens"
            + (f" | {video}" if (video := captions.video_text(base.model, w)) else ""),
            f"engine {e.id} ({e.name}){engine_note}"]


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
    return "\n".join(header(base, news[0], "--keep " + ",".join(keeps) + " (a row each)", "")
                     + ["", table(rows, cols, right=set(range(2, len(cols)))), ""] + note)


def curve_records(keeps: Sequence[str], frames: Sequence[list[dict[str, Any]]],
                  contexts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """compare-compression's CSV records of every scenario one after another: the savings
    frame, its context columns and `keep` (the value as given) after `compression`."""
    out = []
    for k, rows, ctx in zip(keeps, frames, contexts, strict=True):
        cols: dict[str, Any] = {}
        for name, value in ctx.items():
            cols[name] = value
            if name == "compression":
                cols["keep"] = k
        out += [{**r, **cols} for r in rows]
    return out


def curve_doc(base: Estimate, docs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """compare-compression's JSON for several scenarios: one object per value, each with the
    keys of the one-value JSON."""
    return {"model": base.model.name, "hardware": base.hardware.id,
            "engine": base.prepared.engine.id, "scenarios": list(docs)}
