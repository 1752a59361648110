"""(operators, device rates) -> compute time, memory time, latency, bound.

Per operator (units: FLOPs, bytes, FLOP/s, bytes/s, seconds):
  compute_s = matmul_flops / (peak_dtype * eff_compute [* eff_attention])
            + vector_flops / (peak_fp32 * eff_compute)
  memory_s  = bytes / (bandwidth * eff_memory)
  latency_s = max(compute_s, memory_s)   (overlap='roofline': compute hides memory or v.v.)
            = compute_s + memory_s       (overlap='serial': no overlap, an upper bound)
            + kernel_launch_overhead_s   (one kernel per operator instance)
Matrix products run on tensor cores at the math dtype's dense peak; vector work (norms,
softmax, activations) on the CUDA cores at the fp32 peak. Source: Williams, Waterman and
Patterson, "Roofline" (CACM 2009), applied per operator as in LLM-Viewer (Yuan et al. 2024).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from costmodel.ops import Arr, Op
from costmodel.specs.hardware import HardwareProfile
from costmodel.units import DType


@dataclass(frozen=True)
class Rates:
    """Achievable rates per evaluation point (arrays, so one sweep can span devices)."""

    matmul_flops_per_s: Arr
    attention_flops_per_s: Arr
    vector_flops_per_s: Arr
    bytes_per_s: Arr
    launch_s: Arr

    @classmethod
    def from_profiles(cls, profiles: Sequence[HardwareProfile], math_dtype: DType) -> Rates:
        """One entry per point; raises UnsupportedDtype if a device lacks `math_dtype`."""
        mm = np.array([h.peak_flops(math_dtype) * h.compute_efficiency for h in profiles])
        attn = mm * np.array([h.attention_efficiency for h in profiles])
        vec = np.array([
            h.peak_flops_by_dtype.get(DType.fp32, h.peak_flops(math_dtype)) * h.compute_efficiency
            for h in profiles
        ])
        bw = np.array([h.memory_bandwidth_Bps * h.memory_efficiency for h in profiles])
        launch = np.array([h.kernel_launch_overhead_s for h in profiles])
        return cls(mm, attn, vec, bw, launch)


@dataclass(frozen=True)
class OpTimes:
    """Per-instance times of one operator (arrays over points)."""

    compute_s: Arr
    memory_s: Arr

    def latency_s(self, overlap: str, launch_s: Arr) -> Arr:
        core = np.maximum(self.compute_s, self.memory_s) if overlap == "roofline" else (
            self.compute_s + self.memory_s)
        return core + launch_s


def op_times(op: Op, r: Rates) -> OpTimes:
    mm_rate = r.attention_flops_per_s if op.op_class == "attention" else r.matmul_flops_per_s
    compute = op.matmul_flops / mm_rate + op.vector_flops / r.vector_flops_per_s
    return OpTimes(compute_s=compute, memory_s=op.bytes / r.bytes_per_s)


def bound(t: OpTimes) -> Arr:
    """'compute' where compute time dominates, else 'memory'."""
    return np.where(t.compute_s >= t.memory_s, "compute", "memory")


def sum_linear_max(a1: Arr, b1: Arr, a2: Arr, b2: Arr, n: Arr) -> Arr:
    """Exact sum over j = 0..n-1 of max(a1 + b1*j, a2 + b2*j), vectorised.

    Used to integrate decode latency while the KV cache grows: each operator's compute and
    memory time are affine in the step index, so their max is piecewise affine.
    sum max(x, y) = sum y + sum max(x - y, 0), and x - y = c + e*j changes sign at most once.
    """
    n = np.asarray(n, dtype=float)
    c, e = a1 - a2, b1 - b2
    total_y = _series(a2, b2, 0.0, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.where(e != 0, -c / np.where(e != 0, e, 1.0), 0.0)
    # e > 0: positive for j > root; e < 0: positive for j < root; e == 0: all or none.
    lo = np.where(e > 0, np.clip(np.floor(root) + 1, 0, n), 0.0)
    hi = np.where(e < 0, np.clip(np.ceil(root), 0, n), n)
    flat_pos = (e == 0) & (c > 0)
    lo = np.where((e == 0), 0.0, lo)
    hi = np.where((e == 0), np.where(flat_pos, n, 0.0), hi)
    pos = _series(c, e, lo, np.maximum(hi, lo))
    return total_y + pos


def _series(a: Arr, b: Arr, lo: Arr | float, hi: Arr) -> Arr:
    """sum over j = lo..hi-1 of (a + b*j)."""
    cnt = hi - lo
    return cnt * a + b * (hi * (hi - 1) - np.asarray(lo) * (np.asarray(lo) - 1)) / 2.0
