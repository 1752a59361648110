"""costmodel.core.efficiency: hand-computed kernel times (see the module docstring)."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.core import efficiency as eff
from costmodel.core.ops import AttnShape, attention, linear, norm
from costmodel.loading.load import load_hardware

DEV = eff.Device(memory_bytes_per_s=1e12, sm_count=100)
PEAK = 100e12  # FLOP/s


def test_large_gemm_whole_waves_at_the_gemm_fraction():
    # m = n = 1280 -> tm 128, 10 x 10 = 100 tiles = one wave on 100 SMs, no split-K
    p = eff.KernelParams(gemm_fraction=0.5, gemm_fixed_s=1e-6)
    t = eff.gemm_time_s(1280, 1280, 4096, PEAK, 2, 2, 2, DEV, p)
    # one CTA: 2 * 128 * 128 * 4096 FLOPs at 0.5 * 100e12 / 100 = 0.5e12 FLOP/s per SM
    assert t == pytest.approx(2 * 128 * 128 * 4096 / 0.5e12 + 1e-6)
    # 101 tiles (m = 1290 -> 11 row tiles x 10 = 110) take two waves: twice the compute
    t2 = eff.gemm_time_s(1290, 1280, 4096, PEAK, 2, 2, 2, DEV, p)
    assert t2 == pytest.approx(2 * 2 * 128 * 128 * 4096 / 0.5e12 + 1e-6)


def test_gemv_is_memory_bound_at_the_memory_fraction():
    p = eff.KernelParams(memory_fraction=0.8, gemm_fixed_s=2e-6)
    t = eff.gemm_time_s(1, 8192, 8192, PEAK, 2, 2, 2, DEV, p)
    bytes_ = 1 * 8192 * 2 + 8192 * 8192 * 2 + 8192 * 2
    assert t == pytest.approx(bytes_ / 0.8e12 + 2e-6)


def test_split_k_fills_the_sms_and_overlap_adds_the_shorter_term():
    # one 128 x 128 tile, k = 25600: split = min(100 // 1, 25600 / 256) = 100 CTAs, one wave
    t = eff.gemm_time_s(128, 128, 25600, PEAK, 2, 2, 2, DEV, eff.KernelParams())
    compute = 2 * 128 * 128 * 256 / 1e12
    memory = (128 * 25600 * 2 * 2 + 128 * 128 * 2) / 1e12
    assert t == pytest.approx(max(compute, memory))
    t1 = eff.gemm_time_s(128, 128, 25600, PEAK, 2, 2, 2, DEV, eff.KernelParams(gemm_overlap=1))
    assert t1 == pytest.approx(compute + memory)


def test_causal_flops_and_prefill_attention_time():
    # 1 x 1 head, s = 256, d = 128: causal scores 256 * 257 / 2
    assert eff.attention_flops(1, 256, 256, 1, 128, True, 0) == 4 * 128 * 256 * 257 / 2
    assert eff.attention_flops(1, 256, 256, 1, 128, False, 0) == 4 * 128 * 256 * 256
    # window 64: query i sees min(i + 1, 64) keys
    want = 4 * 128 * (64 * 65 / 2 + (256 - 64) * 64)
    assert eff.attention_flops(1, 256, 256, 1, 128, True, 64) == want
    # 2 q-blocks -> 2 CTAs, one wave; the longest CTA (128 rows x 256 keys) sets the time
    p = eff.KernelParams(attention_fraction=0.5, attention_fixed_s=1e-6, attention_tile_s=2e-6)
    t = eff.prefill_attention_time_s(1, 256, 256, 1, 128, True, 0, PEAK, 0.0, DEV, p)
    per_sm = 0.5 * PEAK / 100
    assert t == pytest.approx(2e-6 + 4 * 128 * 256 * 128 / per_sm + 1e-6)


def test_decode_attention_split_kv_and_waves():
    # b = 1, kv_heads = 1, L = 25600: split = min(100, 100) -> 100 CTAs, one wave
    p = eff.KernelParams(decode_fraction=0.5, decode_tile_s=1e-6, decode_fixed_s=3e-6)
    t = eff.decode_attention_time_s(1, 25600, 8, 1, 128, 2, 2, DEV, p)
    bytes_ = 25600 * 128 * 2 * 2 + 2 * 8 * 128 * 2
    assert t == pytest.approx(1e-6 + bytes_ / 100 / (0.5e12 / 100) + 3e-6)
    # b * kv_heads = 250 CTAs (no split) -> 3 waves of the per-CTA cost
    t3 = eff.decode_attention_time_s(250, 1, 8, 1, 128, 2, 2, DEV, p)
    per_cta = eff.decode_kv_bytes(250, 1, 8, 1, 128, 2, 2) / 250 / (0.5e12 / 100)
    assert t3 == pytest.approx(3 * (1e-6 + per_cta) + 3e-6)


def test_op_time_of_a_linear_is_the_gemm_of_its_shape():
    op = linear("x", "prefill", np.array([1.0, 512.0, 0.0]), 4096, 11008, False, 2.0, 2.0)
    p = eff.KernelParams(gemm_fraction=0.8, memory_fraction=0.7, gemm_fixed_s=3e-6)
    t = eff.op_time_s(op, DEV, p, PEAK, 2.0)
    want = eff.gemm_time_s(np.array([1.0, 512.0]), 11008, 4096, PEAK, 2, 2, 2, DEV, p)
    assert t[:2] == pytest.approx(want) and t[2] == 0.0


def test_op_time_of_attention_and_vector_ops():
    s = AttnShape(seqs=np.array([4.0]), q=np.array([1.0]), k=np.array([1000.0]), heads=32,
                  kv_heads=8, head_dim=128, causal=True, kv_from_cache=True)
    (op,) = attention("a", "decode", s, 2.0, 1.0, flash=True)
    p = eff.KernelParams(decode_fraction=0.5, decode_fixed_s=1e-6)
    want = eff.decode_attention_time_s(4, 1000, 32, 8, 128, 1.0, 2.0, DEV, p)
    assert eff.op_time_s(op, DEV, p, PEAK, 2.0, attn=s) == pytest.approx(want)
    n = norm("n", "prefill", np.array([100.0]), 4096, "rmsnorm", 2.0, 2.0)
    p2 = eff.KernelParams(memory_fraction=0.5, gemm_fixed_s=2e-6)
    assert eff.op_time_s(n, DEV, p2, PEAK, 2.0) == pytest.approx(n.bytes / 0.5e12 + 2e-6)


def test_profiles_carry_sm_counts_and_kernel_params():
    a100, h100 = load_hardware("a100-80gb"), load_hardware("h100-sxm")
    assert (a100.sm_count, h100.sm_count, load_hardware("jetson-agx-orin-64gb").sm_count) == (
        108, 132, 16)
    p = eff.params_of(h100.kernel_params)
    assert 0 < p.gemm_fraction <= 1 and p.gemm_fixed_s > 0
    assert p.gemm_fraction == pytest.approx(794.5 / 989.4, abs=1e-3)  # MAMF / datasheet
    assert eff.params_of(None) == eff.KernelParams()
