"""One workload over several devices and batch sizes in one vectorised `evaluate` call.

Arrays are shaped (devices, columns): a column is a batch size, or a scale factor on the
device's rates (what-if solving in `costmodel.analysis.plan`). Pure: no I/O, no printing.

Bound of a stage (`resource`): the latency-weighted shares of the stage spent in compute-bound
operators (compute_s >= memory_s, totals over all instances and decode steps), in interconnect
operators and in the memory-bound rest; the largest names it ('compute', 'comm', 'memory').
On one GPU: 'compute'-bound when the compute-bound share is >= 0.5, else 'memory'-bound.

Energy (an estimate, an upper-bound style one): energy_J = GPUs x power_W x latency_s per stage,
with power_W = the profile's TDP, or the selected power mode's budget (Jetson nvpmodel modes),
per GPU, and GPUs = tp x pp x ep of the workload (each GPU of the layout held for the request).
Each device is taken to draw that power for the whole latency; measured board power is usually
below TDP, most of all at low utilisation (memory-bound decode at small batch). Per request =
batch energy / batch; per output token = per request / output tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from costmodel.analysis.host_cpu import devices_host_note
from costmodel.analysis.prepare import prepare
from costmodel.core.engine_traffic import KV_CONCAT, REPEAT_KV
from costmodel.core.evaluate import STAGES, Evaluation, evaluate
from costmodel.core.metrics import compute_share, latency_share
from costmodel.core.ops import Arr
from costmodel.core.pricing import OpCost
from costmodel.errors import CostmodelError
from costmodel.specs.engine import Engine
from costmodel.specs.hardware import HardwareProfile
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import Workload
from costmodel.units import DType

ENGINE_COPIES = (KV_CONCAT, REPEAT_KV)  # 'overhead' rows that are memory traffic


@dataclass(frozen=True)
class Fleet:
    """`ev` arrays are (devices, columns); `workload` as priced (Prepared.workload: its weights
    resolved against a quantised checkpoint, analysis/weights.py), the one to label with."""

    profiles: tuple[HardwareProfile, ...]
    dtypes: tuple[DType, ...]
    workload: Workload
    batch: Arr  # (1, columns) or (1, 1)
    ev: Evaluation
    engine: str = ""  # the engine of the expected latencies
    host_note: str = ""  # analysis/host_cpu.devices_host_note: a Jetson's host time

    @property
    def capacity_bytes(self) -> Arr:
        return np.array([h.memory_bytes for h in self.profiles])[:, None]


def evaluate_fleet(spec: ModelSpec, profiles: Sequence[HardwareProfile], w: Workload,
                   batch: Arr | None = None, auto_dtype: bool = True,
                   compute_scale: Arr | float = 1.0, bandwidth_scale: Arr | float = 1.0) -> Fleet:
    """Every device x column, through the one prepare step. `batch` (K values) overrides
    w.batch column by column; auto_dtype: bf16 where a device has it, else fp16 (else
    w.act_dtype everywhere); scales broadcast as (1, K)."""
    cols = {} if batch is None else {"batch": np.asarray(batch, dtype=float).reshape(-1)}
    prep = prepare(spec, profiles, w, columns=cols, auto_dtype=auto_dtype,
                   compute_scale=compute_scale, bandwidth_scale=bandwidth_scale)
    return Fleet(tuple(profiles), prep.dtypes, prep.workload, prep.points.batch, evaluate(spec, prep),
                 prep.engine.id, devices_host_note(profiles, prep.engine))


def datasheet_only(h: HardwareProfile) -> bool:
    """Priced at its datasheet peaks by every engine: no fitted kernel figures
    (kernel_efficiency with sm_count), no efficiency curves, efficiencies 1 (a profile written
    from a datasheet, LLM-Viewer's copies). On an engine that runs measured kernels its
    expected latency is the roofline bound plus the engine's host time, where a device with
    figures runs below its peaks (docs/methodology.md, "A device not bundled")."""
    fitted = h.kernel_params is not None and h.sm_count is not None
    curves = h.efficiency_curves or h.intensity_curves or h.width_curves
    effs = (h.compute_efficiency, h.memory_efficiency, h.attention_efficiency)
    return not fitted and not curves and all(e == 1.0 for e in effs)


def unlike_devices(profiles: Sequence[HardwareProfile], engine: Engine) -> list[str]:
    """Ids of the datasheet-only devices of a list that also holds calibrated ones, when the
    engine runs measured kernels: their expected latencies are not like for like (the former
    at the peaks, the latter below them); [] otherwise."""
    if engine.kernels != "measured":
        return []
    bare = [h.id for h in profiles if datasheet_only(h)]
    return bare if len(bare) < len(profiles) else []


def comm_share(costs: Sequence[OpCost], stages: Sequence[str], like: Arr) -> Arr:
    """Share (0..1) of the latency of `stages` in interconnect operators (op class 'comm':
    tensor-parallel all-reduces / all-gathers, expert all-to-alls); 0 on one GPU."""
    return latency_share(costs, stages, like, lambda c: c.op.op_class == "comm")


def host_share(costs: Sequence[OpCost], stages: Sequence[str], like: Arr) -> Arr:
    """Share (0..1) of the latency of `stages` in the engine's host time: its fixed prefill
    and per-step times and the launches the device does not hide (op class 'overhead' but
    the KV-cache copies of core/engine_traffic.py, which are memory traffic)."""
    return latency_share(costs, stages, like, lambda c: c.op.op_class == "overhead"
                         and c.op.name not in ENGINE_COPIES)


def resource(ev: Evaluation, stages: Sequence[str], compute: Arr | None = None) -> Arr:
    """'compute', 'comm' or 'memory' per point for `stages`: which of the compute-bound
    operators, the interconnect operators and the memory-bound rest holds the largest share
    of their latency (ties: compute, then comm); 'comm' too where the interconnect operators
    hold more than the compute-bound and the memory-bound operators each, the engine's host
    time (host_share, in the rest) counting for neither (vllm --tp 8 decode on h100-sxm: link
    36%, host 33%, memory-bound 30% was 'memory'). On one GPU (no interconnect operators)
    this is 'compute' when the compute-bound share is >= 0.5, else 'memory'. `compute`: the
    compute-bound share of `stages` where the caller has it already (Estimate.at)."""
    c = compute_share(ev.op_costs, stages, ev.ttft_s) if compute is None else compute
    k = comm_share(ev.op_costs, stages, ev.ttft_s)
    m = 1.0 - c - k
    link = (k > c) & (k >= m - host_share(ev.op_costs, stages, ev.ttft_s))
    return np.where((c >= k) & (c >= m), "compute", np.where(link, "comm", "memory"))


def stage_bounds(ev: Evaluation, compute: dict[str, Arr] | None = None) -> dict[str, Arr]:
    """'compute', 'comm', 'memory' or 'host' per stage ('-' where the stage takes no time):
    'host' where the engine's launches overlap the device and take longer
    (StageTotals.host_bound), else the resource holding most of the stage's latency
    (`resource`: compute-bound operators, interconnect operators, memory-bound operators).
    `compute`: each stage's compute-bound share where the caller has them already."""
    out = {}
    for s in STAGES:
        c = None if compute is None else compute[s]
        side = np.where(ev.stages[s].host_bound, "host", resource(ev, (s,), c))
        out[s] = np.where(ev.stages[s].latency_s > 0, side, "-")
    return out


def has_mode(h: HardwareProfile, mode: str) -> bool:
    """The device lists the power mode (`--power-mode`; names match in any case)."""
    return mode.lower() in {k.lower() for k in h.power_modes_W}


def power_W(profiles: Sequence[HardwareProfile], mode: str | None = None) -> Arr:
    """(devices, 1) watts: TDP, or the named power mode's budget; NaN where unknown."""
    out = []
    for h in profiles:
        if mode is None:
            out.append(np.nan if h.tdp_W is None else h.tdp_W)
            continue
        modes = {k.lower(): v for k, v in h.power_modes_W.items()}
        if not has_mode(h, mode):
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
    """energy (J) = GPUs x power (W per GPU) x stage latency (s) for the whole batch, divided
    by the batch: every GPU of a --tp/--pp/--ep layout draws its power for the request."""
    gpus = f.workload.parallel.gpus
    stage = {s: gpus * power * f.ev.stages[s].latency_s / f.batch for s in STAGES}
    req = sum(stage.values(), np.zeros_like(f.ev.ttft_s))
    return Energy(power, stage, req, req / f.workload.output_tokens)
