"""costmodel.core.efficiency: hand-computed kernel times (see the module docstring)."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.core import efficiency as eff
from costmodel.core.ops import AttnShape, attention, linear, norm
from costmodel.loading.load import load_hardware
from tests.helpers import ROOT

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


def test_num_splits_is_flash_attentions_heuristic():
    # 1 unit, 200 KV blocks, 100 SMs: eligible splits change ceil(200 / s) (s = 67: 3 blocks,
    # s = 100: 2); 67 waves of 0.67 are below 85% of the best (s = 100: 1.0) -> 100
    assert eff.num_splits(1, 200, 100) == 100
    # 80 units fill 80% of the SMs: no split; one KV block: no split
    assert eff.num_splits(80, 200, 100) == 1 and eff.num_splits(3, 1, 100) == 1
    # 30 units: s = 3 gives 90 of 100 (0.9 >= 0.85 x 1.0, s = 10 is best) -> 3
    assert eff.num_splits(np.array([30.0]), np.array([1000.0]), 100)[0] == 3


def test_decode_attention_split_kv_and_waves():
    # b = 1, kv_heads = 1, h = 8 (one packed group), L = 25600, d 128 -> 200 KV blocks of
    # 128: split 100 -> 100 CTAs, one wave of up to 2 x 100; no saturation term
    p = eff.KernelParams(decode_fraction=0.5, decode_tile_s=1e-6, decode_fixed_s=3e-6)
    t = eff.decode_attention_time_s(1, 25600, 8, 1, 128, 2, 2, DEV, p, PEAK)
    bytes_ = 25600 * 128 * 2 * 2 + 2 * 8 * 128 * 2
    assert t == pytest.approx(3e-6 + 1e-6 + bytes_ / 0.5e12)
    # b * kv_heads = 450 units (no split: they fill the SMs) -> ceil(450 / 200) = 3 waves
    t3 = eff.decode_attention_time_s(450, 1, 8, 1, 128, 2, 2, DEV, p, PEAK)
    bytes3 = eff.decode_kv_bytes(450, 1, 8, 1, 128, 2, 2)
    assert t3 == pytest.approx(3e-6 + 3 * (1e-6 + bytes3 / 3 / 0.5e12))


def test_decode_saturation_mha_rule_and_compute():
    # h = kv_heads = 4, L = 4096, no split for MHA (FlashAttention-2 varlen): 4 CTAs, one
    # wave; half bandwidth at 4 CTAs per wave -> sat 0.5
    p = eff.KernelParams(decode_fraction=1.0, decode_half_ctas=4.0, decode_split_mha=0.0)
    t = eff.decode_attention_time_s(1, 4096, 4, 4, 128, 2, 2, DEV, p, PEAK)
    bytes_ = eff.decode_kv_bytes(1, 4096, 4, 4, 128, 2, 2)
    assert t == pytest.approx(bytes_ / (1e12 * 0.5))
    # compute-bound at a tiny compute fraction: 4 b h L d FLOPs
    pc = eff.KernelParams(decode_compute_fraction=1e-4, decode_split_mha=0.0)
    tc = eff.decode_attention_time_s(1, 4096, 4, 4, 128, 2, 2, DEV, pc, PEAK)
    assert tc == pytest.approx(4 * 4 * 4096 * 128 / (PEAK * 1e-4))


def test_decode_group_above_the_limit_reads_per_query_head():
    # TensorRT-LLM: 64 query heads on 1 KV head, limit 32 -> one CTA per query head, each
    # reading K and V: 64 x the bytes of the packed kernel's KV
    p = eff.KernelParams(decode_max_group=32.0)
    packed = eff.KernelParams()
    n = 64 * 4096 * 128 * 2 * 2 + 2 * 64 * 128 * 2
    t = eff.decode_attention_time_s(1, 4096, 64, 1, 128, 2, 2, DEV, p, np.inf)
    assert t == pytest.approx(n / 1e12)
    t1 = eff.decode_attention_time_s(1, 4096, 64, 1, 128, 2, 2, DEV, packed, np.inf)
    assert t1 == pytest.approx((4096 * 128 * 2 * 2 + 2 * 64 * 128 * 2) / 1e12)


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
    want = eff.decode_attention_time_s(4, 1000, 32, 8, 128, 1.0, 2.0, DEV, p, PEAK)
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


def test_engine_decode_figures_replace_the_devices():
    """decode_kernel_by_engine: an engine with its own set (vllm) gets it, with the device's
    other figures; an engine without one (sglang) gets the device's pooled set."""
    from costmodel.core.kernel_model import KernelModel
    from costmodel.loading.load import load_engine

    a100 = load_hardware("a100-80gb")
    km = KernelModel.of([a100], 2.0, load_engine("vllm"))
    assert km is not None and km.params[0] is not None
    vllm = km.params[0]
    assert vllm == eff.params_of(a100.kernel_params_by_engine["vllm"])
    assert vllm.decode_split_mha == 0.0 and vllm.gemm_fraction == a100.kernel_params["gemm_fraction"]
    # ... and its prefill attention set (attention_kernel_by_engine)
    own = a100.source_file.attention_kernel_by_engine
    assert own is not None and vllm.attention_fraction == own["vllm"].attention_fraction
    assert vllm.attention_fraction != a100.kernel_params["attention_fraction"]
    other = KernelModel.of([a100], 2.0, load_engine("sglang"))
    assert other is not None and other.params[0] == eff.params_of(a100.kernel_params)


