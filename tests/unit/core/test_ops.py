"""Hand-computed checks of each operator constructor."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.core.ops import AttnShape, attention, embedding, linear, norm, vector_op


def test_linear_flops_and_bytes_by_hand():
    # 10 rows x (4 -> 6), bias, bf16: 2*10*4*6 = 480 matmul FLOPs, 60 bias adds.
    op = linear("x", "prefill", np.array([10.0]), 4, 6, True, 2.0, 2.0)
    assert op.matmul_flops[0] == 480
    assert op.vector_flops[0] == 60
    assert op.weight_bytes[0] == (4 * 6 + 6) * 2
    assert op.act_read_bytes[0] == 10 * 4 * 2
    assert op.act_write_bytes[0] == 10 * 6 * 2


def test_linear_with_no_rows_reads_no_weights():
    op = linear("x", "prefill", np.array([0.0]), 4, 6, False, 2.0, 2.0)
    assert op.bytes[0] == 0 and op.flops[0] == 0


def test_linear_to_kv_cache_moves_output_bytes():
    op = linear("k", "prefill", np.array([3.0]), 8, 2, False, 2.0, 2.0, kv_out=True)
    assert op.act_write_bytes[0] == 0
    assert op.kv_write_bytes[0] == 3 * 2 * 2


def test_norm_counts():
    rms = norm("n", "prefill", np.array([5.0]), 8, "rmsnorm", 2.0, 2.0)
    ln = norm("n", "prefill", np.array([5.0]), 8, "layernorm", 2.0, 2.0)
    assert rms.vector_flops[0] == 4 * 40 and ln.vector_flops[0] == 7 * 40
    assert rms.weight_bytes[0] == 8 * 2 and ln.weight_bytes[0] == 16 * 2
    assert rms.act_read_bytes[0] == rms.act_write_bytes[0] == 40 * 2


def test_embedding_reads_only_touched_rows():
    op = embedding("e", "prefill", np.array([7.0]), 16, 2.0, 2.0)
    assert op.flops[0] == 0
    assert op.weight_bytes[0] == 7 * 16 * 2


def test_vector_op_two_inputs():
    op = vector_op("add", "prefill", "elementwise", np.array([100.0]), 1.0, 2.0, 2.0)
    assert op.act_read_bytes[0] == 400 and op.act_write_bytes[0] == 200


def _shape(q, k, causal=True, heads=4, kv_heads=2, dh=8):
    return AttnShape(seqs=np.array([1.0]), q=np.array([float(q)]), k=np.array([float(k)]),
                     heads=heads, kv_heads=kv_heads, head_dim=dh, causal=causal,
                     kv_from_cache=True)


def test_causal_prefill_executed_vs_useful():
    # q = k = 4: full 16 scores, causal sees 1+2+3+4 = 10.
    s = _shape(4, 4)
    (fl,) = attention("a", "prefill", s, 2.0, 2.0, flash=True)
    eager = attention("a", "prefill", s, 2.0, 2.0, flash=False)
    per_score = 2 * 2 * 8 * 4  # QK and PV, head_dim 8, 4 heads
    assert fl.matmul_flops[0] == per_score * 10  # flash skips masked blocks
    assert fl.useful_flops[0] == per_score * 10 + 5 * 4 * 10
    assert sum(o.matmul_flops[0] for o in eager) == per_score * 16  # eager computes the square
    assert sum(o.useful_flops[0] for o in eager) == fl.useful_flops[0]


def test_flash_io_has_no_score_traffic_and_gqa_kv():
    s = _shape(4, 4)
    (fl,) = attention("a", "prefill", s, 2.0, 1.0, flash=True)
    q_bytes = 4 * 4 * 8 * 2  # q rows x heads x head_dim x bf16
    assert fl.act_read_bytes[0] == q_bytes and fl.act_write_bytes[0] == q_bytes
    assert fl.kv_read_bytes[0] == 2 * 4 * 2 * 8 * 1.0  # K and V, 2 KV heads, fp8 cache


def test_eager_materialises_scores():
    s = _shape(4, 4)
    qk, sm, pv = attention("a", "prefill", s, 2.0, 2.0, flash=False)
    scores = 4 * 16 * 2  # heads x q x k x bf16
    assert qk.act_write_bytes[0] == scores
    assert sm.act_read_bytes[0] == scores and sm.act_write_bytes[0] == scores
    assert pv.act_read_bytes[0] == scores


def test_decode_attention_is_linear_in_context():
    a = attention("a", "decode", _shape(1, 100), 2.0, 2.0, True)[0]
    b = attention("a", "decode", _shape(1, 200), 2.0, 2.0, True)[0]
    assert b.matmul_flops[0] == pytest.approx(2 * a.matmul_flops[0])
    assert b.kv_read_bytes[0] == pytest.approx(2 * a.kv_read_bytes[0])
