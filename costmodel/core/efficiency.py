"""Kernel-level efficiency: the expected time of one GPU kernel from its shape. Pure numpy.

Units: FLOPs (= 2 x multiply-accumulate), bytes, seconds, FLOP/s, bytes/s. Every function is
vectorised over numpy arrays (one entry per shape). The device enters through its datasheet
dense peak (FLOP/s of the math dtype), memory bandwidth (bytes/s) and SM count, and through a
handful of fitted `KernelParams` (costmodel.calibration.kernel_tables fits them from measured
kernel tables; hardware profiles carry them under `kernel_efficiency`). Formulas (also in
docs/methodology.md, "Kernel efficiency"):

GEMM C[m,n] = A[m,k] B[k,n] (cuBLAS/CUTLASS-style output tiles of TILE_M x TILE_N):
  tm        = clamp(pow2ceil(m), 16, 128)            the row tile shrinks for small m
  tiles     = ceil(m / tm) * ceil(n / TILE_N);  split-K to fill the SMs when tiles < SMs:
  split     = clamp(floor(SMs / tiles), 1, ceil(k / 256)),  ctas = tiles * split
  cta_s     = gemm_tile_s + 2 * tm * TILE_N * (k / split) / (peak * gemm_fraction / SMs)
  compute_s = ceil(ctas / SMs) * cta_s                 (wave quantisation: whole waves)
  memory_s  = (m*k*a + k*n*w + m*n*o) / (bandwidth * memory_fraction)
  t         = max(compute_s, memory_s) + gemm_fixed_s
Prefill (context) attention, FlashAttention-class, Q blocks of BLOCK rows per CTA:
  score_s = _overlap(4*d / per_sm, 1 / exp_sm, attention_exp_overlap)   one score's matmuls
           (per_sm = peak * attention_fraction / SMs FLOP/s) and its softmax exponential on
           the SFU (exp_sm = dev.exp_per_s / SMs; inf where the profile has no flop_per_exp)
  cta_s  = attention_tile_s + score_s * (scores of the CTA: BLOCK rows x the keys it visits)
  io_s   = max(bytes / bandwidth, bytes * attention_io_flop_per_byte / peak_bf16)   Q/K/V/O:
           the per-token work around the score loop (Q load, O rescale, convert and store) is
           SM work, priced at the SM peak (it carries across devices; docs/validation.md,
           "Prefill attention"), never faster than DRAM
  t      = max(ceil(ctas / SMs) * mean(cta_s), max(cta_s)) (+ io_s, _overlap)
           + attention_fixed_s,  ctas = b*h*nq
  (useful causal FLOPs 2*2*b*h*s*s*d/2; encoder (ViT) attention is the non-causal case)
Decode (generation) attention, one CTA per (sequence, unit, KV split), g = h / kvh:
  units  = b * kvh when the query heads of a KV group share a CTA (g > 1), else b * h; with
           decode_max_group G > 0 a group g > G runs one CTA per query head that reads its
           K and V itself (bytes x g): TensorRT-LLM's XQA kernel vs its masked-MHA fallback
  bytes  = units' K and V (b * kvh * L * d * 2 * kv_bytes, or b * h * ... per query head)
           + 2 * b * h * d * a,   L = min(cached + 1, window);  flops = 4 b h L d
  split  = FlashAttention's num_splits_heuristic(units, SMs, ceil(L / block_n)) (below);
           1 for g = 1 when decode_split_mha = 0 (FlashAttention-2's varlen path splits the KV
           only when it packs a group's query heads)
  waves  = ceil(ctas / (RESIDENT * SMs)), per = ctas / waves, sat = per / (per + decode_half_ctas)
  t      = decode_fixed_s + waves * (decode_tile_s + max(bytes / waves / (bandwidth *
           min(1, decode_fraction * sat)), flops / waves / (peak * min(1, decode_compute_fraction
           * sat))))
  (decode_fraction is the asymptote of the saturation curve and may exceed 1; the achieved
  fraction min(1, decode_fraction x sat) never does, so no kernel beats the bound)
  decode_xqa > 0 (TensorRT-LLM's generation attention) replaces units and split by its own
  dispatch, G = decode_max_group, SMs = the device's:
    XQA      if 1 < g <= G and 4 * b * kvh * max(1, L // 128) >= SMs: one CTA per (sequence,
             KV head, split), ctas = b * kvh * m, bytes as the packed kernel's,
             m = L // 128; m = max(1, min(m, round(sqrt(8 m)))); w = b*kvh*m / SMs;
             if w > 8: m = max(1, floor(m / (w / 8))); m = max(1, min(m, 6000 // b))
    else masked MHA: one CTA per (sequence, query head, tile), each reading its K and V
             (bytes per query head), ctas = b * h * max(1, min(ceil(SMs / (b h)), ceil(L / 128)))
    per wave decode_tile_s for XQA CTAs, decode_mmha_tile_s for masked-MHA ones (fitted).
  Source (NVIDIA/TensorRT-LLM, main-branch versions in the search index; the tables ran 1.0.0
  and 1.3.0rc20, whose copies were not compared): cpp/tensorrt_llm/common/attentionOp.cpp
  (eea41b7) enqueueGeneration tries XQA (mXqaDispatcher->shouldUse) before masked MHA;
  decoderXQAImplJIT/kernelUtils.cpp (602593a) supportConfigHMMA / supportConfigCommon: no XQA
  for h = kvh ("vanilla MHA ... for performance reasons") or head_grp_size > 32;
  decoderXQAImplJIT/decoderXQAImplJIT.cpp (89fd9b7) mayHavePerfGain (the 4 x CTAs >= SMs test)
  and its launch grid (multi_block, kvh, b); decoderXQAImplCommon.h (b35ac1b)
  computeMultiBlockCount and decoderXQAConstants.h (37e602f) kMinHistoryTokensPerBlock 128,
  kTargetWaveFactor 8, kEnableMinBlockFactor 4, 6000 sub-sequences; masked MHA:
  decoderMaskedMultiheadAttentionLaunch.h (14e801d) multi_block_grid_setup, tiles clamped to
  ceil((t + 1) / (threads / threads_per_value * 8)) and to AttentionOp::getMaxNumSeqLenTile =
  ceil(SMs / (b h)) (multi-block mode is AttentionOp's default), 256 threads and 16 per value
  (d 128, 16-bit) assumed: 128 tokens a tile (the launcher may raise the threads, and so the
  tokens a tile, with occupancy, which is not modelled).
Sources: wave quantisation as in NVIDIA's "Matrix Multiplication Background User's Guide"
(docs.nvidia.com/deeplearning/performance/dl-performance-matrix-multiplication); FlashAttention
tiling from Dao, "FlashAttention-2" (2023); split-KV decoding from Dao et al.,
"Flash-Decoding for long-context inference" (2023) and num_splits_heuristic in
flash-attention's csrc/flash_attn/flash_api.cpp (v2.x; block_n 256 for d <= 64, 128 for
d <= 128, else 64; the varlen path calls it only when it swaps seqlen_q with the query-head
groups); SFU exponentials: 16 per clock per SM on compute capability 8.0 / 9.0 (CUDA C++
Programming Guide, arithmetic instruction throughput) and Shah et al., "FlashAttention-3"
(2024), sec. 3; the decode fit and its rules: docs/validation.md, "Decode attention"; large-GEMM
fractions from Bekman's "Maximum Achievable Matmul FLOPS" table (stas00/ml-engineering).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from costmodel.core.ops import Arr, AttnShape, Op

Num = Arr | float  # an array over shapes, or one number

TILE_N = 128  # GEMM output-tile columns
TILE_M_MAX, TILE_M_MIN = 128, 16  # GEMM output-tile rows: shrink with m down to 16
SPLIT_K_MIN = 256  # least K per split-K slice
BLOCK = 128  # FlashAttention query / key block
MAX_SPLITS = 128  # FlashAttention's num_splits_heuristic cap
SPLIT_EFFICIENCY = 0.85  # ... takes the fewest splits within 85% of the best wave efficiency
RESIDENT = 2  # decode CTAs resident per SM (assumed: small CTAs, two fit an SM's registers)
# TensorRT-LLM generation attention (decode_xqa; sources in the module docstring)
XQA_MIN_TOKENS = 128.0  # kMinHistoryTokensPerBlock: KV tokens per XQA split
XQA_WAVES = 8.0  # kTargetWaveFactor: the XQA split is cut to at most 8 waves of CTAs per SM
XQA_MAX_SUB_SEQ = 6000.0  # getXqaMaxNumSubSeq: batch x splits the workspace holds
XQA_MIN_BLOCK_FACTOR = 4.0  # kEnableMinBlockFactor: XQA only if 4 x its CTAs >= SMs
MMHA_TILE = 128.0  # masked MHA KV tokens per tile: 256 threads / 16 per value x 8 unroll


@dataclass(frozen=True)
class KernelParams:
    """Fitted per-device efficiency figures (fractions of the datasheet peak; seconds)."""

    gemm_fraction: float = 1.0  # of dense peak, large GEMMs (MAMF / peak where measured)
    gemm_fraction_fp8: float = 0.0  # the same for fp8 GEMMs, of the fp8 peak; 0: gemm_fraction
    memory_fraction: float = 1.0  # of datasheet bandwidth, streaming GEMM operands
    gemm_tile_s: float = 0.0  # per GEMM CTA (one output tile's prologue and epilogue)
    gemm_fixed_s: float = 0.0  # per GEMM kernel
    gemm_overlap: float = 0.0  # 0: max(compute, memory) ... 1: compute + memory (see _overlap)
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


def _pow2ceil(x: Num) -> Arr:
    return 2.0 ** np.ceil(np.log2(np.maximum(x, 1.0)))


def _overlap(compute_s: Num, memory_s: Num, overlap: float) -> Arr:
    """max(c, m) + overlap * min(c, m): 0 = perfect overlap (roofline), 1 = serial."""
    return np.maximum(compute_s, memory_s) + overlap * np.minimum(compute_s, memory_s)


def gemm_time_s(m: Num, n: Num, k: Num, peak_flops_per_s: Num, a_bytes: Num, w_bytes: Num,
                o_bytes: Num, dev: Device, p: KernelParams) -> Arr:
    """Expected seconds of one C[m,n] = A[m,k] B[k,n] call (module docstring)."""
    m, n, k = _a(m), _a(n), _a(k)
    sms = float(dev.sm_count)
    tm = np.clip(_pow2ceil(m), TILE_M_MIN, TILE_M_MAX)
    tiles = np.ceil(m / tm) * np.ceil(n / TILE_N)
    split = np.clip(np.floor(sms / tiles), 1.0, np.ceil(k / SPLIT_K_MIN))
    per_sm = _a(peak_flops_per_s) * p.gemm_fraction / sms
    cta_s = p.gemm_tile_s + 2.0 * tm * TILE_N * (k / split) / per_sm
    compute_s = np.ceil(tiles * split / sms) * cta_s
    memory_s = (m * k * a_bytes + k * n * w_bytes + m * n * o_bytes) / (
        dev.memory_bytes_per_s * p.memory_fraction)
    return _overlap(compute_s, memory_s, p.gemm_overlap) + p.gemm_fixed_s


def gemm_bound_s(m: Num, n: Num, k: Num, peak_flops_per_s: Num, a_bytes: Num, w_bytes: Num,
                 o_bytes: Num, memory_bytes_per_s: float) -> Arr:
    """Bare roofline: max(2mnk / peak, minimum bytes / bandwidth)."""
    m, n, k = _a(m), _a(n), _a(k)
    return np.maximum(2.0 * m * n * k / _a(peak_flops_per_s),
                      (m * k * a_bytes + k * n * w_bytes + m * n * o_bytes) / memory_bytes_per_s)


def _kv_blocks(nq: Num, nk: Num, causal: Num, window: Num) -> tuple[Arr, Arr]:
    """(mean, max) KV blocks visited per Q block. window <= 0 means none."""
    wb = np.where(window > 0, np.ceil(window / BLOCK) + 1.0, np.inf)
    # causal: block i sees min(i + 1, wb); mean over i = 0..nq-1 of min(i+1, wb)
    full = np.minimum(nq, wb)
    causal_mean = (full * (full + 1.0) / 2.0 + (nq - full) * np.minimum(wb, nq)) / nq
    mean = np.where(causal, causal_mean, np.minimum(nk, wb))
    top = np.where(causal, full, np.minimum(nk, wb))
    return mean, top


def score_time_s(head_dim: Num, per_sm_flops: Num, per_sm_exp: Num, overlap: float) -> Arr:
    """Seconds one SM spends on one attention score: its two matmuls (4*d FLOPs) and its
    softmax exponential on the SFU, combined as _overlap (0: FA3's overlap, 1: serial)."""
    return _overlap(4.0 * _a(head_dim) / per_sm_flops, 1.0 / _a(per_sm_exp), overlap)


def prefill_attention_time_s(batch: Num, q_len: Num, kv_len: Num, heads: Num, head_dim: Num,
                             causal: Num, window: Num, peak_flops_per_s: Num, bytes_: Num,
                             dev: Device, p: KernelParams) -> Arr:
    """Expected seconds of one FlashAttention forward (prefill or ViT encoder)."""
    batch, q_len, heads = _a(batch), _a(q_len), _a(heads)
    sms = float(dev.sm_count)
    per_score = score_time_s(head_dim, _a(peak_flops_per_s) * p.attention_fraction / sms,
                             dev.exp_per_s / sms, p.attention_exp_overlap)
    ctas = batch * heads * np.ceil(q_len / BLOCK)
    scores = attention_flops(batch, q_len, kv_len, heads, 1.0, causal, window) / 4.0
    w = np.where(_a(window) > 0, _a(window), np.inf)
    longest = np.minimum(q_len, BLOCK) * np.minimum(_a(kv_len), w)
    waves_s = np.ceil(ctas / sms) * (p.attention_tile_s + scores / ctas * per_score)
    longest_s = p.attention_tile_s + longest * per_score
    io_s = attention_io_time_s(bytes_, dev, p)
    return _overlap(np.maximum(waves_s, longest_s), io_s, p.attention_overlap) + (
        p.attention_fixed_s)


def attention_io_time_s(bytes_: Num, dev: Device, p: KernelParams) -> Arr:
    """Seconds of an attention call's per-token work on its Q/K/V/O bytes: SM work of
    attention_io_flop_per_byte FLOP-equivalents per byte at the dense bf16 peak
    (dev.sm_flops_per_s, whatever the math dtype), never below the DRAM time bytes / bandwidth."""
    b = _a(bytes_)
    return np.maximum(b / dev.memory_bytes_per_s,
                      b * p.attention_io_flop_per_byte / dev.sm_flops_per_s)


def attention_flops(batch: Num, q_len: Num, kv_len: Num, heads: Num, head_dim: Num,
                    causal: Num, window: Num) -> Arr:
    """Useful FLOPs 2*2*b*h*d*(scores): causal scores sum_i min(i+1, window) per head."""
    q, kv, w = _a(q_len), _a(kv_len), _a(window)
    w = np.where(w > 0, w, np.inf)
    full = np.minimum(q, w)
    causal_scores = full * (full + 1.0) / 2.0 + (q - full) * np.minimum(w, q)
    scores = np.where(np.asarray(causal), causal_scores, q * np.minimum(kv, w))
    return 4.0 * _a(batch) * _a(heads) * _a(head_dim) * scores


def decode_kv_bytes(batch: Num, kv_len: Num, heads: Num, kv_heads: Num, head_dim: Num,
                    kv_bytes: Num, a_bytes: Num) -> Arr:
    """K and V read once (kv_heads only: GQA) plus q read and output written."""
    b, d = _a(batch), _a(head_dim)
    return b * _a(kv_heads) * _a(kv_len) * d * 2.0 * kv_bytes + 2.0 * b * _a(heads) * d * a_bytes


def num_splits(units: Num, n_blocks: Num, sms: int) -> Arr:
    """FlashAttention's num_splits_heuristic, vectorised: 1 when the units fill 80% of the
    SMs; else the fewest splits s <= min(128, SMs, n_blocks) whose wave efficiency
    (units*s/SMs over its ceiling) is within 85% of the best, among the eligible s (those
    that change ceil(n_blocks / s))."""
    u, nb = np.broadcast_arrays(_a(units), _a(n_blocks))
    shape, u, nb = u.shape, u.reshape(-1), nb.reshape(-1)
    s = np.arange(1.0, MAX_SPLITS + 1.0)[None, :]
    top = np.minimum(float(min(MAX_SPLITS, sms)), nb)[:, None]
    waves = u[:, None] * s / sms
    with np.errstate(divide="ignore"):  # s - 1 = 0 for s = 1, always eligible
        eligible = (s == 1) | (np.ceil(nb[:, None] / s) != np.ceil(nb[:, None] / (s - 1)))
    eff_s = np.where((s <= top) & eligible, waves / np.ceil(waves), -1.0)
    pick = np.argmax(eff_s >= SPLIT_EFFICIENCY * eff_s.max(axis=1, keepdims=True), axis=1) + 1.0
    return np.where((u >= 0.8 * sms) | (top[:, 0] <= 1.0), 1.0, pick).reshape(shape)


def _flash_decode_ctas(b: Arr, h: Arr, kvh: Arr, d: Arr, kv_len: Arr, sms: int,
                       p: KernelParams) -> tuple[Arr, Arr]:
    """(CTAs, K/V heads read per sequence) under FlashAttention's split (module docstring)."""
    g = h / kvh
    per_q = (p.decode_max_group > 0) & (g > p.decode_max_group)
    units = np.where((g > 1) & ~per_q, b * kvh, b * h)
    reads = np.where(per_q, h, kvh)  # K/V streams read from memory per sequence
    block_n = np.where(d <= 64, 256.0, np.where(d <= 128, 128.0, 64.0))
    split = num_splits(units, np.ceil(kv_len / block_n), sms)
    split = np.where((units == b * h) & (p.decode_split_mha <= 0), 1.0, split)
    return units * split, reads


def xqa_multi_block(batch: Num, kv_heads: Num, kv_len: Num, sms: int) -> Arr:
    """TensorRT-LLM's XQA KV split (computeMultiBlockCount), vectorised: m = L // 128, at
    most round(sqrt(8 m)), at least 1; scaled down (floor) to at most 8 waves of b*kvh*m
    CTAs per SM count; at most 6000 // b (reserved workspace), at least 1."""
    b, kvh = _a(batch), _a(kv_heads)
    m = np.floor(_a(kv_len) / XQA_MIN_TOKENS)
    m = np.maximum(np.minimum(m, np.floor(np.sqrt(8.0 * m) + 0.5)), 1.0)
    waves = b * kvh * m / sms
    m = np.maximum(np.where(waves > XQA_WAVES, np.floor(m / (waves / XQA_WAVES)), m), 1.0)
    return np.maximum(np.minimum(m, np.floor(XQA_MAX_SUB_SEQ / b)), 1.0)


def trtllm_decode_ctas(batch: Num, heads: Num, kv_heads: Num, kv_len: Num, sms: int,
                       max_group: float) -> tuple[Arr, Arr]:
    """(CTAs, XQA?) of TensorRT-LLM's generation attention (module docstring): XQA, one CTA
    per (sequence, KV head, KV split), for 1 < g <= max_group when 4 b kvh max(1, L // 128)
    >= SMs; else masked MHA, one CTA per (sequence, query head, tile) with
    tiles = min(ceil(SMs / (b h)), ceil(L / 128)), at least 1."""
    b, h, kvh, kv_len = _a(batch), _a(heads), _a(kv_heads), _a(kv_len)
    g = h / kvh
    blocks = np.maximum(1.0, np.floor(kv_len / XQA_MIN_TOKENS))
    xqa = (g > 1) & (g <= max_group) & (XQA_MIN_BLOCK_FACTOR * b * kvh * blocks >= sms)
    tiles = np.maximum(1.0, np.minimum(np.ceil(sms / (b * h)), np.ceil(kv_len / MMHA_TILE)))
    return np.where(xqa, b * kvh * xqa_multi_block(b, kvh, kv_len, sms), b * h * tiles), xqa


def decode_attention_time_s(batch: Num, kv_len: Num, heads: Num, kv_heads: Num,
                            head_dim: Num, kv_bytes: Num, a_bytes: Num, dev: Device,
                            p: KernelParams, peak_flops_per_s: Num = np.inf) -> Arr:
    """Expected seconds of one decode step's attention (one layer): module docstring."""
    b, h, kvh, d, kv_len = _a(batch), _a(heads), _a(kv_heads), _a(head_dim), _a(kv_len)
    if p.decode_xqa > 0:  # masked MHA: every query head's CTA reads its K and V
        ctas, xqa = trtllm_decode_ctas(b, h, kvh, kv_len, dev.sm_count, p.decode_max_group)
        reads, tile = np.where(xqa, kvh, h), np.where(xqa, p.decode_tile_s, p.decode_mmha_tile_s)
    else:
        ctas, reads = _flash_decode_ctas(b, h, kvh, d, kv_len, dev.sm_count, p)
        tile = _a(p.decode_tile_s)
    total = decode_kv_bytes(b, kv_len, h, reads, d, kv_bytes, a_bytes)
    waves = np.ceil(ctas / (RESIDENT * dev.sm_count))
    sat = ctas / waves / (ctas / waves + p.decode_half_ctas)
    # achieved fractions capped at 1: the expected time is never below the bound
    memory_s = total / waves / (dev.memory_bytes_per_s * np.minimum(p.decode_fraction * sat, 1.0))
    compute_s = 4.0 * b * h * kv_len * d / waves / (
        _a(peak_flops_per_s) * np.minimum(p.decode_compute_fraction * sat, 1.0))
    return p.decode_fixed_s + waves * (tile + np.maximum(memory_s, compute_s))


def for_fp8(p: KernelParams, fp8: bool) -> KernelParams:
    """The figures a GEMM in fp8 runs with: gemm_fraction_fp8 (MAMF's fp8 sweep / the fp8
    dense peak) in place of gemm_fraction where the device has one."""
    if not fp8 or p.gemm_fraction_fp8 <= 0.0:
        return p
    return replace(p, gemm_fraction=p.gemm_fraction_fp8)


def memory_bound_time_s(bytes_: Num, dev: Device, p: KernelParams) -> Arr:
    """One memory-bound kernel (norm, activation, add, RoPE, gather, a quantisation pass):
    bytes / (bandwidth * memory_fraction) + gemm_fixed_s."""
    return _a(bytes_) / (dev.memory_bytes_per_s * p.memory_fraction) + p.gemm_fixed_s


def params_of(kernel_params: dict[str, float] | None) -> KernelParams:
    """A profile's `kernel_params` (HardwareProfile.kernel_params) as KernelParams; None gives
    the bare bound (fractions 1, no fixed costs)."""
    return KernelParams(**kernel_params) if kernel_params else KernelParams()


def _gemm_of_op(op: Op, a_bytes: float) -> tuple[Arr, Arr, Arr, Arr]:
    """(m, n, k, weight bytes per element) of a linear Op: with F = mnk = matmul_flops / 2,
    m*k = act_read / a, m*n = output / a: k = F / (m*n), n = F / (m*k), m = (m*k) / k."""
    f = _a(op.matmul_flops) / 2.0
    mk = _a(op.act_read_bytes) / a_bytes
    mn = (_a(op.act_write_bytes) + _a(op.kv_write_bytes)) / a_bytes
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(mn > 0, f / mn, 0.0)
        n = np.where(mk > 0, f / mk, 0.0)
        m = np.where(k > 0, mk / k, 0.0)
        w = np.where(k * n > 0, _a(op.weight_bytes) / (k * n), a_bytes)
    return m, n, k, w


def prefill_qo_bytes(act_bytes: Num, kv_bytes: Num, kv_fp8: Num, runs_in_kv_dtype: bool,
                     device_fp8: Num) -> Arr:
    """Bytes per element in which a prefill (context) attention kernel holds Q and O: the
    activation's, or the KV cache's where the engine runs its context FMHA in the KV dtype
    (Engine.prefill_attention_dtype 'kv_cache') and the cache is fp8 on a device with fp8
    math. Source: TensorRT-LLM forces paged context FMHA for an FP8 KV cache
    (tensorrt_llm/_torch/attention_backend/trtllm.py, TrtllmAttention.forward), and paged
    context FMHA with an FP8 KV cache runs the FP8 kernel (cpp/tensorrt_llm/thop/attentionOp.cpp:
    mFP8ContextFMHA = ... || (hasFp8KvCache() && use_paged_context_fmha)); docs/validation.md,
    "Prefill attention", shows the measured times."""
    on = bool(runs_in_kv_dtype) & np.asarray(device_fp8, dtype=bool) & np.asarray(kv_fp8, bool)
    return np.where(on, kv_bytes, act_bytes)


def _attention_of_op(op: Op, s: AttnShape, dev: Device, p: KernelParams,
                     peak_flops_per_s: Num, a_bytes: float, qo_bytes: float | None) -> Arr:
    if np.all(_a(s.q) == 1) and s.kv_from_cache:
        kv_elems = 2.0 * _a(s.seqs) * _a(s.k) * s.kv_heads * s.head_dim
        kv_b = np.where(kv_elems > 0, _a(op.kv_read_bytes) / np.maximum(kv_elems, 1.0), a_bytes)
        return decode_attention_time_s(s.seqs, s.k, s.heads, s.kv_heads, s.head_dim, kv_b,
                                       a_bytes, dev, p, peak_flops_per_s)
    by = _a(op.bytes)
    if qo_bytes is not None and s.kv_from_cache:  # Q and O (the non-KV bytes) in qo_bytes
        kv = _a(op.kv_read_bytes)
        by = kv + (by - kv) * (qo_bytes / a_bytes)
    return prefill_attention_time_s(s.seqs, s.q, s.k, s.heads, s.head_dim, s.causal, 0.0,
                                    peak_flops_per_s, by, dev, p)


def op_time_s(op: Op, dev: Device, p: KernelParams, peak_flops_per_s: Num, a_bytes: float,
              attn: AttnShape | None = None, qo_bytes: float | None = None) -> Arr:
    """Expected seconds of one instance of `op` (costmodel.core.ops) on the device.

    linear / lm_head: gemm_time_s on the (m, n, k) recovered from the Op (_gemm_of_op).
    attention: with its AttnShape, decode_attention_time_s (q = 1 from the KV cache) or
    prefill_attention_time_s (prefill causal; ViT non-causal); without one, the bound at the
    attention (or decode) fractions plus the fixed cost. Other classes (norms, activations,
    adds, RoPE, embedding gathers) are memory-bound: bytes / (bandwidth * memory_fraction)
    + gemm_fixed_s. Ops with no work take 0 s. `comm` ops are priced by the roofline's link
    model, not here (ValueError). qo_bytes: bytes per element of a prefill attention call's
    Q and O when the kernel holds them in another dtype than the activations (prefill_qo_bytes).
    """
    work = (_a(op.matmul_flops) + _a(op.bytes)) > 0
    if op.op_class == "comm":
        raise ValueError("op_time_s: comm ops are priced by the link model (core/roofline)")
    if op.op_class in ("linear", "lm_head"):
        m, n, k, w = _gemm_of_op(op, a_bytes)
        with np.errstate(divide="ignore", invalid="ignore"):  # rows without work -> 0 below
            t = gemm_time_s(m, n, k, peak_flops_per_s, a_bytes, w, a_bytes, dev, p)
    elif op.op_class == "attention" and attn is not None:
        t = _attention_of_op(op, attn, dev, p, peak_flops_per_s, a_bytes, qo_bytes)
    elif op.op_class == "attention" and op.stage == "decode":
        t = _a(op.bytes) / (dev.memory_bytes_per_s * p.decode_fraction) + p.decode_fixed_s
    elif op.op_class == "attention":
        t = np.maximum(_a(op.matmul_flops) / (peak_flops_per_s * p.attention_fraction),
                       attention_io_time_s(op.bytes, dev, p))
        t = t + p.attention_fixed_s
    else:
        t = memory_bound_time_s(op.bytes, dev, p)
    return np.where(work, t, 0.0)
