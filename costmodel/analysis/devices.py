"""One workload over several devices and batch sizes in one vectorised `evaluate` call.

Arrays are shaped (devices, columns): a column is a batch size, or a scale factor on the
device's rates (what-if solving in `costmodel.analysis.plan`). Pure: no I/O, no printing.

Bound of a stage: the latency-weighted share of the stage spent in compute-bound operators
(compute_s >= memory_s, totals over all instances and decode steps); a stage is 'compute'-bound
when that share is >= 0.5, else 'memory'-bound.

Energy (an estimate, an upper-bound style one): energy_J = power_W x latency_s per stage, with
power_W = the profile's TDP, or the selected power mode's budget (Jetson nvpmodel modes). The
device is taken to draw that power for the whole latency; measured board power is usually
below TDP, most of all at low utilisation (memory-bound decode at small batch). Per request =
batch energy / batch; per output token = per request / output tokens.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from costmodel.errors import CostmodelError
from costmodel.analysis.estimate import points, precision, visual_plan
from costmodel.core.evaluate import STAGES, Evaluation, evaluate
from costmodel.core.ops import Arr
from costmodel.core.roofline import Rates, as_column, curve_table
from costmodel.specs.hardware import HardwareProfile
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import Workload
from costmodel.units import DType


def math_dtypes(profiles: Sequence[HardwareProfile], dtype: DType | None) -> list[DType]:
    """The math dtype per device: `dtype`, or (None = auto) bf16 where supported, else fp16."""
    out = []
    for h in profiles:
        dt = dtype or (DType.bf16 if h.supports(DType.bf16) else DType.fp16)
        if not h.supports(dt):
            have = ", ".join(d.value for d in h.peak_flops_by_dtype)
            raise CostmodelError(f"--dtype: {h.id} has no {dt.value} peak (has {have}); "
                                 "choose one of those or leave --dtype out (auto)")
        out.append(dt)
    return out


def device_rates(profiles: Sequence[HardwareProfile], dtypes: Sequence[DType]) -> Rates:
    """Rates shaped (devices, 1), each device at its own math dtype."""
    rows = [Rates.from_profiles([h], dt) for h, dt in zip(profiles, dtypes, strict=True)]
    flat = {f.name: np.concatenate([np.asarray(getattr(r, f.name)).reshape(-1) for r in rows])
            for f in dataclasses.fields(Rates) if f.name != "curves"}
    return as_column(Rates(**flat, curves=curve_table(profiles)))


def scaled(r: Rates, compute: Arr | float = 1.0, bandwidth: Arr | float = 1.0) -> Rates:
    """Rates with every FLOP/s multiplied by `compute` and bytes/s by `bandwidth`."""
    return dataclasses.replace(
        r, matmul_flops_per_s=r.matmul_flops_per_s * compute,
        attention_flops_per_s=r.attention_flops_per_s * compute,
        vector_flops_per_s=r.vector_flops_per_s * compute, bytes_per_s=r.bytes_per_s * bandwidth)


@dataclass(frozen=True)
class Fleet:
    """`ev` arrays are (devices, columns)."""

    profiles: tuple[HardwareProfile, ...]
    dtypes: tuple[DType, ...]
    workload: Workload
    batch: Arr  # (1, columns) or (1, 1)
    ev: Evaluation

    @property
    def capacity_bytes(self) -> Arr:
        return np.array([h.memory_bytes for h in self.profiles])[:, None]


def evaluate_fleet(spec: ModelSpec, profiles: Sequence[HardwareProfile], w: Workload,
                   batch: Arr | None = None, dtype: DType | None = None,
                   compute_scale: Arr | float = 1.0, bandwidth_scale: Arr | float = 1.0) -> Fleet:
    """Every device x column. `batch` (1, K) overrides w.batch; scales broadcast as (1, K)."""
    dts = math_dtypes(profiles, dtype)
    plan = visual_plan(spec, w)
    pts = points(plan, w)
    b = np.asarray([[w.batch]] if batch is None else batch, dtype=float).reshape(1, -1)
    pts = dataclasses.replace(pts, batch=b)
    rates = scaled(device_rates(profiles, dts), np.asarray(compute_scale, dtype=float),
                   np.asarray(bandwidth_scale, dtype=float))
    cap = np.array([h.memory_bytes for h in profiles], dtype=float)[:, None]
    ev = evaluate(spec, pts, precision(w), rates, cap, flash=w.flash_attention,
                  overlap=w.overlap, all_logits=w.logits == "all")
    return Fleet(tuple(profiles), tuple(dts), w, b, ev)


def compute_share(ev: Evaluation, stages: Sequence[str]) -> Arr:
    """Share of the latency of `stages` spent in compute-bound operators (0..1)."""
    comp: Arr = np.zeros_like(ev.ttft_s)
    total: Arr = np.zeros_like(ev.ttft_s)
    for c in ev.op_costs:
        if c.op.stage in stages:
            total = total + c.latency_s
            comp = comp + np.where(c.compute_s >= c.memory_s, c.latency_s, 0.0)
    return np.divide(comp, total, out=np.zeros_like(total), where=total > 0)


def stage_bounds(ev: Evaluation) -> dict[str, Arr]:
    """'compute' or 'memory' per stage ('-' where the stage takes no time)."""
    out = {}
    for s in STAGES:
        share = compute_share(ev, (s,))
        out[s] = np.where(ev.stages[s].latency_s > 0,
                          np.where(share >= 0.5, "compute", "memory"), "-")
    return out


def power_W(profiles: Sequence[HardwareProfile], mode: str | None = None) -> Arr:
    """(devices, 1) watts: TDP, or the named power mode's budget; NaN where unknown."""
    out = []
    for h in profiles:
        if mode is None:
            out.append(np.nan if h.tdp_W is None else h.tdp_W)
            continue
        modes = {k.lower(): v for k, v in h.power_modes_W.items()}
        if mode.lower() not in modes:
            have = ", ".join(h.power_modes_W) or "none"
            raise CostmodelError(f"--power-mode: {h.id} has no mode '{mode}' (modes: {have}); "
                                 "leave --power-mode out to use the TDP")
        out.append(modes[mode.lower()])
    return np.array(out, dtype=float)[:, None]


@dataclass(frozen=True)
class Energy:
    """Joules per request, split by stage, and per output token. Arrays (devices, columns)."""

    power_W: Arr
    stage_J: dict[str, Arr]  # per request
    request_J: Arr
    output_token_J: Arr


def energy(f: Fleet, power: Arr) -> Energy:
    """energy = power x stage latency for the whole batch, divided by the batch."""
    stage = {s: power * f.ev.stages[s].latency_s / f.batch for s in STAGES}
    req = sum(stage.values(), np.zeros_like(f.ev.ttft_s))
    return Energy(power, stage, req, req / f.workload.output_tokens)
