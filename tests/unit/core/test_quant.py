"""Quantisation: weight-only int4/int8 (bytes with group scales, dequantisation FLOPs),
fp8/int8 weight + activation, KV-cache int8/fp8."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from costmodel import load_hardware
from costmodel.analysis.estimate import estimate
from costmodel.core.quant import dequant_flops_per_element, weight_bytes_per_element
from costmodel.errors import CostmodelError
from costmodel.specs.workload import Workload
from costmodel.units import DType
from tests.helpers import LLAVA15_7B


def _op(e, name, stage="decode"):
    return next(c for c in e.evaluation.op_costs if c.op.name == name and c.op.stage == stage)


def test_weight_bytes_per_element():
    assert weight_bytes_per_element(DType.int4, DType.bf16) == 0.5 + 2 / 128
    assert weight_bytes_per_element(DType.int8, DType.bf16) == 1.0
    assert weight_bytes_per_element(DType.bf16, DType.bf16) == 2.0


def test_dequant_only_when_weights_are_narrower():
    assert dequant_flops_per_element(DType.int4, DType.bf16) == 3.0
    assert dequant_flops_per_element(DType.int8, DType.fp16) == 2.0
    assert dequant_flops_per_element(DType.int8, DType.int8) == 0.0  # W8A8: no widening
    assert dequant_flops_per_element(DType.bf16, DType.bf16) == 0.0


def test_int4_weight_only_memory(llava, gpu):
    e = estimate(llava, gpu, visual_tokens=576, weight_dtype="int4")
    assert e.memory.weights_bytes == llava.param_counts()["total"] * (0.5 + 2 / 128)


def test_int4_dequant_flops_on_every_weight_read(llava, gpu):
    kw = dict(visual_tokens=576, batch=2, output_tokens=11)
    bf, w4 = estimate(llava, gpu, **kw), estimate(llava, gpu, weight_dtype="int4", **kw)
    q_bf, q_w4 = _op(bf, "llm/L0-31/attn/q"), _op(w4, "llm/L0-31/attn/q")
    # 10 decode steps x 32 layers, each reading the 4096 x 4096 weights once: 3 FLOPs each.
    assert float(np.ravel(q_w4.flops - q_bf.flops)[0]) == 10 * 32 * 3 * 4096 * 4096
    assert float(np.ravel(q_w4.weight_bytes)[0]) == 10 * 32 * 4096 * 4096 * (0.5 + 2 / 128)
    # Non-linear operators are untouched; the matmul work is the same.
    assert float(np.ravel(_op(w4, "llm/L0-31/attn/flash").flops)[0]) == float(np.ravel(
        _op(bf, "llm/L0-31/attn/flash").flops)[0])
    # Vision linears dequantise too (weights int4 everywhere): fc1 reads 1024 x 4096 + bias.
    fc1 = [_op(e, "vision/L0-22/mlp/fc1", "vision") for e in (bf, w4)]
    assert float(np.ravel(fc1[1].flops[0] - fc1[0].flops)[0]) == 23 * 3 * (1024 * 4096 + 4096)


def test_int8_weight_only_halves_weight_traffic(llava, gpu):
    kw = dict(visual_tokens=576, output_tokens=2)
    kw["engine"] = "torch-eager"  # launches in series (hf-eager's batch-1 decode is host-bound)
    bf, w8 = estimate(llava, gpu, **kw), estimate(llava, gpu, weight_dtype="int8", **kw)
    assert w8.stages["decode"].weight_bytes == bf.stages["decode"].weight_bytes / 2
    assert w8.tpot_s < bf.tpot_s


def test_fp8_weight_and_activation_runs_at_fp8_peak():
    h100 = load_hardware("h100-sxm")
    kw = dict(visual_tokens=576, text_tokens=64, batch=16, output_tokens=2)
    bf = estimate(LLAVA15_7B, h100, engine="ideal", **kw)  # the bound: datasheet peaks
    f8 = estimate(LLAVA15_7B, h100, act_dtype="fp8", engine="ideal", **kw)
    up = [_op(e, "llm/L0-31/mlp/up", "prefill") for e in (bf, f8)]
    assert float(np.ravel(up[1].compute_s)[0]) == pytest.approx(
        float(np.ravel(up[0].compute_s)[0]) * h100.peak_flops_per_s(DType.bf16)
        / h100.peak_flops_per_s(DType.fp8))
    assert float(np.ravel(up[1].act_bytes)[0]) == float(np.ravel(up[0].act_bytes)[0]) / 2
    assert float(np.ravel(up[1].flops)[0]) == float(np.ravel(up[0].flops)[0])  # no dequantisation
    assert f8.memory.weights_bytes == bf.memory.weights_bytes / 2


@pytest.mark.parametrize("kv", ["int8", "fp8"])
def test_kv_cache_one_byte(llava, gpu, kv):
    kw = dict(visual_tokens=576, output_tokens=20, engine="torch-eager")  # launches in series
    bf, q = estimate(llava, gpu, **kw), estimate(llava, gpu, kv_dtype=kv, **kw)
    assert q.memory.kv_cache_bytes == bf.memory.kv_cache_bytes / 2
    assert q.stages["decode"].kv_bytes == bf.stages["decode"].kv_bytes / 2
    assert q.tpot_s < bf.tpot_s


def test_int4_group_bytes_by_hand():
    """bytes per weight = 0.5 + group_bytes / group (core/quant.py): gpt-fast int4 (groups of
    32, a bf16 scale + a bf16 zero = 4 B each) 0.5 + 4/32 = 0.625 B; the default (groups of 128,
    one fp16 scale) 0.5 + 2/128 = 0.515625 B; only int4 is grouped."""
    assert weight_bytes_per_element(DType.int4, DType.bf16, 32, 4.0) == 0.625
    assert weight_bytes_per_element(DType.int4, DType.bf16) == 0.515625
    assert weight_bytes_per_element(DType.int4, DType.bf16, 64, 0.0) == 0.5
    assert weight_bytes_per_element(DType.int8, DType.bf16, 32, 4.0) == 1.0


def test_int4_group_32_on_a_7b_linear(llava, gpu):
    """LLaVA-1.5-7B's q projection (4096 x 4096, 32 layers, 10 decode steps): 4096^2 x 0.625 =
    10,485,760 B a layer at g32 / 4 B (8,650,752 B at the default); the dequantisation work
    counts the same 4096^2 elements either way; weights in memory = parameters x 0.625 B."""
    kw = dict(visual_tokens=576, batch=2, output_tokens=11, weight_dtype="int4")
    g128, g32 = estimate(llava, gpu, **kw), estimate(llava, gpu, weight_group=32,
                                                     weight_group_bytes=4.0, **kw)
    q128, q32 = _op(g128, "llm/L0-31/attn/q"), _op(g32, "llm/L0-31/attn/q")
    assert float(np.ravel(q32.weight_bytes)[0]) == 10 * 32 * 10_485_760
    assert float(np.ravel(q128.weight_bytes)[0]) == 10 * 32 * 8_650_752
    assert float(np.ravel(q32.flops)[0]) == float(np.ravel(q128.flops)[0])
    assert g32.memory.weights_bytes == llava.param_counts()["total"] * 0.625
    assert g32.bound.tpot_s > g128.bound.tpot_s  # decode memory-bound (hf-eager: host-bound)


@pytest.mark.parametrize(("fields", "says"), [
    ({"weight_group_bytes": 4.0, "weight_dtype": "int8"}, "weight_group_bytes: only int4"),
    ({"weight_group": 0, "weight_dtype": "int4"}, "weight_group"),
    ({"weight_group_bytes": -1.0, "weight_dtype": "int4"}, "weight_group_bytes"),
    ({"weight_group_bytes": float("nan"), "weight_dtype": "int4"}, "weight_group_bytes"),
])
def test_weight_group_refused(fields, says):
    """A group on weights that are not int4 is refused, not ignored; group >= 1, bytes >= 0."""
    with pytest.raises(ValidationError, match=says):
        Workload(**fields)


def test_group_without_a_weight_dtype_is_refused_at_prepare(llava, gpu):
    """With no weight dtype named the checkpoint may store int4 (analysis/weights.py): the
    prepare step refuses a group on an unquantised model, before any work."""
    Workload(weight_group=32)  # accepted as a workload
    with pytest.raises(CostmodelError, match=r"^--weight-group: only int4 .*weights are bf16"):
        estimate(llava, gpu, weight_group=32)


def test_llm_viewer_refuses_a_weight_group(llava, gpu):
    with pytest.raises(CostmodelError, match="convention: llm-viewer counts w_bit"):
        estimate(llava, gpu, visual_tokens=576, weight_dtype="int4", weight_group=32,
                 convention="llm-viewer")


@pytest.mark.parametrize(("engine", "fields", "group"), [
    ("llama.cpp", {}, (32, 2.0)),                       # Q4_0: fp16 scale per 32
    ("mlc", {}, (32, 2.0)),                             # q4f16_1
    ("torch-compile", {}, (32, 4.0)),                   # gpt-fast: bf16 scale + zero per 32
    ("vllm", {}, (128, 2.0)),                           # no format of its own: the default
    ("llama.cpp", {"weight_group": 64}, (64, 2.0)),     # the workload's value wins, per field
    ("torch-compile", {"weight_group_bytes": 2.0}, (32, 2.0)),
])
def test_engine_int4_format(llava, gpu, engine, fields, group):
    """An int4 workload that sets no group takes its engine's own layout (engine YAML
    int4_format); q's weight bytes per layer and step = 4096^2 x (0.5 + B / G)."""
    est = estimate(llava, gpu, visual_tokens=576, weight_dtype="int4", engine=engine,
                   output_tokens=11, **fields)
    q = _op(est, "llm/L0-31/attn/q")
    g, b = group  # 10 decode steps x 32 layers
    assert float(np.ravel(q.weight_bytes)[0]) == pytest.approx(
        10 * 32 * 4096**2 * (0.5 + b / g), rel=1e-12)
    doc = est.to_dict()["workload"]
    assert (doc["weight_group"], doc["weight_group_bytes"]) == group


