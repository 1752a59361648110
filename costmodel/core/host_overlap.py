"""An engine whose host launches kernels asynchronously (`host_overlap: async`): the host
(Python, the framework's dispatch) queues kernels ahead of the device, so a stage takes the
longer of the device's time and the host's launch time, not their sum. Also the engine's
fixed host times (engine_costs: per prefill, per decode step) as operator rows, on any engine.

Per stage (vision, projector, prefill: one pass each), in seconds:

    device_s = sum over operators of (latency_s - launch_s)   their times without launches
    host_s   = sum over operators of launch_s                 (device launch overhead +
               host_overhead_per_kernel) x launches, per instance, over the instances
    stage_s  = max(device_s, host_s) + the engine's fixed overheads

Decode: per step j = 0..n-1 the device time d_j grows with the KV cache while the host time h
(the same launches every step) does not, so decode = sum_j max(d_j, h) + n x step_overhead,
summed exactly for d_j affine (roofline.sum_linear_max): d_j = d_0 + s*j through the first
step's device time d_0 with the slope s that gives the exact device total D = sum_j d_j
(s = (D - n*d_0) / (n(n-1)/2)). Exact wherever every operator's time is affine in the step
(no operator changes bound and no capped-KV knee inside the steps; fitted efficiencies follow
the chord); elsewhere d_j is piecewise affine and the line an approximation with the exact first
step and total (it matters only where h falls between the steps' device times).

The operators keep their device time as latency_s (their launches stay in launch_s) and one
row per stage, `engine/host_exposed`, carries max(host - device, 0) summed (decode: over the
steps), so the rows add up to the stage (up to rounding: the stage's time is the formula's).
Source: PyTorch docs, "CUDA semantics:
Asynchronous execution" (kernel launches return before the kernel runs). Formula:
docs/methodology.md, "Inference engines".
"""

from __future__ import annotations

import dataclasses

import numpy as np

from costmodel.core.ops import Arr, Op
from costmodel.core.pricing import OpCost
from costmodel.core.roofline import Rates, sum_linear_max

EXPOSED = "engine/host_exposed"


def split(costs: list[OpCost], like: Arr) -> tuple[Arr, Arr]:
    """(device_s, host_s) of `costs`: their times without launches, and their launches."""
    z = np.zeros_like(like, dtype=float)
    host = sum((np.asarray(c.launch_s) for c in costs), z)
    return sum((c.latency_s for c in costs), z) - host, host


def host_row(name: str, stage: str, latency_s: Arr, like: Arr) -> OpCost:
    """A host time (no FLOPs, no bytes) as an operator row."""
    z = np.zeros_like(like, dtype=float)
    op = Op(name=name, stage=stage, op_class="overhead", matmul_flops=z, vector_flops=z,
            useful_flops=z, weight_bytes=z, act_read_bytes=z, act_write_bytes=z)
    return OpCost(op, z, z, z, z, z, z, z, latency_s + z)


def exposed_row(stage: str, latency_s: Arr, like: Arr) -> OpCost:
    """The host time not hidden behind the device as an operator row."""
    return host_row(EXPOSED, stage, np.maximum(latency_s, 0.0), like)


def engine_costs(r: Rates, n_steps: Arr, like: Arr) -> dict[str, list[OpCost]]:
    """The engine's per-prefill and per-decode-step host overheads (Engine, specs/engine.py)."""
    e = r.engine
    if e is None or e.kernels == "bound":
        return {"prefill": [], "decode": []}
    pre = [host_row("engine/prefill_overhead", "prefill", np.asarray(e.prefill_overhead_s),
                    like)] if e.prefill_overhead_s else []
    dec = [host_row("engine/step_overhead", "decode", n_steps * e.step_overhead_s,
                    like)] if e.step_overhead_s else []
    return {"prefill": pre, "decode": dec}


def step_overhead_s(r: Rates) -> float:
    """The engine's fixed host time per decode step (0 for the bound)."""
    e = r.engine
    return 0.0 if e is None or e.kernels == "bound" else e.step_overhead_s


def overlaps(r: Rates) -> tuple[bool, bool]:
    """(static stages, decode) priced as max(device, host): an `async` engine that launches
    kernels there."""
    e = r.engine
    on = (e is not None and e.host_overlap == "async" and e.kernels != "bound"
          and e.launch_per_kernel)
    return on, on and e is not None and not e.decode_cuda_graphs


def _device_only(c: OpCost) -> OpCost:
    return dataclasses.replace(c, latency_s=c.latency_s - c.launch_s)


def static(costs: list[OpCost], stages: tuple[str, ...],
           like: Arr) -> tuple[list[OpCost], dict[str, Arr]]:
    """Each stage's operators at their device time plus its exposed host row, and each
    stage's time max(device_s, host_s)."""
    out: list[OpCost] = []
    times = {}
    for s in stages:
        mine = [c for c in costs if c.op.stage == s]
        device, host = split(mine, like)
        out += [_device_only(c) for c in mine] + [exposed_row(s, host - device, like)]
        times[s] = np.maximum(device, host)
    return out, times


def decode_s(first_device_s: Arr, device_s: Arr, host_per_step_s: Arr, n: Arr) -> Arr:
    """sum over j = 0..n-1 of max(d_0 + s*j, h): d_0 the first step's device time, device_s
    the n steps' device total (it sets s), h the host time of one step."""
    n = np.asarray(n, dtype=float)
    pairs = n * (n - 1.0) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(n >= 2, (device_s - n * first_device_s) / np.where(n >= 2, pairs, 1.0),
                         0.0)
    zero = np.zeros_like(np.asarray(host_per_step_s, dtype=float))
    return sum_linear_max(first_device_s, slope, host_per_step_s, zero, np.maximum(n, 0.0))


def decode(costs: list[OpCost], first: list[OpCost], n: Arr,
           like: Arr) -> tuple[list[OpCost], Arr]:
    """The decode operators (totals over n steps) at their device time plus the exposed host
    row, and the steps' time (decode_s); first: the same operators priced at the first step."""
    d0, h = split(first, like)
    device, _ = split(costs, like)
    total = decode_s(d0, device, h, n)
    return [_device_only(c) for c in costs] + [exposed_row("decode", total - device, like)], total


def one_step_s(first: list[OpCost], like: Arr) -> Arr:
    """One decode step's time (the first): max(device, host)."""
    device, host = split(first, like)
    return np.maximum(device, host)
