"""The Python API of `costmodel compare-compression`: one baseline request against one or
several token-compression scenarios (`compare_compression(...)` -> CompressionComparison).

The CLI command builds its scenarios with `scenario_compressions` and evaluates them with
`compare_scenarios`, as `compare_compression` does, and prints this module's documents:
`--format json` is `to_dict()`, `--format csv` is `records()` (`frame()` as a DataFrame), so the
notebook and the command cannot disagree (tests/cli/test_compare_compression_api.py).
Base units throughout (FLOPs, bytes, seconds); savings in percent, positive = less.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from costmodel.analysis.arguments import (
    HardwareArg,
    ModelArg,
    compression_keywords,
    hardware_arg,
    model_arg,
    refuse_compression_fields,
    workload_arg,
)
from costmodel.analysis.compression_options import (
    compression_from_options,
    keep_values,
    parse_keep,
    refuse_count_above,
)
from costmodel.analysis.estimate import Estimate, point
from costmodel.analysis.labels import compression_text, dtype_text
from costmodel.analysis.refusals import refuse_unused
from costmodel.core.compression.formulas import (
    PAPER_FORMULAS,
    paper_flops_ratio,
    visual_token_counts,
)
from costmodel.errors import CostmodelError
from costmodel.specs.compression import AnyCompression, CompressionPlan
from costmodel.specs.hardware import HardwareProfile
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import Workload
from costmodel.units import seconds, si

if TYPE_CHECKING:
    import pandas as pd

TTFT = ("vision", "projector", "prefill")
_TOTALS: tuple[tuple[str, str, Callable[[Estimate], float]], ...] = (
    ("ttft_s", "s", lambda e: e.ttft_s), ("tpot_s", "s", lambda e: e.tpot_s),
    ("e2e_latency_s", "s", lambda e: e.e2e_latency_s),
    ("bound_ttft_s", "s", lambda e: e.bound.ttft_s),
    ("bound_tpot_s", "s", lambda e: e.bound.tpot_s),
    ("bound_e2e_latency_s", "s", lambda e: e.bound.e2e_latency_s),
    ("kv_cache_bytes", "B", lambda e: e.memory.kv_cache_bytes),
    ("total_memory_bytes", "B", lambda e: e.memory.total_memory_bytes))


def savings_pct(base: float, new: float) -> float | None:
    """Savings of `new` against `base` in percent (positive = less); None where the baseline
    is 0. The one formula behind every savings column of compare-compression."""
    return 100.0 * (1.0 - new / base) if base else None


def savings_text(pct: float | None) -> str:
    """A savings_pct as the tables print it (one decimal, no '-0.0'); '-' for None."""
    return "-" if pct is None else f"{round(pct, 1) + 0.0:.1f}%"


def compare_rows(base: Estimate, comp: Estimate) -> list[dict[str, Any]]:
    """(metric, stage, unit, baseline, compressed, savings_pct) in base units: the savings
    frame of costmodel/plots (per-request metrics under stage 'total'); latencies on the
    engine, and the same at the roofline bound (metrics bound_*)."""
    rows = []
    for s in base.stages:
        b, c = base.stages[s], comp.stages[s]
        rows += [{"metric": q, "stage": s, "unit": u, "baseline": getattr(b, q),
                  "compressed": getattr(c, q)}
                 for q, u in (("flops", "FLOP"), ("bytes", "B"), ("latency_s", "s"),
                              ("bound_latency_s", "s"))]
    for q, u, get in _TOTALS:
        rows.append({"metric": q, "stage": "total", "unit": u, "baseline": get(base),
                     "compressed": get(comp)})
    for r in rows:
        r["savings_pct"] = savings_pct(r["baseline"], r["compressed"])
    return rows


def context(base: Estimate, new: Estimate) -> dict[str, Any]:
    """What the savings are of, as CSV columns after the savings frame (`plot savings` titles
    its figure with them): visual_tokens the request's; llm_visual_tokens those entering the
    LLM's first layer under the compression (a projector keep's kept count), and
    average_visual_tokens their mean over the LLM's layers (FastV, schedules)."""
    w = new.workload
    entering, mean = visual_counts(base, w.compression)
    return {"model": base.model.name, "hardware": base.hardware.id,
            "device": base.hardware.name, "compression": compression_text(w),
            "visual_tokens": base.plan.llm_tokens,
            "llm_visual_tokens": int(entering) if entering.is_integer() else entering,
            "average_visual_tokens": mean,
            "text_tokens": w.text_tokens,
            "output_tokens": w.output_tokens, "batch": w.batch,
            "dtype": dtype_text(w, base.model), "engine": new.prepared.engine.id}


def visual_counts(base: Estimate, comp: AnyCompression | None) -> tuple[float, float]:
    """(entering, average) visual tokens under `comp` on the baseline's first point, from one
    compress_points (core.compression.formulas.visual_token_counts)."""
    first, mean = visual_token_counts(base.model, base.prepared.points, comp)
    return float(np.ravel(first)[0]), float(np.ravel(mean)[0])


