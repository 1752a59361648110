"""SLO capacity planning per device: the records of `costmodel plan` and its Python API,
`costmodel.plan(...)` -> DevicePlan; and the SLO both read from their two limits.

The CLI command builds its rows with `plan_records` over analysis/plan.py's `plan` on the same
default device list (device_ranking.default_devices), its SLO with `slo_of` (the same checks,
each refusal spelled as the caller names the arguments: the CLI's options or the API's
keywords) and prints them: `--format json` is `DevicePlan.records()`, `--format csv` the same
rows (`frame()` as a DataFrame), so the notebook and the command cannot disagree
(tests/cli/test_plan_api.py). Base units throughout (seconds, bytes). Pure: no I/O.
"""

from __future__ import annotations

import numbers
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from costmodel.analysis.arguments import ModelArg, whole
from costmodel.analysis.device_ranking import Rows, device_fields, devices_for, model_and_workload
from costmodel.analysis.plan import PlanResult, Slo
from costmodel.analysis.plan import plan as plan_fleet
from costmodel.errors import CostmodelError
from costmodel.specs.workload import MAX_BATCH, Workload
from costmodel.units import seconds

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class Spelling:
    """How a refusal names the SLO's arguments: the CLI's options or the API's keywords."""

    ttft: str
    tpot: str
    output_tokens: str
    microbatches: str
    batching: str
    assign: str  # between a name and its value: '--ttft 0.3' or 'ttft_s=0.3'
    join: str  # between two settings

    def set(self, name: str, value: float) -> str:
        return f"{name}{self.assign}{value}"


PYTHON = Spelling("ttft_s", "tpot_s", "output_tokens", "parallel.microbatches",
                  "costmodel.batching(batch=...)", "=", ", ")
CLI = Spelling("--ttft", "--tpot", "--output-tokens", "--microbatches", "batching --batch",
               " ", " ")


def slo_of(ttft_s: Any, tpot_s: Any, output_tokens: int, *, required: bool,
           names: Spelling = PYTHON) -> Slo:
    """The SLO of `plan` and `capacity` from its TTFT and TPOT limits (seconds; an absent one,
    None, is no limit, inf). Each given value must be a positive finite number of seconds (inf
    is what leaving it out means, so it is refused, as nan, 0 and negatives are); a TPOT SLO
    needs a token after the first; `required`: at least one of the two must be given."""
    for name, v, example in ((names.ttft, ttft_s, "0.3"), (names.tpot, tpot_s, "0.05")):
        if v is None:
            continue
        if not isinstance(v, numbers.Real) or isinstance(v, bool):
            raise CostmodelError(f"{name}: got {type(v).__name__}; give a number of seconds, "
                                 f"e.g. {example}")
        if not (np.isfinite(float(v)) and float(v) > 0):
            raise CostmodelError(f"{name}: {v} is not a positive finite number of seconds, "
                                 f"e.g. {example}")
    if required and ttft_s is None and tpot_s is None:
        raise CostmodelError(f"{names.ttft}/{names.tpot}: give at least one SLO, e.g. "
                             f"{names.set(names.ttft, 0.3)}{names.join}"
                             f"{names.set(names.tpot, 0.05)}")
    if tpot_s is not None and output_tokens < 2:  # TPOT: the time per token after the first
        raise CostmodelError(f"{names.tpot}: with {names.set(names.output_tokens, 1)} no token "
                             f"follows the first; give {names.set(names.output_tokens, 2)} or "
                             f"more, or drop {names.tpot}")
    return Slo(np.inf if ttft_s is None else float(ttft_s),
               np.inf if tpot_s is None else float(tpot_s))


def slo_text(slo: Slo) -> str:
    """'SLO TTFT <= 300 ms, TPOT <= any' for a table's first line (inf: 'any')."""
    def one(x: float) -> str:
        return seconds(x) if np.isfinite(x) else "any"

    return f"SLO TTFT <= {one(slo.ttft_s)}, TPOT <= {one(slo.tpot_s)}"


def refuse_split(microbatches: int | None, max_batch: int, names: Spelling = PYTHON) -> None:
    """plan searches batch 1, 2, 3, ...: M > 1 microbatches divide none but some."""
    if (microbatches or 1) > 1:
        raise CostmodelError(f"{names.microbatches}: plan searches every batch 1..{max_batch}, "
                             f"and {microbatches} microbatches do not divide them all; drop "
                             f"{names.microbatches}, or price that split with {names.batching} "
                             "(multiples of it)")


