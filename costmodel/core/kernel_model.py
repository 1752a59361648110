"""The measured-kernel efficiency (core/efficiency.py) as a factor on the roofline times.

Where a device carries fitted kernel figures (HardwareProfile.kernel_params, `kernel_efficiency`
in its YAML) and the engine runs measured kernels, each operator's time is the kernel model's
expected time t_kernel (wave and tile quantisation over the SMs, achievable fractions, fixed
cost per kernel); compute and memory times are both multiplied by t_kernel / max(compute,
memory), so the latency is t_kernel and the bound label is unchanged (the same rule as the
efficiency curves). Devices without figures keep the profile's efficiencies and curves.
Formula: docs/methodology.md, "Kernel efficiency" and "Inference engines".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from costmodel.core.efficiency import (
    Device,
    KernelParams,
    for_fp8,
    op_time_s,
    params_of,
    prefill_qo_bytes,
)
from costmodel.core.ops import Arr, Op
from costmodel.specs.engine import Engine
from costmodel.specs.hardware import HardwareProfile
from costmodel.units import DType

UNPRICED = ("comm", "overhead")  # link time and host time: not kernels
FUSABLE = ("norm", "activation", "elementwise", "rope", "embedding")  # memory-bound classes
# classes whose kernel time has no per-device branch (GEMMs and memory-bound kernels): priced for
# every device with figures in one call, the figures stacked as columns ([D, 1]); attention
# (decode and prefill rules branch per device) is priced device by device
STACKED = ("linear", "lm_head", *FUSABLE)


@dataclass(frozen=True)
class KernelModel:
    """Per device (rows of the rates): fitted figures and SM count, or None."""

    params: tuple[KernelParams | None, ...]
    sm_count: tuple[int, ...]
    act_bytes_per_element: float
    exp_per_s: tuple[float, ...] = ()  # SFU exponentials per second (inf: not modelled)
    sm_flops_per_s: tuple[float, ...] = ()  # dense bf16 (else fp16) peak (Device.sm_flops_per_s)
    qo_bytes_per_element: tuple[float, ...] = ()  # prefill attention's Q/O (prefill_qo_bytes)
    # what-if factor on every FLOP/s (Rates.scaled: plan's scaling), applied to the per-SM
    # rates above as `--set peak_tflops=xF` scales the peaks they derive from; [D or 1, K]
    compute_scale: Arr | float = 1.0

    @classmethod
    def of(cls, profiles: Sequence[HardwareProfile], act_bytes_per_element: float,
           engine: Engine | None = None, kv_dtype: DType | None = None,
           math_dtypes: Sequence[DType] = ()) -> KernelModel | None:
        """None when no device has fitted figures (then nothing changes). Per device: the
        engine's figure set where the device has one (Engine.kernel_figures:
        decode_kernel_by_engine, attention_kernel_by_engine), else the device's; the engine's
        decode_max_group in place of the set's; gemm_fraction_fp8 where the device's math
        dtype (math_dtypes) is fp8; prefill attention's Q/O bytes per element
        (prefill_qo_bytes: the KV cache's under Engine.prefill_attention_dtype 'kv_cache')."""
        ok = [h.kernel_params is not None and h.sm_count is not None for h in profiles]
        if not any(ok):
            return None
        fp8 = [dt == DType.fp8 for dt in math_dtypes] or [False] * len(profiles)
        params = tuple(_engine_params(h, engine, f8) if k else None
                       for h, k, f8 in zip(profiles, ok, fp8, strict=True))
        in_kv = engine is not None and engine.prefill_attention_dtype == "kv_cache"
        kv_b = kv_dtype.bytes_per_element if kv_dtype is not None else act_bytes_per_element
        qo = tuple(float(prefill_qo_bytes(act_bytes_per_element, kv_b, kv_dtype == DType.fp8,
                                          in_kv, h.supports(DType.fp8))) for h in profiles)
        return cls(params, tuple(h.sm_count or 0 for h in profiles), act_bytes_per_element,
                   tuple(np.inf if h.exp_per_s is None else h.exp_per_s for h in profiles),
                   tuple(_bf16_peak(h) for h in profiles), qo)

    def factor(self, op: Op, peak_flops_per_s: Arr, bytes_per_s: Arr, ideal_s: Arr,
               fused: bool = False, fused_gemm: bool = False) -> Arr:
        """t_kernel / ideal_s per device row ([D, ...]); 1 where a device has no figures.
        fused: the operator runs inside a neighbouring kernel (the engine fuses its class), so
        it pays no fixed per-kernel cost of its own, only its memory traffic. fused_gemm: a
        linear operator the engine runs as one GEMM with its group (op.fuse in
        Engine.fused_gemms): its share of that GEMM's time (efficiency.fused_gemm_time_s)."""
        if op.op_class in UNPRICED:
            return np.ones_like(ideal_s)
        ideal_s = np.asarray(ideal_s, dtype=float)
        out = np.ones((len(self.params),) + _rows(ideal_s, [0]).shape[1:])
        if op.op_class in STACKED and op.attn is None and _one_row(op):
            return self._stacked(op, out, peak_flops_per_s, bytes_per_s, ideal_s, fused,
                                 fused_gemm)
        for d, p in enumerate(self.params):
            if p is None:
                continue  # no fitted figures: factor 1
            ideal = _rows(ideal_s, [d])
            with np.errstate(divide="ignore", invalid="ignore"):
                t = self.kernel_s(op, d, peak_flops_per_s, bytes_per_s, fused, fused_gemm)
                out[d] = np.where(ideal > 0, t / np.where(ideal > 0, ideal, 1.0), 1.0)[0]
        return out

    def scaled(self, compute: Arr | float) -> KernelModel:
        """The same figures with every FLOP/s rate multiplied by `compute` (Rates.scaled)."""
        return replace(self, compute_scale=np.asarray(self.compute_scale, dtype=float)
                       * np.asarray(compute, dtype=float))

    def device(self, d: int, bytes_per_s: Arr) -> Device:
        """Device row d's datasheet figures as the formulas read them (bytes_per_s: [D, ...]),
        its per-SM rates times the what-if compute scale."""
        exp = self.exp_per_s[d] if self.exp_per_s else np.inf
        sm = self.sm_flops_per_s[d] if self.sm_flops_per_s else np.inf
        c = np.asarray(self.compute_scale, dtype=float)
        scale = _rows(c, [d]) if c.ndim else float(c)
        return Device(_rows(bytes_per_s, [d]), self.sm_count[d], exp * scale,  # type: ignore[arg-type]
                      sm * scale)  # type: ignore[arg-type]

    def qo(self, d: int) -> float | None:
        """Device row d's prefill attention Q/O bytes per element where they differ from the
        activations' (prefill_qo_bytes), else None."""
        qo = self.qo_bytes_per_element[d] if self.qo_bytes_per_element else None
        return None if qo == self.act_bytes_per_element else qo

    def kernel_s(self, op: Op, d: int, peak_flops_per_s: Arr, bytes_per_s: Arr,
                 fused: bool = False, fused_gemm: bool = False) -> Arr:
        """t_kernel of one instance of `op` on device row d (which has figures), as factor()
        prices it (fused: no fixed per-kernel cost of its own)."""
        p = self.params[d]
        assert p is not None
        t = op_time_s(op, self.device(d, bytes_per_s), p, _rows(peak_flops_per_s, [d]),
                      self.act_bytes_per_element, op.attn, self.qo(d), fused_gemm)
        return t - p.gemm_fixed_s * float(fused and op.op_class in FUSABLE)

    def memory_rate(self, bytes_per_s: Arr) -> Arr:
        """Bytes/s a memory-bound kernel streams at per device: bytes_per_s ([D, ...]) x the
        device's memory_fraction (efficiency.memory_bound_time_s; 1 without figures)."""
        frac = np.array([1.0 if p is None else p.memory_fraction for p in self.params])
        bw = np.asarray(bytes_per_s, dtype=float)
        return bw * frac.reshape((-1,) + (1,) * (bw.ndim - 1)) if bw.ndim else bw * frac[:1]

    @cached_property
    def _columns(self) -> tuple[list[int], KernelParams, Arr]:
        """(device rows with figures, their figures as [D, 1] columns, their SM counts [D, 1]):
        built once per model, read by every stacked factor() call."""
        rows = [d for d, p in enumerate(self.params) if p is not None]
        ps = [self.params[d] for d in rows]
        cols: dict[str, Any] = {f: np.array([getattr(p, f) for p in ps], dtype=float)[:, None]
                                for f in KernelParams.names()}
        sms = np.array([self.sm_count[d] for d in rows], dtype=float)[:, None]
        return rows, KernelParams(**cols), sms

    def _stacked(self, op: Op, out: Arr, peak_flops_per_s: Arr, bytes_per_s: Arr,
                 ideal_s: Arr, fused: bool, fused_gemm: bool) -> Arr:
        """factor() for GEMM and memory-bound operators, every device with figures in one
        call: the same formulas, the figures and device columns as [D, 1] arrays."""
        rows, p, sms = self._columns
        if not rows:
            return out
        dev_cols: dict[str, Any] = {"memory_bytes_per_s": _rows(bytes_per_s, rows),
                                    "sm_count": sms}
        dev = Device(**dev_cols)
        ideal = _rows(ideal_s, rows)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = op_time_s(op, dev, p, _rows(peak_flops_per_s, rows), self.act_bytes_per_element,
                          None, None, fused_gemm)
            t = t - p.gemm_fixed_s * float(fused and op.op_class in FUSABLE)
            out[rows] = np.where(ideal > 0, t / np.where(ideal > 0, ideal, 1.0), 1.0)
        return out


def _one_row(op: Op) -> bool:
    """The operator's fields hold one row of points (the usual case); fields with more rows
    (priced alone, core/pricing) keep the device-by-device path."""
    return all(np.ndim(x) < 2 or np.shape(x)[0] == 1
               for x in (op.matmul_flops, op.act_read_bytes, op.weight_bytes, op.act_write_bytes,
                         op.kv_write_bytes))


def device_ratios(km: KernelModel | None, k: int,
                  times_at: Callable[[int], tuple[Arr, Arr]]) -> Arr:
    """new / old seconds of an operator per device row with kernel figures ([D, K]; 1 on the
    others, [1, K] of ones without a kernel model): times_at(d) gives (new, old) over the K
    points; 1 where old is 0 (no work there). How an engine's chunks or split calls rescale
    an operator's kernel time (core/chunked.py, core/packed.py)."""
    if km is None:
        return np.ones((1, k))
    out = np.ones((len(km.params), k))
    for d, p in enumerate(km.params):
        if p is not None:
            with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 where no work
                new, old = times_at(d)
                out[d] = np.where(old > 0, new / np.where(old > 0, old, 1.0), 1.0)
    return out


def _rows(x: Arr | float, rows: list[int]) -> Arr:
    """Rows `rows` of a [D, ...] array (2-D), or x itself (2-D) when it has one row."""
    a = np.asarray(x, dtype=float)
    if a.ndim >= 2 and a.shape[0] > 1:
        return a[rows]
    return a if a.ndim >= 2 else a.reshape(1, -1) if a.ndim == 1 else a.reshape(1, 1)


def _engine_params(h: HardwareProfile, engine: Engine | None, fp8: bool) -> KernelParams:
    """The device's figures as `engine` runs them (KernelModel.of)."""
    p = params_of(h.kernel_params_by_engine.get(engine.kernel_figures if engine else "",
                                                h.kernel_params))
    if engine is not None and engine.decode_max_group is not None:
        p = replace(p, decode_max_group=float(engine.decode_max_group))
    return for_fp8(p, fp8)


def _bf16_peak(h: HardwareProfile) -> float:
    """Dense bf16 (else fp16) FLOP/s: what prices the attention's per-token SM work."""
    peaks = h.peak_flops_per_s_by_dtype
    return peaks.get(DType.bf16) or peaks.get(DType.fp16) or np.inf

