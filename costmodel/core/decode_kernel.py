"""Decode-attention kernel model: the expected time of one decode step's attention (one layer)
from its shape. Pure numpy. Part of the kernel efficiency model: costmodel.core.efficiency
re-exports every public name here and prices GEMMs, prefill attention and whole Ops
(docs/methodology.md, "Kernel efficiency").

Units: FLOPs (= 2 x multiply-accumulate), bytes, seconds, FLOP/s, bytes/s; vectorised over numpy
arrays (one entry per shape). The device enters through its bandwidth, SM count and dense peak
(Device), the fitted figures through KernelParams (costmodel.core.kernel_params). Formulas:

Decode (generation) attention, one CTA per (sequence, unit, KV split), g = h / kvh:
  units  = b * kvh when the query heads of a KV group share a CTA (g > 1), else b * h; with
           decode_max_group G > 0 a group g > G runs one CTA per query head that reads its
           K and V itself (bytes x g): TensorRT-LLM's XQA kernel vs its masked-MHA fallback
  bytes  = units' K and V (b * kvh * L * d * 2 * kv_bytes, or b * h * ... per query head)
           + 2 * b * h * d * a,   L = min(cached + 1, window);  flops = 4 b h L d
           (the 2, K and V, is kv_dram_streams: 1 only for measured rows whose V is K's
           memory, calibration.kv_alias.kv_dram_streams; never in an estimate)
  split  = FlashAttention's num_splits_heuristic(units, SMs, ceil(L / block_n)) (below);
           1 for g = 1 when decode_split_mha = 0 (FlashAttention-2's varlen path splits the KV
           only when it packs a group's query heads)
  waves  = ceil(ctas / (RESIDENT * SMs)), per = ctas / waves, sat = per / (per + decode_half_ctas)
  t      = decode_fixed_s + waves * (decode_tile_s + max(bytes / waves / (bandwidth *
           min(1, decode_fraction * sat)), (flops / peak + decode_flop_per_element * elems /
           peak_bf16) / waves / min(1, decode_compute_fraction * sat)))
           elems = the K and V elements loaded (2 * b * kvh * L * d, or per query head): SM work
           per element beyond its bytes (load, convert to the math dtype, scale), fitted where
           the fit rows hold K/V of two element sizes (vLLM 0.19 on H100: its fp8-cache rows
           move 1.5x the bf16 rows' elements per second, not 2x)
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
    RESIDENT (CTAs per SM in `waves`) is 2 for every kernel, except with decode_xqa_sm90 > 0
    (Hopper, SM90): an XQA CTA with an fp8 (E4M3) cache runs the warp-specialised GMMA
    kernel, 3 CTAs per SM if d * ceil(g / 8) * 8 <= 2048, else 2 (bf16 caches run the
    Ampere-style HMMA kernel, 2 per SM on SM90). kv_bytes 1 is taken for fp8: an int8 cache,
    which runs the HMMA kernel, is not told apart.
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
  tokens a tile, with occupancy, which is not modelled). SM90 (decode_xqa_sm90):
  decoderXQAImplJIT/kernelUtils.cpp (602593a) supportConfigQGMMA takes SM 90 with an E4M3 cache
  only (supportConfigHMMA any SM >= 80, any cache); decoderXQAImplJIT.cpp (89fd9b7) launches
  the GMMA kernel on (1, multi_block, kvh * b) CTAs of 3 x 128 threads, the HMMA one on
  (multi_block, kvh, b) of 2 x 128: the same CTA count; cpp/kernels/xqa/mha_sm90.cu (fbbc05d):
  ctaNbQHeads = roundUp(g, 8), __launch_bounds__(128 * 3, headElems * ctaNbQHeads <= 128 * 16
  ? 3 : 2); cpp/kernels/xqa/mha.cu (d8c5e15): __launch_bounds__(256, nbCtaPerSM), nbCtaPerSM 2
  on SM90 and 1 elsewhere (a minimum; an A100 fit with 1 read 21.5% held out against 19.4%
  with the assumed 2, which A100 keeps).
Sources: split-KV decoding from Dao et al., "Flash-Decoding for long-context inference" (2023)
and num_splits_heuristic in flash-attention's csrc/flash_attn/flash_api.cpp (v2.x; block_n 256
for d <= 64, 128 for d <= 128, else 64; the varlen path calls it only when it swaps seqlen_q with
the query-head groups); the decode fit and its rules: docs/validation.md, "Decode attention".
"""