def test_engine_decode_figures_need_device_figures(tmp_path):
    import yaml

    from costmodel.errors import CostmodelError

    src = yaml.safe_load((ROOT / "hardware_profiles" / "a100-80gb.yaml").read_text())
    del src["kernel_efficiency"]
    f = tmp_path / "x.yaml"
    f.write_text(yaml.safe_dump(src))
    with pytest.raises(CostmodelError, match="decode_kernel_by_engine: needs kernel_efficiency"):
        load_hardware(str(f))


def test_softmax_exponentials_on_the_sfu():
    # per score: 4 * 64 FLOPs at 256e9 FLOP/s per SM = 1 ns; one exp at 1e9 per SM = 1 ns
    assert eff.score_time_s(64, 256e9, 1e9, 0.0) == pytest.approx(1e-9)  # overlapped: max
    assert eff.score_time_s(64, 256e9, 1e9, 1.0) == pytest.approx(2e-9)  # serial: sum
    assert eff.score_time_s(128, 256e9, 1e9, 0.5) == pytest.approx(2e-9 + 0.5e-9)
    # the prefill test above with an SFU of 100 * 1e9 exp/s (1e9 per SM) and overlap 1:
    # each score costs 4 * 128 / 0.5e12 s of matmul + 1e-9 s of exp
    dev = eff.Device(memory_bytes_per_s=1e12, sm_count=100, exp_per_s=100e9)
    p = eff.KernelParams(attention_fraction=0.5, attention_fixed_s=1e-6, attention_tile_s=2e-6,
                         attention_exp_overlap=1.0)
    t = eff.prefill_attention_time_s(1, 256, 256, 1, 128, True, 0, PEAK, 0.0, dev, p)
    assert t == pytest.approx(2e-6 + 256 * 128 * (4 * 128 / 0.5e12 + 1e-9) + 1e-6)
    # without an SFU rate (exp_per_s inf) the exponentials are free: the matmul time alone
    t0 = eff.prefill_attention_time_s(1, 256, 256, 1, 128, True, 0, PEAK, 0.0, DEV, p)
    assert t0 == pytest.approx(2e-6 + 256 * 128 * 4 * 128 / 0.5e12 + 1e-6)


def test_exp_rate_of_the_profiles_is_the_sfu_rate():
    # 16 exp2 per clock per SM: H100 SXM 132 SMs x 16 x 1.83 GHz (989.4e12 / (132 x 4096))
    h = load_hardware("h100-sxm")
    assert h.exp_per_s == pytest.approx(132 * 16 * 989.4e12 / (132 * 4096))
    assert load_hardware("a100-80gb").exp_per_s == pytest.approx(108 * 16 * 1.41e9, rel=1e-3)
    # L4 (derived, benchmarks/derive_kernel_figures.py): 58 SMs x 16 x 2.04 GHz, its listed
    # 121 TFLOP/s = 58 x 1024 x 2.04 GHz
    assert load_hardware("l4").exp_per_s == pytest.approx(58 * 16 * 2.04e9, rel=3e-3)
    assert load_hardware("llm-viewer-a100").exp_per_s is None  # not given: not modelled


