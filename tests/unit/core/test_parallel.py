"""Multi-GPU: all-reduce formula by hand, TP shards and their memory, PP stages and bubbles,
and the all-reduce model against measured NCCL times (Vidur data). The CLI options:
tests/cli/test_parallel_options.py."""

from __future__ import annotations

import dataclasses
import importlib.util

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel.analysis.estimate import estimate
from costmodel.analysis.prepare import prepare
from costmodel.core.evaluate import evaluate
from costmodel.core.parallel.pipeline import stage_bounds
from costmodel.core.parallel.tensor import allreduce_time_s, shard_spec
from costmodel.core.roofline import DEFAULT_LINK_LATENCY_S
from costmodel.errors import CostmodelError
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import Parallelism, Workload
from tests.helpers import ROOT


def _nvlink(gpu, bw_GBps=100.0, lat_us=1.0):
    """The round-number test GPU with an NVLink of 100 GB/s per direction and 1 us latency."""
    src = gpu.source_file
    link = src.interconnect.model_copy(
        update={"kind": "nvlink", "bandwidth_GBps": bw_GBps, "latency_us": lat_us})
    f = type(src).model_validate({**src.model_dump(), "interconnect": link.model_dump(),
                                  "sources": {**src.sources, "interconnect": "round test figure"}})
    return type(gpu).from_file(f)


def test_ring_allreduce_time_by_hand():
    # 1 MB over 4 GPUs, 100 GB/s, 2 us: 2*3/4 * 1e6 / 1e11 + 2*3 * 2e-6 = 15 us + 12 us.
    assert allreduce_time_s(1e6, 4, 100e9, 2e-6) == pytest.approx(27e-6, rel=1e-12)
    assert allreduce_time_s(1e6, 1, 100e9, 2e-6) == 0.0


def test_tp1_is_the_single_gpu_evaluation(llava, gpu):
    w = Workload(visual_tokens=576, batch=4, text_tokens=100, output_tokens=50)
    direct = evaluate(llava, prepare(llava, [gpu], w))
    est = estimate(llava, gpu, w)
    assert est.ttft_s == float(direct.ttft_s[0, 0]) and est.tpot_s == float(direct.tpot_s[0, 0])
    m = est.memory
    assert m.total_memory_bytes == float(direct.total_memory_bytes[0, 0]) == m.per_gpu_total_memory_bytes
    assert not [c for c in est.evaluation.op_costs if c.op.op_class == "comm"]
    assert est.to_dict()["parallel"]["gpus"] == 1


def test_tp_weights_per_gpu_are_total_over_tp_plus_replicated(llava, gpu):
    tp = 4
    e = estimate(llava, _nvlink(gpu), visual_tokens=576, parallel=Parallelism(tp=tp))
    m, counts = llava.llm, llava.param_counts()
    split = m.num_layers * (4 * 4096 * 4096 + 3 * 4096 * 11008) + 2 * 32000 * 4096
    replicated = m.num_layers * 2 * 4096 + 4096 + counts["vision"] + counts["projector"]
    assert e.memory.per_gpu_weights_bytes == (split / tp + replicated) * 2
    assert e.memory.weights_bytes == counts["total"] * 2  # whole model unchanged
    assert e.memory.per_gpu_kv_cache_bytes == e.memory.kv_cache_bytes / tp


def test_kv_heads_fewer_than_tp_are_replicated(llava, gpu):
    gqa = llava.model_copy(update={"llm": llava.llm.model_copy(update={"num_kv_heads": 2})})
    one = estimate(gqa, gpu, visual_tokens=576)
    e8 = estimate(gqa, _nvlink(gpu), visual_tokens=576, parallel=Parallelism(tp=8))
    assert shard_spec(gqa, 8).llm.num_kv_heads == 1
    assert e8.memory.per_gpu_kv_cache_bytes == one.memory.kv_cache_bytes / 2