from __future__ import annotations

import numpy as np

from costmodel.core.kernel_params import Device, KernelParams, Num, _a
from costmodel.core.ops import Arr, attention_io_bytes

MAX_SPLITS = 128  # FlashAttention's num_splits_heuristic cap
SPLIT_EFFICIENCY = 0.85  # ... takes the fewest splits within 85% of the best wave efficiency
RESIDENT = 2  # decode CTAs resident per SM (assumed: small CTAs, two fit an SM's registers)
# TensorRT-LLM generation attention (decode_xqa; sources in the module docstring)
XQA_MIN_TOKENS = 128.0  # kMinHistoryTokensPerBlock: KV tokens per XQA split
XQA_WAVES = 8.0  # kTargetWaveFactor: the XQA split is cut to at most 8 waves of CTAs per SM
XQA_MAX_SUB_SEQ = 6000.0  # getXqaMaxNumSubSeq: batch x splits the workspace holds
XQA_MIN_BLOCK_FACTOR = 4.0  # kEnableMinBlockFactor: XQA only if 4 x its CTAs >= SMs
MMHA_TILE = 128.0  # masked MHA KV tokens per tile: 256 threads / 16 per value x 8 unroll
GMMA_Q_HEADS = 8.0  # mha_sm90.cu ctaNbQHeads = roundUp(g, 8) (swapAB decode)
GMMA_SMALL_CTA = 128.0 * 16.0  # headElems * ctaNbQHeads at most this: 3 CTAs per SM, else 2


def decode_kv_bytes(batch: Num, kv_len: Num, heads: Num, kv_heads: Num, head_dim: Num,
                    kv_bytes: Num, a_bytes: Num, kv_streams: Num = 2.0) -> Arr:
    """K and V read once (kv_heads only: GQA; kv_streams 2, K and V) plus q read and output
    written (ops.attention_io_bytes with one query)."""
    q_bytes, k_bytes = attention_io_bytes(_a(batch), 1.0, _a(kv_len), _a(heads), _a(kv_heads),
                                          _a(head_dim), a_bytes, kv_bytes)
    return _a(kv_streams) * k_bytes + 2.0 * q_bytes


def num_splits(units: Num, n_blocks: Num, sms: int) -> Arr:
    """FlashAttention's num_splits_heuristic, vectorised: 1 when the units fill 80% of the
    SMs; else the fewest splits s <= min(128, SMs, n_blocks) whose wave efficiency
    (units*s/SMs over its ceiling) is within 85% of the best, among the eligible s (those
    that change ceil(n_blocks / s))."""
    u, nb = np.broadcast_arrays(_a(units), _a(n_blocks))
    shape, u, nb = u.shape, u.reshape(-1), nb.reshape(-1)
    top = np.minimum(float(min(MAX_SPLITS, sms)), nb)
    out = np.ones_like(u)
    todo = np.flatnonzero((u < 0.8 * sms) & (top > 1.0))  # the others take 1 split
    if todo.size == 0:
        return out.reshape(shape)
    u, nb, top = u[todo, None], nb[todo, None], top[todo, None]
    # candidate splits 1 .. the largest top among these rows (s > top is never eligible)
    s = np.arange(1.0, float(top.max()) + 1.0)[None, :]
    waves = u * s / sms
    with np.errstate(divide="ignore"):  # s - 1 = 0 for s = 1, always eligible
        eligible = (s == 1) | (np.ceil(nb / s) != np.ceil(nb / (s - 1)))
    eff_s = np.where((s <= top) & eligible, waves / np.ceil(waves), -1.0)
    out[todo] = np.argmax(eff_s >= SPLIT_EFFICIENCY * eff_s.max(axis=1, keepdims=True),
                          axis=1) + 1.0
    return out.reshape(shape)


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