def average_visual(base: Estimate, comp: AnyCompression | None) -> float:
    """Average visual tokens per LLM layer (sum over layers / layers) under `comp`, on the
    baseline's points: the 'average visual tokens per LLM layer' line of one scenario."""
    return visual_counts(base, comp)[1]


def compresses_visual(comp: AnyCompression | None) -> bool:
    """Whether `comp` removes visual tokens (a stage), not only the KV cache or decode reads."""
    return comp is not None and (not isinstance(comp, CompressionPlan) or bool(comp.stages))


def paper_rows(base: Estimate, new: Estimate) -> list[dict[str, Any]] | None:
    """Average visual tokens per LLM layer and the prefill FLOPs ratio (compressed / baseline)
    under each paper's formula (core/compression/formulas.py), then costmodel's own.
    visual_tokens: the request's (an int); average_visual_tokens: a float, a mean over the
    LLM's layers that is fractional where layers keep different counts (FastV, a schedule).
    None (JSON null) where the scenario removes no visual tokens (KV-cache compression or
    sparse decode only): every formula would read 100%."""
    spec, pts, comp = base.model, base.prepared.points, new.workload.compression
    if not compresses_visual(comp):
        return None
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
        r["visual_tokens"] = base.plan.llm_tokens
    return rows


def method_ops(new: Estimate) -> list[dict[str, Any]]:
    """The methods' own operators: FLOPs, bytes, what each writes (its transient buffer)."""
    return [{"operator": c.op.name, "stage": c.op.stage, "flops": float(np.ravel(c.flops)[0]),
             "bytes": float(np.ravel(c.bytes)[0]),
             "writes_bytes": float(np.ravel(c.op.act_write_bytes + c.op.kv_write_bytes)[0]),
             "eager_attention": "eager_attn" in c.op.name}
            for c in new.evaluation.op_costs if c.op.name.startswith("compress/")]


def report(base: Estimate, new: Estimate) -> dict[str, Any]:
    """compare-compression's JSON for one scenario (one object of several's `scenarios`)."""
    comp = new.workload.compression
    assert comp is not None
    return {"model": base.model.name, "hardware": base.hardware.id, "compression": comp.label,
            "compression_spec": comp.model_dump(), "rows": compare_rows(base, new),
            "paper_formulas": paper_rows(base, new), "method_operators": method_ops(new),
            "baseline": base.to_dict(), "compressed": new.to_dict()}


def keep_number(keep: str | None) -> float | int | None:
    """A --keep value as a number, read as parse_keep reads it: a ratio (a float, up to 1) or
    a token count (an int, above 1); None where no keep was given."""
    if keep is None:
        return None
    ratio, count = parse_keep(keep)
    return count if ratio is None else ratio