def test_tp_must_divide_heads(llava, gpu):
    with pytest.raises(CostmodelError, match="parallel.tp"):
        estimate(llava, _nvlink(gpu), visual_tokens=576, parallel=Parallelism(tp=3))


def test_no_link_is_an_error(llava, gpu):
    with pytest.raises(CostmodelError, match="interconnect"):
        estimate(llava, gpu, visual_tokens=576, parallel=Parallelism(tp=2))


def test_two_allreduces_per_layer_timed_by_the_formula(llava, gpu):
    hw, tp, batch = _nvlink(gpu), 4, 8
    e = estimate(llava, hw, visual_tokens=576, batch=batch, output_tokens=11,
                 parallel=Parallelism(tp=tp), engine="torch-eager")
    comm = [c for c in e.evaluation.op_costs if c.op.op_class == "comm" and c.op.stage == "decode"]
    names = sorted(c.op.name for c in comm)
    assert names == ["llm/L0-31/attn/allreduce", "llm/L0-31/mlp/allreduce", "llm/lm_head/allgather"]
    ar = next(c for c in comm if c.op.name.endswith("mlp/allreduce"))
    one = allreduce_time_s(batch * 4096 * 2, tp, 100e9, 1e-6)  # [batch, hidden] bf16 per step
    assert float(np.ravel(ar.latency_s)[0]) == pytest.approx(32 * 10 * one, rel=1e-12)  # 32 layers, 10 steps
    # The sharded layer does 1/tp of the linear work.
    full = estimate(llava, gpu, visual_tokens=576, batch=batch, output_tokens=11)
    flops = [sum(float(np.ravel(c.flops)[0]) for c in x.evaluation.op_costs if c.op.name ==
                 "llm/L0-31/mlp/down" and c.op.stage == "prefill") for x in (full, e)]
    assert flops[1] == flops[0] / tp


def test_stage_bounds_are_near_even():
    assert stage_bounds(32, 3) == ((0, 11), (11, 22), (22, 32))
    with pytest.raises(CostmodelError, match="parallel.pp"):
        stage_bounds(4, 5)