def trtllm_resident(heads: Num, kv_heads: Num, head_dim: Num, kv_bytes: Num, xqa: Arr,
                    sm90: bool) -> Arr:
    """CTAs resident per SM of TensorRT-LLM's generation kernels (module docstring): RESIDENT,
    except XQA CTAs with a 1-byte (fp8) cache on SM90, which run mha_sm90.cu's GMMA kernel:
    3 if head_dim * roundUp(g, 8) <= 2048, else 2."""
    q_heads = np.ceil(_a(heads) / _a(kv_heads) / GMMA_Q_HEADS) * GMMA_Q_HEADS
    gmma = xqa & sm90 & (_a(kv_bytes) < 2.0)
    return np.where(gmma, np.where(_a(head_dim) * q_heads <= GMMA_SMALL_CTA, 3.0, 2.0), RESIDENT)


def decode_attention_time_s(batch: Num, kv_len: Num, heads: Num, kv_heads: Num,
                            head_dim: Num, kv_bytes: Num, a_bytes: Num, dev: Device,
                            p: KernelParams, peak_flops_per_s: Num = np.inf,
                            kv_dram_streams: Num = 2.0,
                            trtllm: tuple[Arr, Arr] | None = None) -> Arr:
    """Expected seconds of one decode step's attention (one layer): module docstring.
    kv_dram_streams: K/V streams per KV head that DRAM moves, 2 (K and V); the measured-table
    code passes 1 where a table's V is K's memory and hits L2 (calibration.kv_alias).
    trtllm: trtllm_decode_ctas of these shapes on dev (decode_xqa > 0), where the caller has
    it already (the measured-table code, which needs the XQA rows for kv_dram_streams)."""
    b, h, kvh, d, kv_len = _a(batch), _a(heads), _a(kv_heads), _a(head_dim), _a(kv_len)
    if p.decode_xqa > 0:  # masked MHA: every query head's CTA reads its K and V
        ctas, xqa = trtllm if trtllm is not None else trtllm_decode_ctas(
            b, h, kvh, kv_len, dev.sm_count, p.decode_max_group)
        reads, tile = np.where(xqa, kvh, h), np.where(xqa, p.decode_tile_s, p.decode_mmha_tile_s)
        resident = trtllm_resident(h, kvh, d, kv_bytes, xqa, p.decode_xqa_sm90 > 0)
    else:
        ctas, reads = _flash_decode_ctas(b, h, kvh, d, kv_len, dev.sm_count, p)
        tile, resident = _a(p.decode_tile_s), _a(RESIDENT)
    total = decode_kv_bytes(b, kv_len, h, reads, d, kv_bytes, a_bytes, kv_dram_streams)
    waves = np.ceil(ctas / (resident * dev.sm_count))
    sat = ctas / waves / (ctas / waves + p.decode_half_ctas)
    # achieved fractions capped at 1: the expected time is never below the bound
    memory_s = total / waves / (dev.memory_bytes_per_s * np.minimum(p.decode_fraction * sat, 1.0))
    # the q.K and p.V math at the math dtype's peak, plus the SM work on every K/V element
    # loaded (load, convert, scale) at the dense bf16 peak, as prefill's per-token term
    math_s = 4.0 * b * h * kv_len * d / _a(peak_flops_per_s)
    elem_s = p.decode_flop_per_element * 2.0 * b * reads * kv_len * d / dev.sm_flops_per_s
    compute_s = (math_s + elem_s) / waves / np.minimum(p.decode_compute_fraction * sat, 1.0)
    return p.decode_fixed_s + waves * (tile + np.maximum(memory_s, compute_s))
