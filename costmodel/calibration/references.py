"""Sanity references for `costmodel calibrate`: simple kernels measured at the start and at the
end of a calibration, and the checks a profile must pass before it is written.

References (per device; sizes below): a large add c = a + b and a large copy c <- a, both
into preallocated outputs with operands far out of the last-level cache (the device's memory
bandwidth), and a large square GEMM (its achievable matmul FLOP/s).

Contention (reported with the profile, in its notes and on stderr; not a refusal): each
reference is measured before and after the microbenchmarks; if the two differ by more than
DRIFT_LIMIT the device's speed changed while it was measured (another job started or stopped).

Checks (costmodel calibrate refuses to write a profile that fails one; nothing is written):
- agreement, bandwidth: the written profile's prediction for the add (its
  bandwidth and fitted curves, costmodel.core.roofline.op_times, launch overhead included)
  must lie within TOLERANCE of the range its two measurements span (a shared machine's
  bandwidth wanders by tens of percent over seconds, so the figure must agree with the
  device as it was at some point of the run, not with one moment of it); and its bandwidth
  must not be below both of the copy's measurements (bytes/s) by more than TOLERANCE. The
  copy is not a sample, so its predicted time would rest on the curve's interpolation, which
  on the development VM missed a copy that ran at half the add's rate by 30%.
- agreement, peak: the profile's matmul peak in the math dtype must not be below the reference
  GEMM's FLOP/s by more than TOLERANCE (every compute-bound operator would be priced too
  slow), and, where the peak was measured (no --base), not above it by more than
  PEAK_ABOVE (no plain GEMM reaches it: a mistimed sample; the bound is loose because the
  measured peak is the best of ~50 GEMMs, and on a shared VM a GEMM's rate wanders by a third
  between seconds). A datasheet peak (--base) may lie well
  above what any GEMM achieves; the curves carry that gap. The GEMM checks the peak, not the
  `linear` curve: GEMMs of one roofline time differ by shape (a square GEMM runs faster than
  a skinny one of the same FLOPs), which a curve over roofline time does not model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from costmodel.calibration.timing import Timer
from costmodel.core.ops import ADD_FLOPS, Op, linear, vector_op

# |after - before| / before, any reference. On an idle 2-core cloud VM the add's best time
# wandered between 6.7 and 11 ms over seconds with nothing else running; a competing job
# using both cores halves throughput (+100%).
DRIFT_LIMIT = 0.5
TOLERANCE = 0.25  # |predicted - measured| / measured, any reference
PEAK_ABOVE = 1.0  # a measured peak may exceed the reference GEMM's rate by at most 2x
# (elements per stream operand, square GEMM size) per device: 64 MiB fp32 operands on a
# CPU (far beyond a server L3), 128 MiB bf16 on a GPU (beyond a 50 MB H100 L2)
SIZES = {"cpu": (16 * 2**20, 2048), "cuda": (64 * 2**20, 8192)}


@dataclass(frozen=True)
class Reference:
    name: str  # add | copy | gemm
    op: Op  # the costmodel operator of the same shape
    before_s: float
    after_s: float

    @property
    def measured_s(self) -> float:
        return 0.5 * (self.before_s + self.after_s)

    @property
    def drift(self) -> float:
        return abs(self.after_s - self.before_s) / self.before_s

    def off(self, predicted_s: float) -> float:
        """How far `predicted_s` lies outside [fastest, slowest] measurement, relative."""
        lo, hi = sorted((self.before_s, self.after_s))
        return max(lo / predicted_s - 1.0, predicted_s / hi - 1.0, 0.0)

    @property
    def work(self) -> float:
        """FLOPs (gemm) or bytes moved (add, copy) per call."""
        return float(np.ravel(self.op.matmul_flops if self.name == "gemm" else self.op.bytes)[0])

    @property
    def rate(self) -> float:
        """Bytes/s (add, copy) or FLOP/s (gemm) at the measured time."""
        return self.work / self.measured_s


def reference_ops(device: str, nbytes: float) -> dict[str, Op]:
    n, h = SIZES[device]
    e = np.asarray([float(n)])
    return {"add": vector_op("add", "p", "elementwise", e, ADD_FLOPS, 2.0, nbytes),
            "copy": vector_op("copy", "p", "elementwise", e, 0.0, 1.0, nbytes),
            "gemm": linear("gemm", "p", np.asarray([float(h)]), h, h, False, nbytes, nbytes)}


def measure(t: Timer, dtype: Any) -> dict[str, float]:
    """Seconds per call of each reference kernel on `t`'s device, in `dtype` (the statistic of
    every measurement, costmodel.calibration.timing)."""
    torch, dev = t.torch, t.device
    n, h = SIZES[dev]
    a = torch.randn(n, device=dev, dtype=dtype)
    b, c = a.clone(), a.clone()  # preallocated output: no page faults of a fresh buffer
    x = torch.randn(h, h, device=dev, dtype=dtype)
    out = torch.empty(h, h, device=dev, dtype=dtype)
    return {"add": t.per_call_s(lambda: torch.add(a, b, out=c)),
            "copy": t.per_call_s(lambda: c.copy_(a)),
            "gemm": t.per_call_s(lambda: torch.mm(x, x, out=out))}


def combine(ops: dict[str, Op], before: dict[str, float],
            after: dict[str, float]) -> list[Reference]:
    return [Reference(k, ops[k], before[k], after[k]) for k in ops]


def drifted(refs: list[Reference]) -> list[str]:
    """Contention warnings: references whose two measurements differ by > DRIFT_LIMIT."""
    return [f"the reference {r.name} took {r.before_s * 1e3:.3g} ms before the "
            f"microbenchmarks and {r.after_s * 1e3:.3g} ms after (drift {100 * r.drift:.0f}% > "
            f"{100 * DRIFT_LIMIT:.0f}%): the device was busy with something else; a rerun on a "
            "quiet device gives figures to trust more" for r in refs if r.drift > DRIFT_LIMIT]


def problems(refs: list[Reference], predicted_s: dict[str, float], peak_flops_per_s: float,
             measured_peak: bool, bandwidth_Bps: float = float("inf")) -> list[str]:
    """Why a profile must not be written (empty: it passes). `predicted_s`: the profile's
    time for the add and the copy; `peak_flops_per_s`: its matmul peak (module docstring)."""
    out = []
    for r in refs:
        if r.name == "gemm":
            best = r.work / min(r.before_s, r.after_s)
            worst = r.work / max(r.before_s, r.after_s)
            low = peak_flops_per_s < worst / (1 + TOLERANCE)
            if low or (measured_peak and peak_flops_per_s > best * (1 + PEAK_ABOVE)):
                limit = TOLERANCE if low else PEAK_ABOVE
                out.append(f"the profile's matmul peak {peak_flops_per_s / 1e12:.3g} TFLOP/s is "
                           f"{'below' if low else 'above'} the reference GEMM's "
                           f"{r.rate / 1e12:.3g} TFLOP/s by more than {100 * limit:.0f}%")
        elif r.name == "copy":
            slower = r.work / max(r.before_s, r.after_s)
            if bandwidth_Bps < slower / (1 + TOLERANCE):
                out.append(f"the profile's bandwidth {bandwidth_Bps / 1e9:.3g} GB/s is below "
                           f"both measurements of the reference copy (the slower moved "
                           f"{slower / 1e9:.3g} GB/s) by more than {100 * TOLERANCE:.0f}%")
        elif r.off(predicted_s[r.name]) > TOLERANCE:
            out.append(f"the fitted profile predicts {predicted_s[r.name] * 1e3:.3g} ms for the "
                       f"reference {r.name}, measured {r.before_s * 1e3:.3g} and "
                       f"{r.after_s * 1e3:.3g} ms (more than {100 * TOLERANCE:.0f}% outside)")
    return out
