"""Rolling KV cache during decode (sink_window:rolling) and TidalDecode sparse decode
attention, by hand, and their properties: K >= context is no sparsity; fewer K never
costs more (sparse attention always; the totals when the top-k runs at every step)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel.analysis.prepare import prepare
from costmodel.core import evaluate as ev
from costmodel.core.compression.kv import apply_kv
from costmodel.core.compression.points import compress_points
from costmodel.core.inputs import Points, Precision
from costmodel.core.metrics import kv_cache_bytes
from costmodel.core.stages import decode_ops
from costmodel.loading.load import load_hardware
from costmodel.specs.compression import CompressionPlan, KVCompression
from costmodel.specs.model import LLMSpec, ModelSpec
from costmodel.specs.workload import Workload

A = np.asarray
UNIT = Precision(weight_bytes_per_element=1.0, act_bytes_per_element=1.0, kv_bytes_per_element=1.0)
# Two layers, the first sliding (window 1024), the second full: 8 heads x 128, 2 KV heads.
SWA = LLMSpec(hidden_size=1024, num_layers=2, num_heads=8, num_kv_heads=2, head_dim=128,
              intermediate_size=2048, vocab_size=1000, layer_types=("sliding", "full"),
              sliding_window=1024)
# 16 dense layers: TidalDecode's defaults give dense 0-1, selection 2 and 13, sparse the rest.
DENSE = LLMSpec(hidden_size=256, num_layers=16, num_heads=4, num_kv_heads=2, head_dim=64,
                intermediate_size=512, vocab_size=1000)


def _pts(text: float, output: float = 2.0) -> Points:
    return Points(batch=A([1.0]), crops=A([0.0]), seq_per_crop=A([0.0]),
                  projector_rows=A([0.0]), visual=A([0.0]), text=A([text]), output=A([output]))


def _op(ops, name):
    return next(o for o in ops if o.name == name)


def test_rolling_cache_by_hand():
    spec = ModelSpec(name="swa", llm=SWA)
    roll = KVCompression(keep_tokens=512, policy="sink_window", during_decode=True)
    pts = apply_kv(SWA, _pts(4096.0, 100.0), roll)
    # The cache stops at 512 in both layers: 99 generated tokens evict as many old ones.
    assert kv_cache_bytes(SWA, pts, 1.0)[0] == 2 * 256 * (512 + 512)
    grow = apply_kv(SWA, _pts(4096.0, 100.0), roll.model_copy(update={"during_decode": False}))
    assert kv_cache_bytes(SWA, grow, 1.0)[0] == 2 * 256 * (611 + 611)
    ops = decode_ops(spec, pts, 50.0, UNIT, True)
    assert _op(ops, "llm/L1/attn/flash").kv_read_bytes[0] == 2 * 512 * 256
    # A budget above the prompt: the cache grows 4096 -> 5000, then rolls (full layer).
    big = apply_kv(SWA, _pts(4096.0, 2000.0), roll.model_copy(update={"keep_tokens": 5000}))
    assert kv_cache_bytes(SWA, big, 1.0, 1, 2)[0] == 2 * 256 * 5000
    ops = decode_ops(spec, big, 800.0, UNIT, True)  # 4096 + 1 + 800 = 4897 keys, under 5000
    assert _op(ops, "llm/L1/attn/flash").kv_read_bytes[0] == 2 * 4897 * 256
    assert _op(ops, "llm/L0/attn/flash").kv_read_bytes[0] == 2 * 1024 * 256
    ops = decode_ops(spec, big, 1500.0, UNIT, True)
    assert _op(ops, "llm/L1/attn/flash").kv_read_bytes[0] == 2 * 5000 * 256


def test_sparse_decode_by_hand():
    spec = ModelSpec(name="dense", llm=DENSE)
    pts = compress_points(spec, _pts(3000.0), CompressionPlan(sparse_decode=256))
    assert pts.sparse.dense == (0, 1) and pts.sparse.select == (2, 13)
    ops = decode_ops(spec, pts, 99.0, UNIT, True)  # 3000 + 1 + 99 = 3100 keys
    kv_dim = 2 * 64
    full = _op(ops, "llm/L0-2/attn/flash")  # dense 0-1 and the selection layer 2
    assert full.count == 3 and full.kv_read_bytes[0] == 2 * 3100 * kv_dim
    assert _op(ops, "llm/L13/attn/flash").kv_read_bytes[0] == 2 * 3100 * kv_dim
    assert _op(ops, "llm/L14-15/attn/flash").kv_read_bytes[0] == 2 * 256 * kv_dim
    sparse = _op(ops, "llm/L3-12/attn/flash")
    assert sparse.count == 10 and sparse.kv_read_bytes[0] == 2 * 256 * kv_dim
    assert sparse.matmul_flops[0] == 4 * 64 * 4 * 256  # QK^T and PV over 256 keys, 4 heads
    topk = _op(ops, "llm/L13/attn/topk")
    # 4 heads x 3100 scores, log2(256) = 8 comparisons each; scores read, 4 x 256 int32 out.
    assert topk.vector_flops[0] == 4 * 3100 * 8
    assert topk.act_read_bytes[0] == 4 * 3100 and topk.act_write_bytes[0] == 4 * 256 * 4
    # The cache is unchanged: every layer keeps all its tokens.
    assert kv_cache_bytes(DENSE, pts, 1.0)[0] == kv_cache_bytes(DENSE, _pts(3000.0), 1.0)[0]
    few = decode_ops(spec, compress_points(spec, _pts(100.0), CompressionPlan(sparse_decode=256)),
                     0.0, UNIT, True)
    assert _op(few, "llm/L13/attn/topk").vector_flops[0] == 0  # 101 keys <= 256: no selection


HW = load_hardware("h100-sxm")
SPEC = ModelSpec(name="dense", llm=DENSE)


def _decode(text: float, output: float, k: int | None) -> tuple[np.ndarray, ...]:
    comp = None if k is None else CompressionPlan(sparse_decode=k)
    prep = prepare(SPEC, [HW], Workload(visual_tokens=0, text_tokens=int(text),
                                        output_tokens=int(output), compression=comp))
    ops = ev._ops(SPEC, prep.points, prep)
    dec = ev._price(ops, "roofline", prep.bound_rates).stages["decode"]
    attn = sum(c.flops + c.bytes for c in ev._price(ops, "roofline", prep.bound_rates).costs
               if c.op.stage == "decode" and c.op.name.endswith("/flash"))
    return dec.flops, dec.bytes, dec.latency_s, attn


@settings(max_examples=8, deadline=None)
@given(text=st.integers(1, 3000), output=st.integers(1, 400), extra=st.integers(0, 500))
def test_top_k_at_least_the_context_is_no_sparsity(text, output, extra):
    k = text + output + extra  # the last step holds text + output keys at most
    for a, b in zip(_decode(text, output, k), _decode(text, output, None), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@settings(max_examples=8, deadline=None)
@given(text=st.integers(1, 3000), output=st.integers(1, 400), k1=st.integers(1, 4000),
       k2=st.integers(1, 4000))
def test_fewer_keys_never_cost_more(text, output, k1, k2):
    lo, hi = min(k1, k2), max(k1, k2)
    small, large = _decode(text, output, lo), _decode(text, output, hi)
    assert small[3] <= large[3] * (1 + 1e-12)  # the attention operators, any K
    if hi < text + 1:  # the top-k runs at every step for both: the totals too
        for a, b in zip(small, large, strict=True):
            assert np.all(a <= b * (1 + 1e-12))


def test_the_selection_can_cost_more_than_it_saves_near_the_context():
    # K = 3190 of up to 3199 keys: the last 9 steps drop a few keys in 12 layers, but the two
    # selection layers each sort 4 x ~3195 scores (documented, docs/methodology.md).
    near, none = _decode(3000, 200, 3190), _decode(3000, 200, None)
    assert near[0] > none[0]


def _rolling(text: int, output: int, budget: int, rolling: bool) -> tuple[np.ndarray, ...]:
    kv = KVCompression(keep_tokens=budget, policy="sink_window", during_decode=rolling)
    w = Workload(visual_tokens=0, text_tokens=text, output_tokens=output,
                 compression=CompressionPlan(kv=kv))
    prep = prepare(SPEC, [HW], w)
    ops = ev._ops(SPEC, prep.points, prep)
    dec = ev._price(ops, "roofline", prep.bound_rates).stages["decode"]
    mem = prep.convention.footprint(SPEC, SPEC, ops.pts, prep.precision, prep.options, 0.0)
    return dec.flops, dec.bytes, dec.latency_s, mem.kv_cache_bytes


@settings(max_examples=8, deadline=None)
@given(text=st.integers(1, 3000), output=st.integers(1, 400), budget=st.integers(1, 4000))
def test_a_rolling_cache_never_costs_more_and_a_large_budget_changes_nothing(text, output,
                                                                              budget):
    roll, grow = _rolling(text, output, budget, True), _rolling(text, output, budget, False)
    for a, b in zip(roll, grow, strict=True):
        assert np.all(a <= b * (1 + 1e-12))
    big = budget + text + output  # never reached: rolling or not is the same
    for a, b in zip(_rolling(text, output, big, True), _rolling(text, output, big, False),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
