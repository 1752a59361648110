"""Mixture-of-experts operators (costmodel/core/moe.py), hand-computed: router, top-k, routed
expert FLOPs and the expected distinct experts whose weights a forward reads."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from costmodel.core.inputs import Precision
from costmodel.core.moe import distinct_experts, moe_mlp_ops
from costmodel.core.parallel.tensor import shard_spec, with_allreduce
from costmodel.core.stages import llm_layer_ops
from costmodel.specs.model import LLMSpec, ModelSpec
from costmodel.specs.moe import MoESpec

P = Precision(weight_bytes_per_element=2.0, act_bytes_per_element=2.0, kv_bytes_per_element=2.0)
# h 64, E 4 experts of width 96, top-2
SMALL = LLMSpec(hidden_size=64, num_layers=2, num_heads=4, num_kv_heads=2, intermediate_size=128,
                vocab_size=100, moe=MoESpec(num_experts=4, experts_per_token=2,
                                            expert_intermediate_size=96, norm_topk_prob=True))


def _ops(m: LLMSpec, rows: float) -> dict[str, object]:
    return {o.name.split("/", 1)[1]: o for o in moe_mlp_ops(m, "prefill", np.asarray([rows]), "L", P)}


def test_distinct_experts_hand_values():
    assert distinct_experts(8, 2, 1.0) == pytest.approx(2.0)  # one token: its k experts
    assert distinct_experts(8, 8, 5.0) == pytest.approx(8.0)  # k = E: every expert
    assert distinct_experts(8, 2, 2.0) == pytest.approx(8 * (1 - 0.75**2))  # 3.5
    assert distinct_experts(8, 2, 0.0) == 0.0
    assert distinct_experts(128, 8, 4096.0) == pytest.approx(128.0)  # long prefill: all E
    got = distinct_experts(8, 2, np.array([1.0, 2.0, 3.0]))  # vectorised over points
    np.testing.assert_allclose(got, [2.0, 3.5, 8 * (1 - 0.75**3)])


@given(e=st.integers(1, 256), data=st.data(), t=st.integers(1, 10_000))
def test_distinct_experts_monotone_and_bounded(e, data, t):
    k = data.draw(st.integers(1, e))
    now, more = distinct_experts(e, k, float(t)), distinct_experts(e, k, float(t + 1))
    assert k - 1e-9 <= now <= more <= e + 1e-9


def test_router_topk_and_expert_flops_by_hand():
    ops = _ops(SMALL, 6.0)  # 6 tokens, each to 2 experts: 12 routed rows
    assert ops["mlp/router"].matmul_flops[0] == 2 * 6 * 64 * 4
    assert ops["mlp/topk"].vector_flops[0] == 6 * (4 * (5 + 1) + 2 * 2)  # softmax, compare, renorm
    for name in ("gate", "up"):
        assert ops[f"mlp/experts/{name}"].matmul_flops[0] == 2 * 12 * 64 * 96
    assert ops["mlp/experts/down"].matmul_flops[0] == 2 * 12 * 96 * 64
    assert ops["mlp/experts/act"].vector_flops[0] == 5 * 12 * 96
    assert ops["mlp/combine"].vector_flops[0] == 2 * 2 * 6 * 64  # k multiply-adds per output
    assert ops["mlp/router"].weight_bytes[0] == 64 * 4 * 2


def test_expert_weight_bytes_follow_the_distinct_experts():
    one = _ops(SMALL, 1.0)  # decode at batch 1: the token's 2 experts
    assert one["mlp/experts/gate"].weight_bytes[0] == pytest.approx(2 * 64 * 96 * 2)
    many = _ops(SMALL, 1000.0)  # a long prefill: all 4
    assert many["mlp/experts/down"].weight_bytes[0] == pytest.approx(4 * 96 * 64 * 2)
    three = _ops(SMALL, 3.0)  # 4 (1 - (1/2)^3) = 3.5 experts
    assert three["mlp/experts/up"].weight_bytes[0] == pytest.approx(3.5 * 64 * 96 * 2)


def test_shared_expert_with_gate():
    moe = SMALL.moe.model_copy(update={"shared_expert_intermediate_size": 32,
                                       "shared_expert_gate": True})
    ops = _ops(SMALL.model_copy(update={"moe": moe}), 5.0)
    assert ops["mlp/shared/gate"].matmul_flops[0] == 2 * 5 * 64 * 32
    assert ops["mlp/shared/down"].weight_bytes[0] == 32 * 64 * 2  # dense: read once
    assert ops["mlp/shared/gate_proj"].matmul_flops[0] == 2 * 5 * 64 * 1
    assert ops["mlp/combine"].vector_flops[0] == 2 * 3 * 5 * 64  # k = 2 routed + 1 shared
    # parameters: router 4h + 4 experts 3hI + shared 3hS + its gate h
    assert moe.layer_params(64) == 4 * 64 + 4 * 3 * 64 * 96 + 3 * 64 * 32 + 64
    assert moe.active_layer_params(64) == 4 * 64 + 2 * 3 * 64 * 96 + 3 * 64 * 32 + 64


def test_moe_layer_replaces_the_dense_mlp():
    names = {o.name for o in llm_layer_ops(SMALL, "decode", np.asarray([1.0]), np.asarray([1.0]),
                                           np.asarray([9.0]), P, True, (0, 2))}
    assert "llm/L0-1/mlp/experts/down" in names and "llm/L0-1/mlp/down" not in names
    assert "llm/L0-1/mlp/gate" not in names and "llm/L0-1/mlp/residual" in names


def test_qk_norm_operator_and_params():
    m = SMALL.model_copy(update={"qk_norm": True})
    ops = {o.name: o for o in llm_layer_ops(m, "prefill", np.asarray([2.0]), np.asarray([3.0]),
                                            np.asarray([3.0]), P, True, (0, 1))}
    q, k = ops["llm/L0/attn/q_norm"], ops["llm/L0/attn/k_norm"]  # core/layer_extras.qk_norm_ops
    # RMSNorm 4 FLOPs/elem over the 4 q heads and 2 k heads of 16 dims, 6 rows
    assert q.vector_flops[0] + k.vector_flops[0] == 4 * 6 * (4 * 16 + 2 * 16)
    assert q.weight_bytes[0] + k.weight_bytes[0] == 2 * 16 * 2
    assert m.layer_params() - SMALL.layer_params() == 2 * 16


def test_tensor_parallel_splits_experts_and_reduces_after_combine():
    spec = ModelSpec(name="moe", llm=SMALL)
    gpu = shard_spec(spec, 2).llm
    assert gpu.moe is not None and gpu.moe.expert_intermediate_size == 48
    assert gpu.moe.num_experts == 4  # every GPU holds a slice of every expert
    ops = with_allreduce(llm_layer_ops(gpu, "prefill", np.asarray([1.0]), np.asarray([6.0]),
                                       np.asarray([6.0]), P, True, (0, 2)), 2)
    names = [o.name for o in ops]
    assert names[names.index("llm/L0-1/mlp/combine") + 1] == "llm/L0-1/mlp/allreduce"
    full = _ops(SMALL, 6.0)["mlp/experts/gate"].matmul_flops[0]
    assert _ops(gpu, 6.0)["mlp/experts/gate"].matmul_flops[0] * 2 == full
