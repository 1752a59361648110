"""The shared pieces of the kernel-level efficiency model (costmodel.core.efficiency and
costmodel.core.decode_kernel): the fitted figures (KernelParams), the datasheet figures the
formulas read (Device) and the array helpers. Pure numpy; units as in core/efficiency.py.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from costmodel.core.ops import Arr

Num = Arr | float  # an array over shapes, or one number


@dataclass(frozen=True)
class KernelParams:
    """Fitted per-device efficiency figures (fractions of the datasheet peak; seconds)."""

    gemm_fraction: float = 1.0  # of dense peak, large GEMMs (MAMF / peak where measured)
    gemm_fraction_fp8: float = 0.0  # the same for fp8 GEMMs, of the fp8 peak; 0: gemm_fraction
    memory_fraction: float = 1.0  # of datasheet bandwidth, streaming GEMM operands
    gemm_tile_s: float = 0.0  # per GEMM CTA (one output tile's prologue and epilogue)
    gemm_fixed_s: float = 0.0  # per GEMM kernel
    gemm_overlap: float = 0.0  # 0: max(compute, memory) ... 1: compute + memory (efficiency._overlap)
    attention_fraction: float = 1.0  # of dense peak, FlashAttention prefill / ViT
    attention_tile_s: float = 0.0  # per attention CTA (one Q block of one head)
    attention_fixed_s: float = 0.0  # per attention kernel
    attention_io_flop_per_byte: float = 0.0  # SM work per Q/K/V/O byte, at peak (0: DRAM only)
    attention_overlap: float = 0.0
    attention_exp_overlap: float = 0.0  # 0: max(matmul, exp) ... 1: matmul + exp (per score)
    decode_fraction: float = 1.0  # of datasheet bandwidth, decode KV reads (asymptote)
    decode_tile_s: float = 0.0  # per wave of decode CTAs
    decode_fixed_s: float = 0.0  # per decode attention kernel
    decode_half_ctas: float = 0.0  # CTAs per wave at half the decode bandwidth (0: none)
    decode_compute_fraction: float = 1.0  # of dense peak, decode q.K and p.V math
    decode_split_mha: float = 1.0  # 1: split the KV also when g = 1; 0: only packed groups
    decode_max_group: float = 0.0  # > 0: groups above it get one CTA per query head
    decode_xqa: float = 0.0  # > 0: TensorRT-LLM's XQA / masked-MHA dispatch and KV split
    decode_mmha_tile_s: float = 0.0  # per wave of masked-MHA CTAs (decode_xqa only)
    decode_xqa_sm90: float = 0.0  # > 0 (decode_xqa on SM90): fp8-cache XQA runs mha_sm90
    decode_flop_per_element: float = 0.0  # SM work per K/V element read, FLOP-equivalents at the peak

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class Device:
    """What the formulas need from the datasheet: bandwidth (bytes/s), SMs and the SFU's
    exponentials per second (inf: not modelled, the attention softmax is free) and the dense
    bf16 (else fp16) peak that prices the attention's per-token SM work (inf: DRAM only)."""

    memory_bytes_per_s: float
    sm_count: int
    exp_per_s: float = np.inf
    sm_flops_per_s: float = np.inf


def _a(x: Num) -> Arr:
    return np.asarray(x, dtype=float)
