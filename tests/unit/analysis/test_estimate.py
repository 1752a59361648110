"""Estimator checks against closed forms and an explicit step-by-step decode loop."""

from __future__ import annotations

import numpy as np
import pytest

import costmodel
from costmodel.analysis.estimate import estimate
from costmodel.analysis.prepare import prepare
from costmodel.core.pricing import static_cost
from costmodel.core.stages import decode_ops
from costmodel.specs.hardware import UnsupportedDtype
from costmodel.specs.workload import Workload
from costmodel.units import DType


def test_prefill_flops_closed_form(llama2, gpu):
    # Non-embedding params P: linear FLOPs = 2 * P_linear * tokens; plus attention.
    s = 512
    e = estimate(llama2, gpu, visual_tokens=0, text_tokens=s, output_tokens=1)
    m = llama2.llm
    linear_params = m.num_layers * (4 * 4096 * 4096 + 3 * 4096 * 11008)
    attn = m.num_layers * 2 * 2 * m.head_dim * m.num_heads * (s * s - s * (s - 1) / 2)
    lm_head = 2 * 4096 * 32000  # last token only
    mm = sum(c.flops[0] for c in e.evaluation.op_costs if c.op.stage == "prefill"
             and c.op.op_class in ("linear", "lm_head"))
    assert mm == 2 * linear_params * s + lm_head
    attn_mm = sum(float(np.ravel(c.op.matmul_flops)[0]) * c.op.count for c in e.evaluation.op_costs
                  if c.op.stage == "prefill" and c.op.op_class == "attention")
    assert attn_mm == attn


def test_logits_all_counts_lm_head_for_every_token(llama2, gpu):
    last = estimate(llama2, gpu, visual_tokens=0, text_tokens=100, output_tokens=1)
    every = estimate(llama2, gpu, visual_tokens=0, text_tokens=100, output_tokens=1, logits="all")
    diff = every.stages["prefill"].flops - last.stages["prefill"].flops
    assert diff == 2 * 4096 * 32000 * 99


def test_decode_integration_equals_step_loop(llava, gpu):
    # torch-eager: launches in series (async launches: tests/unit/core/test_host_overlap.py)
    w = Workload(visual_tokens=576, text_tokens=40, output_tokens=50, engine="torch-eager")
    e = estimate(llava, gpu, w)
    prep = prepare(llava, [gpu], w)
    rates, pts, prec = prep.rates, prep.points, prep.precision
    total = flops = 0.0
    for j in range(w.output_tokens - 1):
        for op in decode_ops(llava, pts, float(j), prec, True):
            c = static_cost(op, rates, "roofline")
            total += float(c.latency_s.reshape(-1)[0])
            flops += float(c.flops.reshape(-1)[0])
        total += prep.engine.step_overhead_s  # the engine's host time per decode step
    assert e.stages["decode"].latency_s == pytest.approx(total, rel=1e-12)
    assert e.stages["decode"].flops == pytest.approx(flops, rel=1e-12)
    assert e.tpot_s == pytest.approx(total / 49, rel=1e-12)
    assert e.e2e_latency_s == pytest.approx(e.ttft_s + total, rel=1e-12)


def test_decode_is_memory_bound_at_batch_1(llava, gpu):
    e = estimate(llava, gpu, visual_tokens=576, output_tokens=2, engine="torch-eager")
    weights = llava.llm.num_params() * 2 - 32000 * 4096 * 2  # embedding: only 1 row read
    # One step reads (almost) every LLM weight once: TPOT ~ weight bytes / bandwidth.
    assert e.tpot_s == pytest.approx(weights / 2000e9, rel=0.03)


def test_kv_cache_bytes(llava, gpu):
    e = estimate(llava, gpu, batch=4, visual_tokens=576, text_tokens=64, output_tokens=128)
    per_token = 32 * 2 * 4096 * 2  # layers x (K,V) x kv_dim x bf16
    assert e.memory.kv_cache_bytes == 4 * (576 + 64 + 127) * per_token


def test_kv_dtype_halves_cache(llava, gpu):
    bf = estimate(llava, gpu, visual_tokens=576)
    i8 = estimate(llava, gpu, visual_tokens=576, kv_dtype="int8")
    assert i8.memory.kv_cache_bytes == bf.memory.kv_cache_bytes / 2


def test_weights_in_footprint_include_embedding_and_lm_head(llava, gpu):
    e = estimate(llava, gpu, visual_tokens=576)
    assert e.memory.weights_bytes == 7_062_902_784 * 2


def test_fits_false_is_a_result_not_a_crash(llava, gpu):
    e = estimate(llava, gpu, batch=256, visual_tokens=2880, output_tokens=2048)
    assert not e.memory.fits
    assert e.memory.total_memory_bytes > gpu.memory_bytes