def test_weight_parts_per_pipeline_stage():
    """pp 2, int4 on the decoder layers only: the first stage holds the vision encoder,
    projector and embedding in bf16, the last the lm_head in bf16 (Qwen2.5-VL-7B, untied);
    each stage's weights by hand from stage_part_params, which sum to the parameter count."""
    from costmodel.core.parallel.pipeline import stage_bounds, stage_part_params

    est = estimate("qwen2.5-vl-7b", "a100-80gb", weight_dtype="int4",
                             weight_parts="layers", parallel={"pp": 2})
    spec = est.model
    parts = stage_part_params(spec, stage_bounds(spec.llm.num_layers, 2))
    assert sum(sum(p.values()) for p in parts) == spec.param_counts()["total"]
    int4 = 0.5 + 2 / 128
    per_stage = [p["layers"] * int4 + 2 * sum(n for k, n in p.items() if k != "layers")
                 for p in parts]
    assert est.memory.per_gpu_weights_bytes == pytest.approx(max(per_stage), rel=1e-12)
    assert est.memory.weights_bytes == pytest.approx(sum(per_stage), rel=1e-12)


def test_dequant_only_on_quantised_parts():
    """int4 on the decoder layers: the vision stage's linears carry no dequantisation FLOPs,
    the prefill's (layers) do, its lm_head does not."""
    est = estimate("qwen2.5-vl-7b", "a100-80gb", weight_dtype="int4",
                             weight_parts="layers")
    plain = estimate("qwen2.5-vl-7b", "a100-80gb")
    assert est.stages["vision"].flops == plain.stages["vision"].flops
    assert est.stages["prefill"].flops > plain.stages["prefill"].flops
    heads = [c for c in est.evaluation.op_costs if c.op.op_class == "lm_head"]
    assert heads and all(float(np.ravel(c.op.vector_flops)[0]) == 0 for c in heads)
