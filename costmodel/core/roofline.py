"""(operators, device rates) -> compute time, memory time, latency, bound.

Per operator instance, in FLOPs, bytes, FLOP/s, bytes/s and seconds: matrix products at the
math dtype's dense peak, vector work at the fp32 peak, bytes at the memory bandwidth; optional
efficiency curves per operator class, kernel launches as the inference engine runs them, link time for
interconnect operators; decode steps summed in closed form (`sum_linear_max`).
Formula: docs/methodology.md, sections "Roofline" and "Decode and end-to-end latency".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace

import numpy as np

from costmodel.core.kernel_model import KernelModel
from costmodel.core.ops import Arr, Op
from costmodel.specs.engine import Engine
from costmodel.specs.hardware import HardwareProfile
from costmodel.units import DType

CURVE_OF_CLASS = {"linear": "linear", "lm_head": "linear", "attention": "attention",
                  "norm": "norm", "activation": "activation", "elementwise": "elementwise",
                  "rope": "rope", "embedding": "embedding"}


@dataclass(frozen=True)
class Curve:
    """One op class's efficiency curve for every point: knots log10(s) shared by all points
    (the union of the devices' knots, so the resampling is exact), values [points, knots]."""

    log10_s: Arr
    eff: Arr
    first_log10_s: Arr  # each point's own first knot [points]; -inf = no curve (eff 1)

    def __call__(self, t_s: Arr) -> Arr:
        x = np.log10(np.maximum(np.asarray(t_s, dtype=float), 1e-30))
        shape = np.broadcast_shapes(x.shape, self.eff.shape[:-1])
        x = np.broadcast_to(x, shape)
        table = np.broadcast_to(self.eff, shape + self.eff.shape[-1:])
        k = self.log10_s
        # below a device's own first knot the latency stays at that knot's (a kernel never
        # gets faster than the smallest size measured): eff = eff0 * t / t0. Resampled rows
        # are constant there (np.interp clamps), so eff0 is the row's value.
        if x.ndim == 2 and self.eff.ndim == 3 and self.eff.shape[1] == 1:
            return self._by_device(x, k)
        below = np.minimum(10.0 ** (x - self.first_log10_s), 1.0)
        if len(k) == 1:
            return table[..., 0] * below
        i = np.clip(np.searchsorted(k, x), 1, len(k) - 1)
        w = np.clip((x - k[i - 1]) / (k[i] - k[i - 1]), 0.0, 1.0)
        lo = np.take_along_axis(table, (i - 1)[..., None], -1)[..., 0]
        hi = np.take_along_axis(table, i[..., None], -1)[..., 0]
        return (lo + w * (hi - lo)) * below


    def _by_device(self, x: Arr, k: Arr) -> Arr:
        """Grid case [devices, points]: one np.interp per device that has a curve (same
        values as the general path: interp clamps at the ends; devices without one get 1)."""
        out = np.ones(x.shape)
        for d in range(x.shape[0]):
            first = self.first_log10_s.reshape(-1)[d]
            if np.isfinite(first):
                out[d] = np.interp(x[d], k, self.eff[d, 0]) * np.minimum(10.0 ** (x[d] - first), 1.0)
        return out


@dataclass(frozen=True)
class KeyedCurve:
    """One op class's efficiency over a key that is not a time (arithmetic intensity in
    FLOP/byte, or a GEMM's input width k), per device: (log10 knots, efficiency) or None where
    a device has none (it keeps what the other curves gave). Clamped at both ends (no latency
    floor: the key is not a size)."""

    rows: tuple[tuple[Arr, Arr] | None, ...]

    def __call__(self, key: Arr, fallback: Arr) -> Arr:
        x = np.log10(np.maximum(np.asarray(key, dtype=float), 1e-30))
        shape = np.broadcast_shapes(x.shape, np.shape(fallback))
        out = np.array(np.broadcast_to(fallback, shape), dtype=float)
        x = np.broadcast_to(x, shape)
        if len(self.rows) == 1:
            return out if self.rows[0] is None else np.interp(x, *self.rows[0])
        for d, row in enumerate(self.rows):  # device axis first (one row per device)
            if row is not None:
                out[d] = np.interp(x[d], *row)
        return out


def keyed_table(profiles: Sequence[HardwareProfile],
                    attr: str = "intensity_curves") -> dict[str, KeyedCurve]:
    """Per op class, each device's curve over a non-time key (`intensity_curves`: FLOP/byte;
    `width_curves`: a GEMM's input width k)."""
    tables = [getattr(h, attr) for h in profiles]
    classes = {c for t in tables for c in t}
    return {c: KeyedCurve(tuple(
        None if c not in t else (np.log10(t[c][0]), np.asarray(t[c][1])) for t in tables))
        for c in classes}


MEMORY_SUFFIX = "_memory"  # `linear_memory`: the curve of memory-bound `linear` operators


def _device_curve(h: HardwareProfile, cls: str) -> tuple[tuple[float, ...], ...] | None:
    """A device's curve for `cls`; a `<class>_memory` curve it lacks falls back to its
    `<class>` curve (so mixing devices with and without one changes nothing for the others)."""
    got = h.efficiency_curves.get(cls)
    if got is None and cls.endswith(MEMORY_SUFFIX):
        got = h.efficiency_curves.get(cls.removesuffix(MEMORY_SUFFIX))
    return got


def curve_table(profiles: Sequence[HardwareProfile]) -> dict[str, Curve]:
    """Per op class, the devices' efficiency curves resampled on shared knots (one row each)."""
    out = {}
    for cls in {c for h in profiles for c in h.efficiency_curves}:
        curves = [_device_curve(h, cls) for h in profiles]
        knots = np.unique(np.log10([x for c in curves for x in (c or ((1.0,), (1.0,)))[0]]))
        rows, firsts = [], []
        for c in curves:
            xs, ys = c or ((1.0,), (1.0,))
            rows.append(np.interp(knots, np.log10(xs), ys))
            firsts.append(np.log10(xs[0]) if c is not None else -np.inf)
        out[cls] = Curve(knots, np.array(rows), np.array(firsts))
    return out


@dataclass(frozen=True)
class Rates:
    """Achievable rates per evaluation point (arrays, so one sweep can span devices)."""

    matmul_flops_per_s: Arr
    attention_flops_per_s: Arr
    vector_flops_per_s: Arr
    bytes_per_s: Arr
    launch_s: Arr
    link_bytes_per_s: Arr = field(default_factory=lambda: np.asarray(np.inf))
    link_latency_s: Arr = field(default_factory=lambda: np.asarray(0.0))
    curves: dict[str, Curve] = field(default_factory=dict)  # op-class curve; absent = 1
    intensity: dict[str, KeyedCurve] = field(default_factory=dict)  # wins over `curves`
    width: dict[str, KeyedCurve] = field(default_factory=dict)  # `<class>_memory` by k

    engine: Engine | None = None  # launches per operator (None: one per kernel instance)
    kernels: KernelModel | None = None  # fitted kernel figures per device (core/kernel_model.py)

    @classmethod
    def from_profiles(cls, profiles: Sequence[HardwareProfile], math_dtype: DType | Sequence[DType],
                      engine: Engine | None = None, launch: bool = True,
                      act_bytes_per_element: float = 2.0, kv_dtype: DType | None = None) -> Rates:
        """One entry per device, each at its math dtype (one dtype, or one per device);
        raises UnsupportedDtype if a device lacks its dtype.

        engine None: the profile's efficiencies and curves, and (launch=True) the device's
        kernel launch overhead once per kernel instance (the calibration's view). An engine
        with kernels 'bound': datasheet peaks, no curves, no launches (the roofline bound);
        'measured': the profile's efficiencies and curves, launches as the engine says
        (Engine.launches) at the device's overhead + the engine's host overhead per kernel,
        and the device's fitted kernel figures where it has them (core/kernel_model.py;
        act_bytes_per_element: bytes per activation element, which the kernel model needs;
        kv_dtype: the KV cache's, for an engine whose prefill attention runs in it)."""
        dts = [math_dtype] * len(profiles) if isinstance(math_dtype, DType) else list(math_dtype)
        pairs = list(zip(profiles, dts, strict=True))
        ideal = engine is not None and engine.kernels == "bound"

        def eff(x: float) -> float:
            return 1.0 if ideal else x

        mm = np.array([h.peak_flops_per_s(dt) * eff(h.compute_efficiency) for h, dt in pairs])
        attn = mm * np.array([eff(h.attention_efficiency) for h in profiles])
        vec = np.array([h.peak_flops_per_s_by_dtype.get(DType.fp32, h.peak_flops_per_s(dt))
                        * eff(h.compute_efficiency) for h, dt in pairs])
        bw = np.array([h.memory_bytes_per_s * eff(h.memory_efficiency) for h in profiles])
        host = 0.0 if engine is None else engine.host_overhead_per_kernel_s
        on = launch and not ideal and (engine is None or engine.launch_per_kernel)
        launch_s = np.array([h.kernel_launch_overhead_s + host for h in profiles]) * float(on)
        link = np.array([h.interconnect_bytes_per_s or np.inf for h in profiles])
        hop = np.array([link_latency_s(h) for h in profiles])
        curves = {} if ideal else curve_table(profiles)
        intensity = {} if ideal else keyed_table(profiles)
        width = {} if ideal else keyed_table(profiles, "width_curves")
        kernels = None if ideal or engine is None else KernelModel.of(
            profiles, act_bytes_per_element, engine, kv_dtype, dts)
        return cls(mm, attn, vec, bw, launch_s, link, hop, curves, intensity, width, engine,
                   kernels)

    def launches(self, op: Op) -> float:
        """Kernel launches per instance of `op`: the engine's for its class and stage (1 per
        instance without an engine); an operator of a GEMM group the engine fuses pays its
        share of the group's one launch (Engine.fused_share)."""
        e = self.engine
        if e is None:
            return 1.0
        share = e.fused_share(op.fuse, float(op.gemm_n), float(op.fused_n))
        return e.launches(op.stage, op.op_class, share)

    def launch_for(self, op: Op, n: Arr | float | None = None) -> Arr:
        """Launch time per instance of `op`: launch_s x its launches (n; default
        `launches(op)`); an instance with no work at a point (a masked stage, zero tokens)
        launches nothing there."""
        n = self.launches(op) if n is None else n
        return self.launch_s * n * ((np.asarray(op.flops) + np.asarray(op.bytes)) > 0)

    def scaled(self, compute: Arr | float = 1.0, bandwidth: Arr | float = 1.0) -> Rates:
        """What-if rates: every FLOP/s multiplied by `compute` (the kernel model's per-SM
        rates too, as `--set peak_tflops=xF` scales them), bytes/s by `bandwidth`."""
        c, b = np.asarray(compute, dtype=float), np.asarray(bandwidth, dtype=float)
        return replace(self, matmul_flops_per_s=self.matmul_flops_per_s * c,
                       attention_flops_per_s=self.attention_flops_per_s * c,
                       vector_flops_per_s=self.vector_flops_per_s * c,
                       bytes_per_s=self.bytes_per_s * b,
                       kernels=self.kernels if self.kernels is None or np.all(c == 1.0)
                       else self.kernels.scaled(c))


# Typical one-step link latency where a profile gives none (latency_us: 0), by link kind.
# Convention, not a datasheet figure: NCCL small-message all-reduces take a few microseconds
# (nccl-tests doc/PERFORMANCE.md: time ~ overhead + size/bw; a 2-GPU PCIe all-reduce of 8 B
# takes ~6 us, i.e. ~3 us per ring step). Checked against measured all-reduces in
# tests/test_parallel.py.
DEFAULT_LINK_LATENCY_S = {"nvlink": 2e-6, "pcie": 3e-6, "none": 0.0}


def link_latency_s(h: HardwareProfile) -> float:
    """The profile's interconnect latency, or the per-kind default when it gives 0."""
    return h.interconnect_latency_s or DEFAULT_LINK_LATENCY_S[h.interconnect_kind]


@dataclass(frozen=True)
class OpTimes:
    """Per-instance times of one operator (arrays over points)."""

    compute_s: Arr
    memory_s: Arr
    comm_s: Arr = field(default_factory=lambda: np.asarray(0.0))

    def latency_s(self, overlap: str, launch_s: Arr) -> Arr:
        core = np.maximum(self.compute_s, self.memory_s) if overlap == "roofline" else (
            self.compute_s + self.memory_s)
        return in_place(np.add, in_place(np.add, core, self.comm_s), launch_s)  # core is fresh


def in_place(ufunc: np.ufunc, fresh: Arr, y: Arr | float) -> Arr:
    """ufunc(fresh, y), into `fresh` (an array no one else holds) where it is a float64 array
    of the result's shape, else a new array: the same numbers either way, one array fewer
    (a sweep's are megabytes each, and numpy's fresh ones are the kernel's page faults:
    benchmarks/RESULTS.md)."""
    if isinstance(fresh, np.ndarray) and fresh.size >= IN_PLACE_SIZE and (
            fresh.dtype == np.float64):
        try:
            return ufunc(fresh, y, out=fresh)
        except ValueError:  # the result is larger than `fresh` (numpy checks before writing)
            pass
    return ufunc(fresh, y)


# Elements from which in_place writes into its operand: below it (one estimate's arrays) the
# plain ufunc, whose new array numpy's small-block cache serves as fast.
IN_PLACE_SIZE = 4096


def op_times(op: Op, r: Rates) -> OpTimes:
    mm_rate = r.attention_flops_per_s if op.op_class == "attention" else r.matmul_flops_per_s
    compute = in_place(np.add, op.matmul_flops / mm_rate, op.vector_flops / r.vector_flops_per_s)
    comm = in_place(np.add, op.link_bytes / r.link_bytes_per_s, op.link_hops * r.link_latency_s)
    memory = op.bytes / r.bytes_per_s
    cls = CURVE_OF_CLASS.get(op.op_class, "")
    curve, mem_curve = r.curves.get(cls), r.curves.get(cls + MEMORY_SUFFIX)
    by_intensity, by_width = r.intensity.get(cls), r.width.get(cls + MEMORY_SUFFIX)
    if any(c is not None for c in (curve, mem_curve, by_intensity, by_width)):
        t = np.maximum(compute, memory)
        eff = curve(t) if curve is not None else np.ones_like(t)
        if by_intensity is not None:
            flops = np.asarray(op.matmul_flops + op.vector_flops, dtype=float)
            eff = by_intensity(flops / np.maximum(np.asarray(op.bytes, dtype=float), 1e-30), eff)
        if mem_curve is not None:  # memory-bound instances take the memory-bound curve
            eff = np.where(memory > compute, mem_curve(t), eff)
        if by_width is not None and np.any(np.asarray(op.gemm_k) > 0):  # ... or, for a GEMM with its k,
            # the memory-bound curve over that input width
            eff = np.where(memory > compute, by_width(np.asarray(op.gemm_k), eff), eff)
        compute, memory = in_place(np.divide, compute, eff), in_place(np.divide, memory, eff)
    if r.kernels is not None:  # fitted kernel figures win where a device has them
        e = r.engine
        fused = e is not None and op.op_class in e.fused_op_classes
        gemm = e is not None and op.fuse in e.fused_gemms  # one GEMM with its group
        f = r.kernels.factor(op, r.matmul_flops_per_s, r.bytes_per_s, np.maximum(compute, memory),
                             fused, gemm)
        compute, memory = in_place(np.multiply, compute, f), in_place(np.multiply, memory, f)
    return OpTimes(compute_s=compute, memory_s=memory, comm_s=comm)


def as_column(r: Rates) -> Rates:
    """The same rates shaped [devices, 1], to broadcast against [1, points] grids."""
    arrays = {f.name: np.asarray(getattr(r, f.name)).reshape(-1)[:, None]
              for f in fields(Rates)
              if f.name not in ("curves", "intensity", "width", "engine", "kernels")}
    curves = {c: Curve(v.log10_s, v.eff[:, None, :], v.first_log10_s[:, None])
              for c, v in r.curves.items()}
    return Rates(**arrays, curves=curves, intensity=r.intensity, width=r.width,
                 engine=r.engine, kernels=r.kernels)


def sum_linear_max(a1: Arr, b1: Arr, a2: Arr, b2: Arr, n: Arr) -> Arr:
    """Exact sum over j = 0..n-1 of max(a1 + b1*j, a2 + b2*j), vectorised.

    Used to integrate decode latency while the KV cache grows: each operator's compute and
    memory time are affine in the step index, so their max is piecewise affine.
    sum max(x, y) = sum y + sum max(x - y, 0), and x - y = c + e*j changes sign at most once.
    The same operations as the plain expressions, in the same order, in place in a few
    buffers of the broadcast shape (a sweep's are megabytes each: benchmarks/RESULTS.md).
    """
    n = np.asarray(n, dtype=float)
    shape = np.broadcast(a1, b1, a2, b2, n).shape  # np.broadcast: 5x faster
    if not shape:  # scalars: the same sum over one-element arrays
        return sum_linear_max(*(np.reshape(x, 1) for x in (a1, b1, a2, b2, n)))[0]
    c, e = np.empty(shape), np.empty(shape)
    np.subtract(a1, a2, out=c)
    np.subtract(b1, b2, out=e)
    e += 0.0  # -0.0 -> +0.0, so that -c / e takes c's sign
    total_y = _series(a2, b2, 0.0, n)
    root = np.negative(c)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        root /= e  # e == 0: -inf (c > 0: every j), +inf (c < 0: none), NaN (c == 0: zeros);
        # a subnormal e overflows to the same infinities, which count alike
    # e >= 0: positive for j > root; e < 0: positive for j < root. fmax / fmin take 0 for NaN.
    rising = e >= 0
    lo = np.floor(root)
    lo += 1
    np.fmin(np.fmax(lo, 0.0, out=lo), n, out=lo)
    np.copyto(lo, 0.0, where=~rising)
    hi = np.ceil(root, out=root)
    np.fmin(np.fmax(hi, 0.0, out=hi), n, out=hi)
    np.copyto(hi, np.broadcast_to(n, shape), where=rising)
    np.maximum(hi, lo, out=hi)
    pos = _series(c, e, lo, hi)
    return np.add(total_y, pos, out=pos)


def _series(a: Arr, b: Arr, lo: Arr | float, hi: Arr) -> Arr:
    """sum over j = lo..hi-1 of (a + b*j): cnt * a + b * (hi * (hi - 1) - lo * (lo - 1)) / 2,
    those operations in that order, in place in two buffers of the broadcast shape."""
    lo = np.asarray(lo)
    shape = np.broadcast(a, b, lo, hi).shape
    out, tri = np.empty(shape), np.empty(shape)
    np.subtract(hi, lo, out=out)
    out *= a
    np.subtract(hi, 1, out=tri)
    np.multiply(hi, tri, out=tri)
    tri -= lo * (lo - 1)
    np.multiply(b, tri, out=tri)
    tri /= 2.0
    out += tri
    return out