def test_qwen25_vl_72b_needs_more_than_one_80gb_gpu():
    # bf16 weights 2 B x 73,410,777,344 = 146.8 GB > 80 GB: a result (fits False), not a crash;
    # tp 4 splits the LLM's layers: 37.8 GB a GPU. KV cache: 327,680 B a token (2 x 80 layers x
    # 8 KV heads x 128 x 2 B) x (576 visual + 64 text + 127 decoded tokens kept).
    one = costmodel.estimate("qwen2.5-vl-72b", "h100-sxm")
    four = costmodel.estimate("qwen2.5-vl-72b", "h100-sxm", parallel={"tp": 4})
    assert one.memory.weights_bytes == 2 * 73_410_777_344 and not one.memory.fits
    assert one.memory.kv_cache_bytes == 327_680 * (576 + 64 + 127)
    assert four.memory.fits and four.memory.per_gpu_total_memory_bytes < 40e9
    assert 0 < four.ttft_s < one.ttft_s


def test_gemma3_27b_kv_cache_caps_sliding_layers():
    # 256 visual + 2000 text = 2256 prompt tokens, 1 output: the 10 full layers (5, 11, ..., 59)
    # hold all 2256, the 52 sliding layers their window of 1024; 8,192 B a token a layer in bf16
    # (2 x 16 KV heads x 128 x 2 B). Weights 2 B x 27,432,406,640 fit an 80 GB GPU, not a 24 GB L4.
    e = costmodel.estimate("gemma-3-27b", "h100-sxm", text_tokens=2000, output_tokens=1)
    assert e.memory.kv_cache_bytes == 8_192 * (10 * 2256 + 52 * 1024)
    assert e.memory.weights_bytes == 2 * 27_432_406_640 and e.memory.fits
    assert not costmodel.estimate("gemma-3-27b", "l4").memory.fits


def test_weight_only_int4_uses_activation_peak(llava, gpu):
    bf = estimate(llava, gpu, visual_tokens=576, engine="torch-eager")
    w4 = estimate(llava, gpu, visual_tokens=576, weight_dtype="int4", engine="torch-eager")
    # int4 = 0.5 B a weight + one fp16 scale per 128 weights (costmodel/core/quant.py).
    assert w4.memory.weights_bytes == bf.memory.weights_bytes / 2 * (0.5 + 2 / 128)
    # Same math dtype -> same matmul work; decode (memory-bound) gets faster.
    assert w4.tpot_s < bf.tpot_s / 2
    mm = [sum(float(np.ravel(c.op.matmul_flops)[0]) * c.op.count for c in e.evaluation.op_costs
              if c.op.stage == "prefill") for e in (bf, w4)]
    assert mm[0] == mm[1]


def test_unsupported_math_dtype_is_an_error(llava, gpu):
    with pytest.raises(UnsupportedDtype, match="fp8"):
        estimate(llava, gpu, visual_tokens=576, act_dtype=DType.fp8)


def test_eager_attention_costs_more_than_flash(llava, gpu):
    fl = estimate(llava, gpu, visual_tokens=2880, text_tokens=64)
    eg = estimate(llava, gpu, visual_tokens=2880, text_tokens=64, flash_attention=False)
    assert eg.stages["prefill"].flops > fl.stages["prefill"].flops
    assert eg.stages["prefill"].act_bytes > fl.stages["prefill"].act_bytes
    assert eg.stages["prefill"].useful_flops == fl.stages["prefill"].useful_flops


def test_serial_overlap_is_slower_than_roofline(llava, gpu):
    r = estimate(llava, gpu, visual_tokens=576, engine="torch-eager")
    s = estimate(llava, gpu, visual_tokens=576, overlap="serial", engine="torch-eager")
    assert s.ttft_s > r.ttft_s and s.tpot_s > r.tpot_s


def test_text_only_model_has_empty_vision_stages(llama2, gpu):
    e = estimate(llama2, gpu, text_tokens=128)
    assert e.stages["vision"].flops == 0 and e.stages["projector"].latency_s == 0
    assert e.plan.llm_tokens == 0


def test_vision_runs_up_to_selected_layer(llava, gpu):
    e = estimate(llava, gpu, visual_tokens=576)
    names = [c.op.name for c in e.evaluation.op_costs if c.op.stage == "vision"]
    assert "vision/L0-22/attn/qkv" in names  # feature layer -2 of 24 -> 23 layers


def test_vectorised_evaluation_matches_single_points(llava, gpu):
    from costmodel.core.evaluate import evaluate

    pairs = [(0, 1), (576, 1), (2880, 8), (144, 4)]
    ws = [Workload(visual_tokens=v, batch=b) for v, b in pairs]
    cols = {"visual_tokens": np.array([v for v, _ in pairs]), "batch": np.array([b for _, b in pairs])}
    ev = evaluate(llava, prepare(llava, [gpu], Workload(), columns=cols))
    for i, w in enumerate(ws):
        one = estimate(llava, gpu, w)
        assert ev.ttft_s[0, i] == one.ttft_s and ev.e2e_latency_s[0, i] == one.e2e_latency_s
        assert ev.kv_cache_bytes[0, i] == one.memory.kv_cache_bytes