def test_pipeline_bubble_and_transfers(llava, gpu):
    hw, pp, m, batch = _nvlink(gpu), 4, 2, 8
    base = dict(visual_tokens=576, text_tokens=64, output_tokens=20)
    e = estimate(llava, hw, batch=batch, parallel=Parallelism(pp=pp, microbatches=m), **base)
    one = estimate(llava, hw, batch=batch, **base)
    mb = estimate(llava, hw, batch=batch // m, **base)
    d = e.to_dict()["parallel"]
    assert d["prefill_bubble_fraction"] == (pp - 1) / (m + pp - 1)
    hop = 1e-6 + (batch // m) * 640 * 4096 * 2 / 100e9  # [mb, prompt, hidden] bf16 per boundary
    expected = (m + pp - 1) / pp * mb.stages["prefill"].latency_s + (pp - 1) * hop
    assert e.stages["prefill"].latency_s == pytest.approx(expected, rel=1e-12)
    step_hop = 1e-6 + batch * 4096 * 2 / 100e9
    assert e.tpot_s == pytest.approx(one.tpot_s + (pp - 1) * step_hop, rel=1e-12)
    # Memory: stage 0 (8 layers + embedding + vision + projector) is the most loaded GPU.
    c = llava.param_counts()
    stage0 = 8 * llava.llm.layer_params() + 32000 * 4096 + c["vision"] + c["projector"]
    assert e.memory.per_gpu_weights_bytes == stage0 * 2
    assert e.memory.per_gpu_kv_cache_bytes == one.memory.kv_cache_bytes / 4


def test_one_microbatch_pipeline_is_sum_over_stages(llava, gpu):
    hw = _nvlink(gpu)
    e = estimate(llava, hw, visual_tokens=576, parallel=Parallelism(pp=2))
    one = estimate(llava, hw, visual_tokens=576)
    hop = 1e-6 + 640 * 4096 * 2 / 100e9
    assert e.ttft_s == pytest.approx(one.ttft_s + hop, rel=1e-12)
    assert e.to_dict()["parallel"]["prefill_bubble_fraction"] == 0.5


def test_microbatches_must_divide_batch():
    with pytest.raises(ValueError, match="parallel.microbatches"):
        Workload(batch=3, parallel=Parallelism(pp=2, microbatches=2))


def test_default_link_latency_when_profile_gives_none():
    from costmodel import load_hardware
    from costmodel.core.roofline import link_latency_s

    hw = load_hardware("h100-sxm")
    assert hw.interconnect_latency_s == 0.0
    assert link_latency_s(hw) == DEFAULT_LINK_LATENCY_S["nvlink"] > 0


def _vidur():
    path = ROOT / "benchmarks" / "allreduce_vs_vidur.py"
    spec = importlib.util.spec_from_file_location("avv", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_allreduce_model_against_measured_nccl():
    """Shipped model (datasheet NVLink, default latency): optimistic, within a factor ~3.5 for
    messages >= 4 MiB; the per-device fit on 2 and 8 GPUs predicts the held-out 4-GPU large
    messages within 35%."""
    v = _vidur()
    df = v.load()
    assert len(df) == 90 and set(df.num_workers) == {2, 4, 8}
    err = v.predict(df) / df.measured_s.to_numpy() - 1.0
    large = (df.size_bytes >= 4 * 1024**2).to_numpy()
    assert np.median(err) < 0  # the datasheet peak is not reached: the model is optimistic
    assert np.all(np.abs(err[large]) < 0.72)
    held = v.held_out_by_gpu_count(df)
    big = held[held.sizes == ">= 4 MiB"]
    assert (big.median_abs_err < 0.3).all() and (big.worst_err.abs() < 0.35).all()


def test_shard_spec_keeps_head_dim(llava):
    s = shard_spec(llava, 4)
    assert isinstance(s, ModelSpec) and s.llm.head_dim == llava.llm.head_dim == 128
    assert s.llm.num_heads == 8 and s.llm.intermediate_size == 11008 // 4
    assert dataclasses.is_dataclass(Parallelism) is False  # a pydantic model, frozen


@settings(max_examples=40, deadline=None)
@given(m=st.floats(1e3, 1e9), n=st.integers(2, 16))
def test_allreduce_time_grows_with_size_and_gpus(m, n):
    t = allreduce_time_s(m, n, 300e9, 2e-6)
    assert allreduce_time_s(2 * m, n, 300e9, 2e-6) > t
    assert allreduce_time_s(m, n + 1, 300e9, 2e-6) > t
    # Bounded by sending the message twice over the link plus the latency steps.
    assert t < 2 * m / 300e9 + 2 * (n - 1) * 2e-6 + 1e-15


def test_parallel_evaluation_is_vectorised(llava, gpu):
    """Several points in one call equal one estimate per point."""
    hw = _nvlink(gpu)
    par = Parallelism(tp=2, pp=2, microbatches=2)
    ws = [Workload(visual_tokens=v, batch=b, parallel=par) for v, b in [(576, 2), (144, 8)]]
    cols = {"visual_tokens": np.array([576, 144]), "batch": np.array([2, 8])}
    ev = evaluate(llava, prepare(llava, [hw], Workload(parallel=par, batch=2), columns=cols))
    for i, w in enumerate(ws):
        one = estimate(llava, hw, w)
        assert float(ev.ttft_s[0, i]) == pytest.approx(one.ttft_s, rel=1e-12)
        assert float(ev.tpot_s[0, i]) == pytest.approx(one.tpot_s, rel=1e-12)
        assert float(ev.per_gpu_total_memory_bytes[0, i]) == pytest.approx(
            one.memory.per_gpu_total_memory_bytes, rel=1e-12)