def curve_records(keeps: Sequence[str | None], frames: Sequence[list[dict[str, Any]]],
                  contexts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """compare-compression's CSV records of every scenario one after another: the savings
    frame, its context columns and, after `compression` where any keep was given (one or
    several), `keep` (the value as a number: a ratio up to 1, a token count above;
    keep_number) and `keep_label` (the text as given)."""
    out, any_keep = [], any(k is not None for k in keeps)
    for k, rows, ctx in zip(keeps, frames, contexts, strict=True):
        cols: dict[str, Any] = {}
        for name, value in ctx.items():
            cols[name] = value
            if name == "compression" and any_keep:
                cols["keep"], cols["keep_label"] = keep_number(k), k
        out += [{**r, **cols} for r in rows]
    return out


@dataclass(frozen=True)
class CompressionComparison:
    """A baseline request and its compressed scenarios (one per kept value), all Estimates.
    `keeps`: each scenario's keep as given (text; None where keep= was not given). to_dict():
    `compare-compression --format json` (one scenario: its document; several: `scenarios`);
    records() / frame(): `--format csv` (the savings frame of each scenario, its context
    columns, and where keep= was given, one or several, `keep`, a number, and `keep_label`,
    the text as given);
    savings(i): scenario i's savings rows."""

    baseline: Estimate
    compressed: tuple[Estimate, ...]
    keeps: tuple[str | None, ...]

    def savings(self, i: int = 0) -> list[dict[str, Any]]:
        """(metric, stage, unit, baseline, compressed, savings_pct) of scenario i."""
        return compare_rows(self.baseline, self.compressed[i])

    def records(self) -> list[dict[str, Any]]:
        """The rows of `--format csv`, as dicts (savings_pct None where the baseline is 0)."""
        base = self.baseline  # one keep or several: the same columns
        return curve_records(self.keeps, [compare_rows(base, n) for n in self.compressed],
                             [context(base, n) for n in self.compressed])

    def frame(self) -> pd.DataFrame:
        """records() as a DataFrame: the values of `--format csv` (`keep` a number: float
        ratios, int counts, float where both are given; `keep_label` the text as given)."""
        import pandas as pd

        return pd.DataFrame(self.records())

    def to_dict(self) -> dict[str, Any]:
        """The document of `--format json` (base units; JSON-ready but NaN, which the CLI
        writes as null)."""
        base = self.baseline
        docs = [report(base, n) for n in self.compressed]
        if len(docs) == 1:
            return docs[0]
        return {"model": base.model.name, "hardware": base.hardware.id,
                "engine": base.prepared.engine.id, "scenarios": docs}

    def __repr__(self) -> str:
        b = self.baseline
        parts = [f"{n.workload.compression.label if n.workload.compression else 'none'}: "
                 f"TTFT {seconds(n.ttft_s)} ({_saved(b.ttft_s, n.ttft_s)} saved), e2e "
                 f"{seconds(n.e2e_latency_s)} ({_saved(b.e2e_latency_s, n.e2e_latency_s)} "
                 f"saved){_unfit(n)}"
                 for n in self.compressed]
        return (f"<CompressionComparison {b.model.name} on {b.hardware.id}, engine "
                f"{b.prepared.engine.id} | baseline TTFT {seconds(b.ttft_s)}, e2e "
                f"{seconds(b.e2e_latency_s)}{_unfit(b)} | {' | '.join(parts)}>")


def _unfit(e: Estimate) -> str:
    """', does not fit (28.8 GB of 24 GB)' where the run's memory exceeds the device's (as
    Estimate's repr says it), else nothing."""
    m = e.memory  # the most loaded GPU's footprint, as `fits` reads it (the whole model on 1)
    return "" if m.fits else (f", does not fit ({si(m.per_gpu_total_memory_bytes, 'B')} of "
                              f"{si(m.capacity_bytes, 'B')})")


def _saved(base: float, new: float) -> str:
    return savings_text(savings_pct(base, new))


def scenario_compressions(keeps: Sequence[str | None],
                          **options: Any) -> list[AnyCompression | None]:
    """One compression per kept value, the other options (at, method, schedule, kv_keep,
    kv_policy, cluster_iters, merge_per_layer, overhead, sparse_decode: text, as the CLI's)
    alike for each; a scenario that compresses nothing is refused (--keep: give ...)."""
    return [compression_from_options(k, require=True, **options) for k in keeps]


def compare_scenarios(spec: ModelSpec, hw: HardwareProfile, base_w: Workload,
                      keeps: Sequence[str | None],
                      comps: Sequence[AnyCompression | None]) -> CompressionComparison:
    """The baseline workload and one scenario per compression, each refused as `estimate`
    refuses it (and a kept count above the visual tokens) before any is evaluated."""
    scenarios = [base_w.model_copy(update={"compression": c}) for c in comps]
    for k, w in zip(keeps, scenarios, strict=True):
        try:
            refuse_unused(spec, w)
            refuse_count_above(spec, w)  # a count above the visual tokens, before any work
        except CostmodelError as e:
            if len(keeps) < 2 or str(e).startswith("--keep:"):  # that line names its keep
                raise
            raise CostmodelError(f"{e} (in the --keep {k} scenario)") from None
    base = point(spec, hw, base_w)
    return CompressionComparison(base, tuple(point(spec, hw, w) for w in scenarios),
                                 tuple(keeps))


def compare_compression(model: ModelArg, hardware: HardwareArg, workload: Workload | None = None,
                        *, keep: Any = None, at: str | None = None, method: str | None = None,
                        schedule: Any = None, kv_keep: Any = None, kv_policy: str | None = None,
                        sparse_decode: Any = None, cluster_iters: int | None = None,
                        merge_per_layer: int | None = None, overhead: bool = True,
                        **fields: Any) -> CompressionComparison:
    """`costmodel compare-compression` from Python: the request without compression against
    one scenario per kept value. keep: a ratio 0..1 or a count (float, int or text), or a list
    of them (one scenario each, the other options alike for each); at: 'projector', 'encoder',
    'vit' or 'llm-layer:K'; method: a named method ('fastv', 'visionzip', 'tempmerge:0.5', ...);
    schedule: 'LAYER:TOKENS,...' or [(layer, tokens), ...]; kv_keep: a ratio or a per-layer
    budget; kv_policy: 'uniform', 'pyramid', 'sink_window[:rolling]', 'retrieval_heads[:SHARE]';
    sparse_decode: K or 'K:LAYERS'. Model, hardware, workload and keyword fields as
    `costmodel.estimate`. Bad input raises CostmodelError: one line naming the option (its CLI
    spelling, --kv-keep for kv_keep) and the fix, as the CLI refuses it."""
    if "compression" in fields or (workload is not None and getattr(workload, "compression", None)):
        raise CostmodelError("compression: compare_compression builds the compressed scenarios "
                             "from keep=, at=, method=, schedule=, kv_keep=, ...; give the "
                             "workload without compression (estimate() takes compression=)")
    refuse_compression_fields(fields)
    opts = compression_keywords(keep=keep, at=at, method=method, schedule=schedule,
                                kv_keep=kv_keep, kv_policy=kv_policy, sparse_decode=sparse_decode,
                                cluster_iters=cluster_iters, merge_per_layer=merge_per_layer,
                                overhead=overhead)
    keeps = keep_values(opts.pop("keep"))
    comps = scenario_compressions(keeps, **opts)
    w = workload_arg(workload, fields)
    spec, hw = model_arg(model), hardware_arg(hardware)
    return compare_scenarios(spec, hw, w, keeps, comps)
