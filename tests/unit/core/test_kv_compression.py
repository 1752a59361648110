"""KV-cache compression after prefill: budgets by hand, decode and TPOT follow, the eviction
operator, and properties (kv-keep 1.0 equals none; keeping more never costs less)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel.analysis.estimate import estimate
from costmodel.core.compression.kv import layer_budget
from costmodel.specs.compression import Compression, CompressionPlan, KVCompression
from costmodel.specs.workload import Workload
from tests.helpers import LLAVA15_7B

W = Workload(visual_tokens=576, text_tokens=64, output_tokens=16)
ENGINE = "torch-eager"  # launches in series (hf-eager's batch-1 decode is host-bound)


def _kv(gpu, w=W, stages=(), **kv):
    plan = CompressionPlan(stages=stages, kv=KVCompression(**kv))
    return estimate(LLAVA15_7B, gpu, w.model_copy(update={"compression": plan}), engine=ENGINE)


def test_uniform_half_by_hand(gpu):
    """640 prompt tokens -> 320 kept per layer; KV = B 2 kv_dim 32 (320 + 15) 2 bytes; decode
    step 0 reads 321 keys per layer; prefill is unchanged but for the eviction operator."""
    base = estimate(LLAVA15_7B, gpu, W, engine=ENGINE)
    est = _kv(gpu, keep_ratio=0.5)
    assert est.memory.kv_cache_bytes == pytest.approx(2 * 4096 * 32 * (320 + 15) * 2.0)
    flash = next(c for c in est.evaluation.op_costs
                 if c.op.stage == "decode" and c.op.name.endswith("/attn/flash"))
    n = 15  # decode steps; keys at step j: 320 + 1 + j
    keys = sum(320 + 1 + j for j in range(n))
    assert float(np.ravel(flash.kv_bytes)[0]) == pytest.approx(32 * 2 * keys * 4096 * 2.0)
    assert est.tpot_s < base.tpot_s
    ev = next(c for c in est.evaluation.op_costs if c.op.name == "compress/kv_evict_uniform")
    w, hs = 32, 32 * 640
    mm = 32 * 2 * w * hs * 128
    vec = 32 * (6 * w * hs + hs * np.log2(640))
    assert float(np.ravel(ev.flops)[0]) == pytest.approx(mm + vec, rel=1e-12)
    kv_bytes = 32 * (640 * 4096 * 2 + 2 * (2 * 320 * 4096 * 2))
    assert float(np.ravel(ev.kv_bytes)[0]) == pytest.approx(kv_bytes, rel=1e-12)
    for s in ("vision", "projector"):
        assert est.stages[s] == base.stages[s]


def test_pyramid_budgets_by_hand():
    """PyramidKV, mean M = 320 of n = 640, beta 20: bottom 2M - M/beta = 624, top 16."""
    kv = KVCompression(keep_ratio=0.5, policy="pyramid")
    n = np.asarray(640.0)
    got = [float(layer_budget(kv, n, i, 32)) for i in range(32)]
    assert got[0] == 624 and got[31] == 16
    assert sum(got) == pytest.approx(32 * 320, abs=32)  # floors lose < 1 token a layer
    capped = KVCompression(keep_ratio=0.9, policy="pyramid")  # 2M - M/beta > n: bottom = n
    assert float(layer_budget(capped, n, 0, 32)) == 640
    assert float(layer_budget(capped, n, 31, 32)) == 2 * 576 - 640


def test_sink_window_has_no_scoring(gpu):
    est = _kv(gpu, keep_ratio=0.25, policy="sink_window")
    ev = next(c for c in est.evaluation.op_costs if c.op.name.startswith("compress/kv_evict"))
    assert float(np.ravel(ev.flops)[0]) == 0.0
    assert float(np.ravel(ev.kv_bytes)[0]) == pytest.approx(32 * 2 * 2 * (160 - 4) * 4096 * 2.0)


def test_kv_budget_in_tokens_and_with_fastv(gpu):
    """A 100-token budget per layer after FastV K=2 (layers 0-1: 640 prompt, 2-31: 352)."""
    fastv = Compression(where="llm_layer", layer=2, keep_ratio=0.5, overhead=False)
    est = _kv(gpu, stages=(fastv,), keep_tokens=100)
    assert est.memory.kv_cache_bytes == pytest.approx(2 * 4096 * 32 * (100 + 15) * 2.0)


@settings(max_examples=15, deadline=None)
@given(policy=st.sampled_from(["uniform", "pyramid", "sink_window", "retrieval_heads"]),
       text=st.integers(0, 100), out=st.integers(1, 40), batch=st.integers(1, 8))
def test_kv_keep_one_equals_no_compression(policy, text, out, batch):
    from costmodel import load_hardware

    hw = load_hardware("a100-80gb")
    w = Workload(visual_tokens=576, text_tokens=text, output_tokens=out, batch=batch)
    base = estimate(LLAVA15_7B, hw, w, engine=ENGINE)
    est = _kv(hw, w, keep_ratio=1.0, policy=policy)
    assert est.stages == base.stages and est.memory == base.memory
    assert est.ttft_s == base.ttft_s and est.tpot_s == base.tpot_s


@settings(max_examples=15, deadline=None)
@given(a=st.floats(0.0, 1.0), b=st.floats(0.0, 1.0),
       policy=st.sampled_from(["uniform", "pyramid", "sink_window", "retrieval_heads"]))
def test_keeping_more_kv_never_costs_less(a, b, policy):
    from costmodel import load_hardware

    hw = load_hardware("a100-80gb")
    lo, hi = sorted((a, b))
    e_lo = _kv(hw, keep_ratio=lo, policy=policy, overhead=False)
    e_hi = _kv(hw, keep_ratio=hi, policy=policy, overhead=False)
    assert e_lo.memory.kv_cache_bytes <= e_hi.memory.kv_cache_bytes
    assert e_lo.stages["decode"].bytes <= e_hi.stages["decode"].bytes * (1 + 1e-12)
    # the bound: on an engine the eviction operator's own launch can outweigh a small saving
    assert e_lo.bound.tpot_s <= e_hi.bound.tpot_s * (1 + 1e-12)


def test_kv_needs_one_budget():
    with pytest.raises(ValueError, match="kv.keep_ratio"):
        KVCompression()
    with pytest.raises(ValueError, match="kv.keep_ratio"):
        KVCompression(keep_ratio=0.5, keep_tokens=10)


def test_retrieval_heads_by_hand(gpu):
    """RazorAttention, 25% of LLaVA-1.5-7B's 32 KV heads whole (R = 8), a 64-token buffer:
    the other 24 keep 4 sinks + 64 recent + 1 compensation token = 69 of the 640 prompt
    tokens; mean per layer (8 x 640 + 24 x 69) / 32 = 211.75 tokens."""
    est = _kv(gpu, keep_tokens=64, policy="retrieval_heads", retrieval_heads=0.25)
    assert est.memory.kv_cache_bytes == pytest.approx(2 * 4096 * 32 * (211.75 + 15) * 2.0)
    flash = next(c for c in est.evaluation.op_costs
                 if c.op.stage == "decode" and c.op.name.endswith("/attn/flash"))
    keys = sum(211.75 + 1 + j for j in range(15))
    assert float(np.ravel(flash.kv_bytes)[0]) == pytest.approx(32 * 2 * keys * 4096 * 2.0)
    ev = next(c for c in est.evaluation.op_costs if c.op.name == "compress/kv_evict_retrieval_heads")
    drop = 640 - 4 - 64  # dropped per non-retrieval head, folded into the compensation token
    heads = 32 * 24  # layers x non-retrieval heads
    assert float(np.ravel(ev.flops)[0]) == pytest.approx(heads * 2 * 128 * (drop + 1))
    read = heads * 2 * 128 * 2.0 * (64 + drop)
    write = heads * 2 * 128 * 2.0 * (64 + 1)
    assert float(np.ravel(ev.kv_bytes)[0]) == pytest.approx(read + write)


def test_retrieval_heads_extremes(gpu):
    """Every head a retrieval head keeps the whole cache (no eviction operator); none keeps
    only sink + buffer + compensation in every head; a buffer covering the prompt drops nothing."""
    base = estimate(LLAVA15_7B, gpu, W)
    all_heads = _kv(gpu, keep_tokens=64, policy="retrieval_heads", retrieval_heads=1.0)
    assert all_heads.memory.kv_cache_bytes == pytest.approx(base.memory.kv_cache_bytes)
    none = _kv(gpu, keep_tokens=64, policy="retrieval_heads", retrieval_heads=0.0)
    assert none.memory.kv_cache_bytes == pytest.approx(2 * 4096 * 32 * (69 + 15) * 2.0)
    wide = _kv(gpu, keep_tokens=636, policy="retrieval_heads", retrieval_heads=0.0)
    assert wide.memory.kv_cache_bytes == pytest.approx(base.memory.kv_cache_bytes)


def test_retrieval_share_needs_its_policy():
    with pytest.raises(ValueError, match="kv.retrieval_heads: only the retrieval_heads policy"):
        KVCompression(keep_ratio=0.5, retrieval_heads=0.2)