def plan_records(res: PlanResult, slo: Slo) -> list[dict[str, Any]]:
    """One record per device: the SLO, the largest batch meeting it (0: not at batch 1) and
    the latencies, throughput and memory there (None when not met), what limits it, and the
    scaling that meets it at the target batch."""
    ev, recs = res.fleet.ev, []
    for d, h in enumerate(res.fleet.profiles):
        b = int(res.largest[d])
        k = max(b - 1, 0)
        at = {"ttft_s": float(ev.ttft_s[d, k]), "tpot_s": float(ev.tpot_s[d, k]),
              "tokens_per_s": float(ev.tokens_per_s[d, k]),
              "total_memory_bytes": float(ev.total_memory_bytes[d, k]),
              "per_gpu_total_memory_bytes": float(ev.per_gpu_total_memory_bytes[d, k])} if b else {
            "ttft_s": None, "tpot_s": None, "tokens_per_s": None, "total_memory_bytes": None,
            "per_gpu_total_memory_bytes": None}
        recs.append({
            **device_fields(h),
            "slo_ttft_s": slo.ttft_s if np.isfinite(slo.ttft_s) else None,
            "slo_tpot_s": slo.tpot_s if np.isfinite(slo.tpot_s) else None,
            "met_at_batch_1": b > 0, "largest_batch": b, **{f"{x}_at_largest": v
                                                             for x, v in at.items()},
            "limiting": res.limit[d], "target_batch": res.target_batch,
            **{f"scale_{r}_to_meet": float(res.scale[r][d])
               for r in ("compute", "bandwidth", "both", "capacity")},
        })
    return recs


@dataclass(frozen=True)
class DevicePlan(Rows):
    """Per device, against a latency SLO: is it met, the largest batch that meets it and fits,
    what limits it, and what scaling of compute, bandwidth or memory would meet it at the
    target batch (the workload's batch): `costmodel plan` (records(): None where not met, inf
    where no scaling up to 1000x meets it, which the CLI writes as null)."""

    slo: Slo
    max_batch: int
    result: PlanResult

    def __repr__(self) -> str:
        n, met = len(self.rows), [r for r in self.rows if r["met_at_batch_1"]]
        head = (f"<DevicePlan {self.model.name}, {slo_text(self.slo)}, batch searched "
                f"1..{self.max_batch}, {n} device{'s' * (n != 1)} on {self.engine}")
        if not met:
            return f"{head} | none meets it>"
        top = max(met, key=lambda r: r["largest_batch"])
        return (f"{head} | {len(met)} meet{'s' * (len(met) == 1)} it; largest batch "
                f"{top['largest_batch']} on {top['hardware']} "
                f"({top['tokens_per_s_at_largest']:.1f} tokens/s)>")


def max_batch_arg(max_batch: Any) -> int:
    """max_batch: a whole number in 1..MAX_BATCH, the CLI's --max-batch range."""
    top = whole("max_batch", max_batch, 1, MAX_BATCH)
    if top is None:
        raise CostmodelError(f"max_batch: None is not a whole number in 1..{MAX_BATCH}")
    return top


def plan(model: ModelArg, hardware: Any = None, workload: Workload | None = None, *,
         ttft_s: float | None = None, tpot_s: float | None = None, max_batch: int = 1024,
         engine: str | os.PathLike[str] | None = None, **fields: Any) -> DevicePlan:
    """`costmodel plan` from Python: per device, the largest batch meeting the latency SLO
    (ttft_s, tpot_s: seconds, at least one; the CLI's --ttft / --tpot) among 1..max_batch,
    what limits it, and the scaling that meets it at the workload's batch (the CLI's --batch).
    hardware: an id, a YAML path, a HardwareProfile or a list of them (None: the CLI's default
    list, every bundled device that runs the workload like for like); engine: an id or YAML
    path. Model, workload and keyword fields as `costmodel.estimate`; without act_dtype each
    device computes in bf16 where it has it, else fp16, as the CLI without --dtype. Bad input
    raises CostmodelError: the CLI's line (the arguments spelled as here)."""
    spec, w, auto = model_and_workload(model, workload, engine, fields)
    slo = slo_of(ttft_s, tpot_s, w.output_tokens, required=True)
    top = max_batch_arg(max_batch)
    refuse_split(w.parallel.microbatches, top)
    res = plan_fleet(spec, devices_for(hardware, auto)(w), w, slo, max_batch=top, auto_dtype=auto)
    return DevicePlan(model=spec, workload=w, engine=res.fleet.engine,
                      rows=tuple(plan_records(res, slo)), slo=slo, max_batch=top, result=res)
