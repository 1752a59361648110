"""Sliding-window attention, by hand: attention FLOPs and bytes of windowed layers in prefill
and decode, the KV cache a window keeps, and the Gemma 3 layer extras."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.analysis.estimate import estimate
from costmodel.core.inputs import Points, Precision
from costmodel.core.layer_extras import cached_tokens, window_keys
from costmodel.core.ops import AttnShape, attention, band_scores
from costmodel.core.stages import decode_ops, prefill_ops
from costmodel.specs.model import LLMSpec, ModelSpec

A = np.asarray
# Two layers, the first sliding (window 1024), the second full: 8 heads x 128, 2 KV heads.
LLM = LLMSpec(hidden_size=1024, num_layers=2, num_heads=8, num_kv_heads=2, head_dim=128,
              intermediate_size=2048, vocab_size=1000, layer_types=("sliding", "full"),
              sliding_window=1024)
SPEC = ModelSpec(name="swa", llm=LLM)
UNIT = Precision(weight_bytes_per_element=1.0, act_bytes_per_element=1.0, kv_bytes_per_element=1.0)


def test_band_by_hand():
    # 4096 queries, window 1024: the first 1024 see 1..1024 keys (1024*1025/2 = 524,800),
    # the other 3072 see 1024 each (3,145,728): 3,670,528 scores, vs 8,390,656 causal.
    assert band_scores(A([4096.0]), 1024)[0] == 3_670_528
    assert band_scores(A([10.0]), 1024)[0] == 55  # inside the window: causal
    assert window_keys(A([1.0]), A([5000.0]), 1024)[0] == 1024
    assert window_keys(A([4096.0]), A([4096.0]), 1024)[0] == 4096
    assert window_keys(A([1.0]), A([5000.0]), None)[0] == 5000


def test_prefill_4096_window_1024_flops_and_bytes():
    s = AttnShape(seqs=A([1.0]), q=A([4096.0]), k=A([4096.0]), heads=8, kv_heads=2,
                  head_dim=128, causal=True, kv_from_cache=True, window=1024)
    (flash,) = attention("a", "prefill", s, 2.0, 2.0, flash=True)
    # QK^T and PV: 2 x 2 FLOPs x 128 x 8 heads x 3,670,528 scores.
    assert flash.matmul_flops[0] == 4 * 128 * 8 * 3_670_528 == 15_034_482_688
    assert flash.useful_flops[0] == 15_034_482_688 + 5 * 8 * 3_670_528
    # K and V of all 4096 positions are read once (2 x 4096 x 256 x 2 bytes).
    assert flash.kv_read_bytes[0] == 2 * 4096 * 256 * 2
    eager = attention("a", "prefill", s, 2.0, 2.0, flash=False)
    # Eager computes and masks the full 4096 x 4096 matrix (what transformers' eager runs).
    assert sum(o.matmul_flops[0] for o in eager) == 4 * 128 * 8 * 4096 * 4096
    assert sum(o.useful_flops[0] for o in eager) == flash.useful_flops[0]


def _attn(ops, name):
    return next(o for o in ops if o.name == name)


def test_decode_reads_at_most_the_window():
    pts = Points(batch=A([1.0]), crops=A([0.0]), seq_per_crop=A([0.0]),
                 projector_rows=A([0.0]), visual=A([0.0]), text=A([4096.0]), output=A([2.0]))
    ops = decode_ops(SPEC, pts, 903.0, UNIT, True)  # context 4096 + 1 + 903 = 5000
    slide, full = _attn(ops, "llm/L0/attn/flash"), _attn(ops, "llm/L1/attn/flash")
    assert slide.kv_read_bytes[0] == 2 * 1024 * 256 and full.kv_read_bytes[0] == 2 * 5000 * 256
    assert slide.matmul_flops[0] == 4 * 128 * 8 * 1024
    pre = prefill_ops(SPEC, pts, UNIT, True, False)
    assert _attn(pre, "llm/L0/attn/flash").matmul_flops[0] == 4 * 128 * 8 * 3_670_528
    assert _attn(pre, "llm/L1/attn/flash").matmul_flops[0] == 4 * 128 * 8 * 4096 * 4097 // 2


def test_kv_cache_keeps_the_window(gpu):
    # Prompt 4096 + 100 output tokens (99 cached after the prompt): the sliding layer keeps
    # 1024 tokens, the full one 4195; K and V x 256 wide x 2 bytes.
    est = estimate(SPEC, gpu, text_tokens=4096, output_tokens=100)
    assert est.memory.kv_cache_bytes == 2 * 256 * (1024 + 4195) * 2
    short = estimate(SPEC, gpu, text_tokens=500, output_tokens=100)  # inside the window
    assert short.memory.kv_cache_bytes == 2 * 256 * (599 + 599) * 2
    assert cached_tokens(LLM, 0, 2, A([300.0]))[0] == 600


def test_gemma_extras_params_and_ops():
    g = LLM.model_copy(update={"qk_norm": True, "sandwich_norm": True, "mlp_kind": "geglu",
                               "embed_scale": True})
    # + q/k norms (2 x 128) + two more norms (2 x 1024); GeGLU has 3 matrices like SwiGLU.
    assert g.layer_params() == LLM.layer_params() + 2 * 128 + 2 * 1024
    pts = Points(batch=A([1.0]), crops=A([0.0]), seq_per_crop=A([0.0]),
                 projector_rows=A([0.0]), visual=A([0.0]), text=A([10.0]), output=A([2.0]))
    ops = prefill_ops(ModelSpec(name="g", llm=g), pts, UNIT, True, False)
    names = {o.name for o in ops}
    assert {"llm/L0/attn/q_norm", "llm/L0/attn/k_norm", "llm/L0/attn/post_norm",
            "llm/L0/mlp/post_norm", "llm/embed_scale"} <= names
    assert _attn(ops, "llm/L0/attn/q_norm").vector_flops[0] == 4 * 10 * 8 * 128
    assert _attn(ops, "llm/L0/mlp/act").vector_flops[0] == 9 * 10 * 2048
    assert _attn(ops, "llm/embed_scale").vector_flops[0] == 10 * 1024


def test_layer_types_must_cover_every_layer():
    with pytest.raises(ValueError, match="layer_types"):
        LLMSpec(hidden_size=64, num_layers=3, num_heads=4, num_kv_heads=4, intermediate_size=64,
                vocab_size=10, layer_types=("sliding", "full"), sliding_window=4)
    with pytest.raises(ValueError, match="sliding_window"):
        LLMSpec(hidden_size=64, num_layers=2, num_heads=4, num_kv_heads=4, intermediate_size=64,
                vocab_size=10, layer_types=("sliding", "full"))


def test_kv_eviction_in_a_window_layer_by_hand():
    from costmodel.core.compression.kv import kv_evict_ops
    from costmodel.specs.compression import KVCompression

    pts = Points(batch=A([1.0]), crops=A([0.0]), seq_per_crop=A([0.0]),
                 projector_rows=A([0.0]), visual=A([0.0]), text=A([4096.0]), output=A([2.0]))
    kv = KVCompression(keep_tokens=512, policy="sink_window")
    (op,) = kv_evict_ops(LLM, pts, kv, UNIT)
    # Sliding layer: 1024 held, 512 kept: 508 moved (sink 4 stay); full layer: 4096 -> 512,
    # 508 moved; K and V, 256 wide, read and written.
    assert op.kv_read_bytes[0] == op.kv_write_bytes[0] == 2 * (2 * 508 * 256)
    (op,) = kv_evict_ops(LLM, pts, KVCompression(keep_tokens=2048, policy="sink_window"), UNIT)
    assert op.kv_read_bytes[0] == 2 * 2044 * 256  # the sliding layer keeps its 1024: no move