def test_attention_io_term_is_sm_work_at_the_bf16_peak_with_a_dram_floor():
    # 1e6 Q/K/V/O bytes, 300 FLOP per byte at a 100e12 FLOP/s bf16 peak: 3 us of SM work,
    # above the DRAM time 1e6 / 1e12 = 1 us; the math dtype's peak (passed) does not enter
    dev = eff.Device(memory_bytes_per_s=1e12, sm_count=100, sm_flops_per_s=100e12)
    p = eff.KernelParams(attention_io_flop_per_byte=300.0)
    assert eff.attention_io_time_s(1e6, dev, p) == pytest.approx(3e-6)
    # 50 FLOP per byte would be 0.5 us, faster than DRAM: the DRAM time holds
    p50 = eff.KernelParams(attention_io_flop_per_byte=50.0)
    assert eff.attention_io_time_s(1e6, dev, p50) == pytest.approx(1e-6)
    # the same figure on a device with twice the SM peak and the same bandwidth: half the time
    dev2 = eff.Device(memory_bytes_per_s=1e12, sm_count=100, sm_flops_per_s=200e12)
    assert eff.attention_io_time_s(1e6, dev2, p) == pytest.approx(1.5e-6)
    # in the prefill time, serial (attention_overlap 1) with the score loop: s = 128, d = 64,
    # one CTA, the longest: 128 x 128 scores at 4 * 64 FLOPs each on one SM (peak / 100 SMs)
    pa = eff.KernelParams(attention_fraction=1.0, attention_overlap=1.0,
                          attention_io_flop_per_byte=300.0)
    t = eff.prefill_attention_time_s(1, 128, 128, 1, 64, True, 0, PEAK, 1e6, dev, pa)
    assert t == pytest.approx(128 * 128 * 4 * 64 / (PEAK / 100) + 3e-6)
    # the bare bound's parameters (KernelParams()): DRAM time only
    assert eff.attention_io_time_s(1e6, dev, eff.KernelParams()) == pytest.approx(1e-6)


def test_one_query_from_the_cache_is_chosen_per_point():
    """q = 1 from the KV cache takes the decode kernel at that point only: a 1-token prompt
    priced beside longer ones gets the time it gets alone (was: the decode kernel only when
    every point had q = 1, so a sweep and a one-point estimate disagreed)."""
    q = np.array([1.0, 7.0, 1.0])
    s = AttnShape(seqs=np.array([2.0, 2.0, 3.0]), q=q, k=q, heads=32, kv_heads=8,
                  head_dim=128, causal=True, kv_from_cache=True)
    (op,) = attention("a", "prefill", s, 2.0, 2.0, flash=True)
    p = eff.params_of(load_hardware("l4").kernel_params)  # fitted: the two kernels differ
    both = eff.op_time_s(op, DEV, p, PEAK, 2.0, attn=s)
    dec = eff.decode_attention_time_s(2.0, 1.0, 32, 8, 128, 2.0, 2.0, DEV, p, PEAK)
    assert both[0] == pytest.approx(dec, rel=1e-12)  # q = 1: the decode kernel
    for i in range(3):
        one = AttnShape(seqs=s.seqs[i:i + 1], q=q[i:i + 1], k=q[i:i + 1], heads=32, kv_heads=8,
                        head_dim=128, causal=True, kv_from_cache=True)
        (op1,) = attention("a", "prefill", one, 2.0, 2.0, flash=True)
        assert both[i] == eff.op_time_s(op1, DEV, p, PEAK, 2.0, attn=one)[0]


def test_eager_decode_attention_never_beats_the_bound():
    """An eager decode kernel (qk / softmax / pv, no fused shape) is priced at the decode
    fraction capped at 1 (a100-80gb's fitted asymptote is 1.311): LLaVA-1.5-7B with
    FlashAttention off, 11 sequences of ~5.6K tokens, decodes no faster than its bound (it read
    3.69 s against a 3.78 s bound on jetson-agx-orin-64gb before the cap)."""
    import warnings

    import costmodel
    from costmodel.errors import ContextWarning

    hw = costmodel.load_hardware("a100-80gb")
    assert hw.kernel_params["decode_fraction"] > 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ContextWarning)
        for dev in ("a100-80gb", "jetson-agx-orin-64gb"):
            e = costmodel.estimate("llava-1.5-7b", dev, engine="torch-eager", batch=11,
                                   visual_tokens=5205, text_tokens=283, output_tokens=18,
                                   flash_attention=False)
            d = e.stages["decode"]
            assert d.latency_s >= d.bound_latency_s
