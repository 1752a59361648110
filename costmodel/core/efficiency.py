"""Kernel-level efficiency: the expected time of one GPU kernel from its shape. Pure numpy.

Units: FLOPs (= 2 x multiply-accumulate), bytes, seconds, FLOP/s, bytes/s. Every function is
vectorised over numpy arrays (one entry per shape). The device enters through its datasheet
dense peak (FLOP/s of the math dtype), memory bandwidth (bytes/s) and SM count, and through a
handful of fitted `KernelParams` (costmodel.calibration.kernel_tables fits them from measured
kernel tables; hardware profiles carry them under `kernel_efficiency`; KernelParams and Device
live in costmodel.core.kernel_params). Formulas (also in docs/methodology.md, "Kernel efficiency"):

GEMM C[m,n] = A[m,k] B[k,n] (cuBLAS/CUTLASS-style output tiles of TILE_M x TILE_N):
  tm        = clamp(pow2ceil(m), 16, 128)            the row tile shrinks for small m
  tiles     = ceil(m / tm) * ceil(n / TILE_N);  split-K to fill the SMs when tiles < SMs:
  split     = clamp(floor(SMs / tiles), 1, ceil(k / 256)),  ctas = tiles * split
  cta_s     = gemm_tile_s + 2 * tm * TILE_N * (k / split) / (peak * gemm_fraction / SMs)
  compute_s = ceil(ctas / SMs) * cta_s                 (wave quantisation: whole waves)
  memory_s  = (m*k*a + k*n*w + m*n*o) / (bandwidth * memory_fraction)
  t         = max(compute_s, memory_s) + gemm_fixed_s
  fused group (an engine's fused qkv / gate_up, fused_gemm_time_s): member j of output width
  n_j takes t(m, N, k) * n_j / N, N = the group's summed width (one GEMM, split by width)
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
Chunked prefill (an engine's prefill_chunk_tokens C, vLLM 0.6; core/chunked.py applies it):
  an operator over m rows (m = batch x prompt tokens) runs as floor(m / C) calls of C rows and
  one of m mod C: t = floor(m/C) * t(C) + t(m mod C) (rows_in_chunks_s; a GEMM's weights, a
  memory-bound kernel's fixed cost and every launch paid once per chunk). Attention
  (chunked_attention_time_s): per request, chunk j (q_j = C, the last m mod C queries, after
  p_j = (k - q) + j*C earlier keys) is one non-causal call of q_j queries over p_j + q_j/2 keys
  (the causal chunk's scores) in blocks of the engine's prefill_chunk_attention_block rows,
  reading Q/O of q_j rows and K/V of p_j + q_j keys; t = batch * sum_j t_j. Sources: vLLM
  0.6 vllm/engine/arg_utils.py (use_long_context), vllm/config.py (SchedulerConfig, 512);
  vllm-flash-attn flash_api.cpp (mha_varlen_fwd, run_mha_fwd_splitkv_dispatch kBlockM = 64).
Decode (generation) attention: costmodel.core.decode_kernel (its formulas and sources there;
decode_attention_time_s and its helpers are re-exported here).
Sources: wave quantisation as in NVIDIA's "Matrix Multiplication Background User's Guide"
(docs.nvidia.com/deeplearning/performance/dl-performance-matrix-multiplication); FlashAttention
tiling from Dao, "FlashAttention-2" (2023); SFU exponentials: 16 per clock per SM on compute
capability 8.0 / 9.0 (CUDA C++ Programming Guide, arithmetic instruction throughput) and Shah et
al., "FlashAttention-3" (2024), sec. 3; large-GEMM fractions from Bekman's "Maximum Achievable
Matmul FLOPS" table (stas00/ml-engineering).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from costmodel.core.decode_kernel import (
    GMMA_Q_HEADS,
    GMMA_SMALL_CTA,
    MAX_SPLITS,
    MMHA_TILE,
    RESIDENT,
    SPLIT_EFFICIENCY,
    XQA_MAX_SUB_SEQ,
    XQA_MIN_BLOCK_FACTOR,
    XQA_MIN_TOKENS,
    XQA_WAVES,
    decode_attention_time_s,
    decode_kv_bytes,
    num_splits,
    trtllm_decode_ctas,
    trtllm_resident,
    xqa_multi_block,
)
from costmodel.core.kernel_params import Device, KernelParams, Num, _a
from costmodel.core.ops import Arr, AttnShape, Op, attention_io_bytes, band_scores

__all__ = [  # this module's names and, re-exported, the decode model's and the shared ones
    "BLOCK", "GMMA_Q_HEADS", "GMMA_SMALL_CTA", "MAX_SPLITS", "MMHA_TILE", "RESIDENT",
    "SPLIT_EFFICIENCY", "SPLIT_K_MIN", "TILE_M_MAX",
    "TILE_M_MIN", "TILE_N", "XQA_MAX_SUB_SEQ", "XQA_MIN_BLOCK_FACTOR", "XQA_MIN_TOKENS",
    "XQA_WAVES", "Arr", "Device", "KernelParams", "Num", "attention_flops", "attention_io_time_s",
    "chunked_attention_time_s",
    "decode_attention_time_s", "decode_kv_bytes", "for_fp8", "fused_gemm_time_s",
    "gemm_bound_s", "gemm_time_s", "kv_bytes_per_element",
    "memory_bound_time_s", "num_splits", "op_time_s", "params_of", "prefill_attention_time_s",
    "prefill_qo_bytes", "rows_in_chunks_s", "score_time_s", "trtllm_decode_ctas", "trtllm_resident",
    "varlen_attention_time_s", "xqa_multi_block",
]

TILE_N = 128  # GEMM output-tile columns
TILE_M_MAX, TILE_M_MIN = 128, 16  # GEMM output-tile rows: shrink with m down to 16
SPLIT_K_MIN = 256  # least K per split-K slice
BLOCK = 128  # FlashAttention query / key block


def _pow2ceil(x: Num) -> Arr:
    return 2.0 ** np.ceil(np.log2(np.maximum(x, 1.0)))


def _overlap(compute_s: Num, memory_s: Num, overlap: float) -> Arr:
    """max(c, m) + overlap * min(c, m): 0 = perfect overlap (roofline), 1 = serial."""
    return np.maximum(compute_s, memory_s) + overlap * np.minimum(compute_s, memory_s)


def gemm_time_s(m: Num, n: Num, k: Num, peak_flops_per_s: Num, a_bytes: Num, w_bytes: Num,
                o_bytes: Num, dev: Device, p: KernelParams) -> Arr:
    """Expected seconds of one C[m,n] = A[m,k] B[k,n] call (module docstring)."""
    m, n, k = _a(m), _a(n), _a(k)
    sms = _a(dev.sm_count)  # one device, or a column of devices (KernelModel's stacked rows)
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


def score_time_s(head_dim: Num, per_sm_flops: Num, per_sm_exp: Num, overlap: float) -> Arr:
    """Seconds one SM spends on one attention score: its two matmuls (4*d FLOPs) and its
    softmax exponential on the SFU, combined as _overlap (0: FA3's overlap, 1: serial)."""
    return _overlap(4.0 * _a(head_dim) / per_sm_flops, 1.0 / _a(per_sm_exp), overlap)


def _attention_work(batch: Num, q_len: Num, kv_len: Num, heads: Num, causal: Num, window: Num,
                    block: float) -> tuple[Arr, Arr, Arr]:
    """(CTAs, scores, scores of the longest CTA) of a FlashAttention call's sequences."""
    batch, q_len, heads = _a(batch), _a(q_len), _a(heads)
    ctas = batch * heads * np.ceil(q_len / block)
    scores = attention_flops(batch, q_len, kv_len, heads, 1.0, causal, window) / 4.0
    w = np.where(_a(window) > 0, _a(window), np.inf)
    return ctas, scores, np.minimum(q_len, block) * np.minimum(_a(kv_len), w)


def _attention_call_s(ctas: Arr, scores: Arr, longest: Arr, bytes_: Num, head_dim: Num,
                      peak_flops_per_s: Num, dev: Device, p: KernelParams) -> Arr:
    """Seconds of one FlashAttention call from its work (module docstring): whole waves of
    CTAs or the longest CTA, with the Q/K/V/O time (_overlap), plus one fixed cost."""
    sms = float(dev.sm_count)
    per_score = score_time_s(head_dim, _a(peak_flops_per_s) * p.attention_fraction / sms,
                             dev.exp_per_s / sms, p.attention_exp_overlap)
    waves_s = np.ceil(ctas / sms) * (p.attention_tile_s + scores / ctas * per_score)
    longest_s = p.attention_tile_s + longest * per_score
    io_s = attention_io_time_s(bytes_, dev, p)
    return _overlap(np.maximum(waves_s, longest_s), io_s, p.attention_overlap) + (
        p.attention_fixed_s)


def prefill_attention_time_s(batch: Num, q_len: Num, kv_len: Num, heads: Num, head_dim: Num,
                             causal: Num, window: Num, peak_flops_per_s: Num, bytes_: Num,
                             dev: Device, p: KernelParams, block: float = BLOCK) -> Arr:
    """Expected seconds of one FlashAttention forward (prefill or ViT encoder); `block` query
    rows per CTA (BLOCK, what the figures were fitted with; a what-if may give another)."""
    ctas, scores, longest = _attention_work(batch, q_len, kv_len, heads, causal, window, block)
    return _attention_call_s(ctas, scores, longest, bytes_, head_dim, peak_flops_per_s, dev, p)


def varlen_attention_time_s(shapes: Sequence[AttnShape], bytes_: Sequence[Num],
                            peak_flops_per_s: Num, dev: Device, p: KernelParams) -> Arr:
    """Expected seconds of ONE FlashAttention varlen call over several groups of equal
    non-causal sequences (a windowed ViT layer's window kinds; heads and head_dim shared):
    their CTAs and scores in one set of waves, the longest CTA of any, their Q/K/V/O bytes
    together, one fixed cost (core/packed.py)."""
    work = [_attention_work(s.seqs, s.q, s.k, s.heads, s.causal, 0.0, BLOCK) for s in shapes]
    ctas, scores = sum(w[0] for w in work), sum(w[1] for w in work)
    longest = np.maximum.reduce([np.broadcast_to(np.where(w[0] > 0, w[2], 0.0), np.shape(ctas))
                                 for w in work])  # a group with no sequence here has no CTA
    return _attention_call_s(_a(ctas), _a(scores), longest, sum(_a(b) for b in bytes_),
                             shapes[0].head_dim, peak_flops_per_s, dev, p)


def rows_in_chunks_s(rows: Num, chunk: float, time_at: Callable[[Arr], Arr]) -> Arr:
    """Seconds of an operator over `rows` rows run in chunks of `chunk` rows (module docstring:
    floor(rows / chunk) * t(chunk) + t(rows mod chunk)); time_at(r): its time at r rows."""
    rows = _a(rows)
    full, rest = np.floor(rows / chunk), np.mod(rows, chunk)
    with np.errstate(divide="ignore", invalid="ignore"):  # no remainder: 0 rows, dropped
        last = np.where(rest > 0, time_at(rest), 0.0)
    return full * time_at(np.full_like(rows, chunk)) + last


def chunked_attention_time_s(batch: Num, q_len: Arr, kv_len: Arr, causal: bool, heads: float,
                             kv_heads: float, head_dim: float, qo_bytes: Num, kv_bytes: Num,
                             chunk: float, block: float, peak_flops_per_s: Num, dev: Device,
                             p: KernelParams) -> Arr:
    """Seconds of a prefill attention call (`batch` requests of q_len queries over kv_len keys,
    1-D over points) run as chunks of `chunk` queries (module docstring); qo_bytes / kv_bytes:
    bytes per Q/O and K/V element; peak and dev bandwidth: scalars or columns [points, 1]."""
    q, k = _a(q_len)[:, None], _a(kv_len)[:, None]
    start = chunk * np.arange(max(int(np.max(np.ceil(q / chunk), initial=1.0)), 1))[None]
    qj = np.clip(q - start, 0.0, chunk)  # [points, chunks]: 0 past a request's last chunk
    prefix = np.maximum(k - q, 0.0) + start if causal else k + 0.0 * start
    keys = prefix + qj if causal else prefix
    kv = prefix + qj / 2.0 if causal else prefix
    q_bytes, k_bytes = attention_io_bytes(1.0, qj, keys, heads, kv_heads, head_dim, _a(qo_bytes),
                                          _a(kv_bytes))
    by = 2.0 * (q_bytes + k_bytes)  # Q read, O written, K and V read
    with np.errstate(divide="ignore", invalid="ignore"):
        t = prefill_attention_time_s(1.0, np.maximum(qj, 1.0), kv, heads, head_dim, False, 0.0,
                                     peak_flops_per_s, by, dev, p, block)
    return _a(batch) * np.sum(np.where(qj > 0, t, 0.0), axis=1)


def attention_io_time_s(bytes_: Num, dev: Device, p: KernelParams) -> Arr:
    """Seconds of an attention call's per-token work on its Q/K/V/O bytes: SM work of
    attention_io_flop_per_byte FLOP-equivalents per byte at the dense bf16 peak
    (dev.sm_flops_per_s, whatever the math dtype), never below the DRAM time bytes / bandwidth."""
    b = _a(bytes_)
    return np.maximum(b / dev.memory_bytes_per_s,
                      b * p.attention_io_flop_per_byte / dev.sm_flops_per_s)


def attention_flops(batch: Num, q_len: Num, kv_len: Num, heads: Num, head_dim: Num,
                    causal: Num, window: Num) -> Arr:
    """Useful FLOPs 2*2*b*h*d*(scores) (QK^T and PV, 2*d FLOPs each per score): causal scores
    sum_i min(i+1, window) per head (ops.band_scores), else q * min(kv, window); window <= 0:
    none."""
    q, kv, w = _a(q_len), _a(kv_len), _a(window)
    w = np.where(w > 0, w, np.inf)
    scores = np.where(np.asarray(causal), band_scores(q, w), q * np.minimum(kv, w))
    return 4.0 * _a(batch) * _a(heads) * _a(head_dim) * scores


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


def fused_gemm_time_s(op: Op, peak_flops_per_s: Num, a_bytes: float, dev: Device,
                      p: KernelParams) -> Arr:
    """Expected seconds of a linear op's share of the one GEMM its fused group runs as (an
    engine's fused qkv / gate_up; core/ops.fuse_gemms): C[m, N] = A[m, k] B[k, N] with the
    group's summed output width N = op.fused_n and the op's m and k (the group's members share
    their input), t = gemm_time_s(m, N, k) * n / N, n = op.gemm_n: the group pays one fixed
    cost and one tile/wave quantisation, split by output width (= by FLOPs and by weight
    bytes: the members' times add up to the fused GEMM's). The output is written in the
    activation dtype (the engine splits q, k, v after the GEMM)."""
    k, n, big = _a(op.gemm_k), _a(op.gemm_n), _a(op.fused_n)
    mk = _a(op.act_read_bytes) / a_bytes
    with np.errstate(divide="ignore", invalid="ignore"):
        m = np.where(k > 0, mk / k, 0.0)
        w = np.where(k * n > 0, _a(op.weight_bytes) / (k * n), a_bytes)
        t = gemm_time_s(m, big, k, peak_flops_per_s, a_bytes, w, a_bytes, dev, p)
        return t * np.where(big > 0, n / big, 1.0)


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


def kv_bytes_per_element(op: Op, s: AttnShape, fallback: float) -> Arr:
    """Bytes per K/V element of an attention call that reads the KV cache: op.kv_read_bytes
    over its 2 x seqs x k x kv_heads x head_dim elements (K and V); `fallback` where it
    reads none."""
    elems = 2.0 * _a(s.seqs) * _a(s.k) * s.kv_heads * s.head_dim
    return np.where(elems > 0, _a(op.kv_read_bytes) / np.maximum(elems, 1.0), fallback)


def _attention_of_op(op: Op, s: AttnShape, dev: Device, p: KernelParams,
                     peak_flops_per_s: Num, a_bytes: float, qo_bytes: float | None) -> Arr:
    """One query from the KV cache takes the decode kernel, point by point (a 1-token prompt
    beside longer ones gets the time it gets alone); other points the prefill kernel."""
    one = (_a(s.q) == 1) & s.kv_from_cache
    decode: Arr | float = 0.0
    prefill: Arr | float = 0.0
    if np.any(one):
        kv_b = kv_bytes_per_element(op, s, a_bytes)
        decode = decode_attention_time_s(s.seqs, s.k, s.heads, s.kv_heads, s.head_dim, kv_b,
                                         a_bytes, dev, p, peak_flops_per_s)
    if not np.all(one):
        by = _a(op.bytes)
        if qo_bytes is not None and s.kv_from_cache:  # Q and O (the non-KV bytes) in qo_bytes
            kv = _a(op.kv_read_bytes)
            by = kv + (by - kv) * (qo_bytes / a_bytes)
        prefill = prefill_attention_time_s(s.seqs, s.q, s.k, s.heads, s.head_dim, s.causal,
                                           0.0, peak_flops_per_s, by, dev, p)
    return np.where(one, decode, prefill)


def _eager_attention_s(op: Op, dev: Device, p: KernelParams, peak_flops_per_s: Num) -> Arr:
    """An eager attention kernel (qk, softmax, pv: no fused shape). Decode: at the decode
    fraction capped at 1, as decode_attention_time_s caps it (no kernel beats the bound);
    prefill: at the attention fraction and the per-token I/O rate."""
    if op.stage == "decode":
        t = np.maximum(_a(op.matmul_flops) / _a(peak_flops_per_s),
                       _a(op.bytes) / (dev.memory_bytes_per_s * min(p.decode_fraction, 1.0)))
        return t + p.decode_fixed_s
    t = np.maximum(_a(op.matmul_flops) / (peak_flops_per_s * p.attention_fraction),
                   attention_io_time_s(op.bytes, dev, p))
    return t + p.attention_fixed_s


def op_time_s(op: Op, dev: Device, p: KernelParams, peak_flops_per_s: Num, a_bytes: float,
              attn: AttnShape | None = None, qo_bytes: float | None = None,
              fused_gemm: bool = False) -> Arr:
    """Expected seconds of one instance of `op` (costmodel.core.ops) on the device.

    linear / lm_head: gemm_time_s on the (m, n, k) recovered from the Op (_gemm_of_op);
    memory-bound (below) where no GEMM is recovered (k = 0: the op writes nothing).
    attention: with its AttnShape, decode_attention_time_s (q = 1 from the KV cache) or
    prefill_attention_time_s (prefill causal; ViT non-causal); without one, the bound at the
    attention (or decode, capped at 1) fractions plus the fixed cost. Other classes (norms, activations,
    adds, RoPE, embedding gathers) are memory-bound: bytes / (bandwidth * memory_fraction)
    + gemm_fixed_s. Ops with no work take 0 s. `comm` ops are priced by the roofline's link
    model, not here (ValueError). qo_bytes: bytes per element of a prefill attention call's
    Q and O when the kernel holds them in another dtype than the activations (prefill_qo_bytes).
    fused_gemm: a linear op of a group the engine runs as one GEMM (fused_gemm_time_s).
    """
    work = (_a(op.matmul_flops) + _a(op.bytes)) > 0
    if op.op_class == "comm":
        raise ValueError("op_time_s: comm ops are priced by the link model (core/roofline)")
    if op.op_class == "linear" and fused_gemm and np.all(_a(op.fused_n) > 0):
        t = fused_gemm_time_s(op, peak_flops_per_s, a_bytes, dev, p)
    elif op.op_class in ("linear", "lm_head"):
        m, n, k, w = _gemm_of_op(op, a_bytes)
        with np.errstate(divide="ignore", invalid="ignore"):  # rows without work -> 0 below
            t = gemm_time_s(m, n, k, peak_flops_per_s, a_bytes, w, a_bytes, dev, p)
        # no GEMM to recover (k = 0: nothing written, e.g. a selection keeping no token):
        # memory-bound on its bytes, not gemm_time_s's 0/0
        t = np.where(k > 0, t, memory_bound_time_s(op.bytes, dev, p))
    elif op.op_class == "attention" and attn is not None:
        t = _attention_of_op(op, attn, dev, p, peak_flops_per_s, a_bytes, qo_bytes)
    elif op.op_class == "attention":
        t = _eager_attention_s(op, dev, p, peak_flops_per_s)
    else:
        t = memory_bound_time_s(op.bytes, dev, p)
    return np.where(work, t, 0.0)
