"""Expert parallelism (Parallelism.ep; core/parallel/tensor.shard_experts, core/moe.py),
hand-computed: per-GPU routed FLOPs, expert weight bytes and parameters, the two all-to-alls a
MoE layer and their link time, ep = 1 unchanged, and the refusals."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.analysis.estimate import estimate
from costmodel.core.moe import moe_mlp_ops
from costmodel.core.parallel.tensor import shard_spec
from costmodel.errors import CostmodelError
from costmodel.loading.load import load_model
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import Parallelism
from tests.unit.core.test_moe import SMALL, P
from tests.unit.core.test_parallel import _nvlink

SPEC = ModelSpec(name="moe", llm=SMALL)  # h 64, E 4 experts of width 96, top-2


def _ops(ep: int, rows: float) -> dict[str, object]:
    gpu = shard_spec(SPEC, 1, ep).llm
    return {o.name.split("/", 1)[1]: o
            for o in moe_mlp_ops(gpu, "prefill", np.asarray([rows]), "L", P)}


@pytest.mark.parametrize("ep", [2, 4])
def test_per_gpu_expert_flops_weights_and_all_to_all_by_hand(ep):
    ops = _ops(ep, 6.0)  # 6 tokens x top-2 = 12 routed rows, 12 / ep on each GPU
    for name in ("gate", "up", "down"):
        assert ops[f"mlp/experts/{name}"].matmul_flops[0] == pytest.approx(2 * (12 / ep) * 64 * 96)
        # (E/ep) x (1 - (1 - k/E)^R) experts read: 4/ep x (1 - 0.5^6)
        hit = 4 / ep * (1 - 0.5**6)
        assert ops[f"mlp/experts/{name}"].weight_bytes[0] == pytest.approx(hit * 64 * 96 * 2)
    for name in ("a2a_dispatch", "a2a_combine"):  # R k h a (ep-1)/ep bytes, ep - 1 steps
        a2a = ops[f"mlp/{name}"]
        assert a2a.op_class == "comm" and a2a.flops[0] == 0.0
        assert a2a.link_bytes[0] == pytest.approx(6 * 2 * 64 * 2 * (ep - 1) / ep)
        assert a2a.link_hops == ep - 1
    assert ops["mlp/router"].matmul_flops[0] == 2 * 6 * 64 * 4  # router replicated: all E
    names = list(ops)
    assert names.index("mlp/topk") < names.index("mlp/a2a_dispatch") < names.index(
        "mlp/experts/gate") < names.index("mlp/experts/down") < names.index(
        "mlp/a2a_combine") < names.index("mlp/combine")


@pytest.mark.parametrize("ep", [2, 4])
def test_per_gpu_parameters_hold_e_over_ep_experts(ep):
    gpu = shard_spec(SPEC, 1, ep).llm
    assert gpu.moe is not None and gpu.moe.local_experts == 4 // ep
    assert SMALL.layer_params() - gpu.layer_params() == (4 - 4 // ep) * 3 * 64 * 96
    assert shard_spec(SPEC, 2, ep).llm.moe.expert_intermediate_size == 48  # tp x ep compose


def test_ep1_is_unchanged():
    assert shard_spec(SPEC, 1, 1) is SPEC
    assert not [n for n in _ops(1, 6.0) if "a2a" in n]
    assert Parallelism(ep=1) == Parallelism() and Parallelism(tp=2, pp=3, ep=4).gpus == 24


def test_refusals():
    with pytest.raises(CostmodelError, match="parallel.ep: 3 does not divide the 4 experts"):
        shard_spec(SPEC, 1, 3)
    dense = ModelSpec(name="dense", llm=SMALL.model_copy(update={"moe": None}))
    with pytest.raises(CostmodelError, match="parallel.ep: dense has no experts"):
        shard_spec(dense, 1, 2)


def test_no_link_and_dense_refused_in_estimate(llava, gpu):
    mixtral = load_model("mixtral-8x7b")
    with pytest.raises(CostmodelError, match="interconnect"):
        estimate(mixtral, gpu, parallel=Parallelism(ep=2))
    with pytest.raises(CostmodelError, match="parallel.ep"):
        estimate(llava, _nvlink(gpu), visual_tokens=576, parallel=Parallelism(ep=2))


def test_mixtral_ep4_memory_and_all_to_all_time(gpu):
    m, hw, ep, batch = load_model("mixtral-8x7b"), _nvlink(gpu), 4, 8
    e = estimate(m, hw, batch=batch, output_tokens=11, parallel=Parallelism(ep=ep),
                 engine="torch-eager")
    h, inter, layers, n_exp = 4096, 14336, 32, 8
    moved = layers * (n_exp - n_exp // ep) * 3 * h * inter  # experts on the other GPUs
    assert e.memory.per_gpu_weights_bytes == (m.param_counts()["total"] - moved) * 2
    assert e.memory.weights_bytes == m.param_counts()["total"] * 2
    a2a = [c for c in e.evaluation.op_costs if c.op.stage == "decode" and "a2a" in c.op.name]
    assert sorted(c.op.name for c in a2a) == ["llm/L0-31/mlp/a2a_combine",
                                              "llm/L0-31/mlp/a2a_dispatch"]
    # one decode step: R = batch rows, R k h a (ep-1)/ep bytes at 100 GB/s + (ep-1) x 1 us
    one = batch * 2 * h * 2 * (ep - 1) / ep / 100e9 + (ep - 1) * 1e-6
    for c in a2a:
        assert float(np.ravel(c.latency_s)[0]) == pytest.approx(layers * 10 * one, rel=1e-12)
