"""The llm-viewer convention (costmodel.conventions.llm_viewer): each LLM-Viewer term by hand on a
tiny spec, the differences from costmodel's count, the bare roofline and the CLI switch.

Rules from hahnyuan/LLM-Viewer model_analyzer.py (commit 01b269d6), configs/Llama.py
post_process and hardwares/hardware_params.py (commit f307ca5a); see docs/methodology.md.
"""

from __future__ import annotations

import numpy as np
import pytest

from costmodel import load_hardware
from costmodel.analysis.estimate import estimate
from costmodel.analysis.prepare import prepare
from costmodel.conventions import get as convention
from costmodel.conventions import llm_viewer as lv
from costmodel.core.inputs import Points, Precision
from costmodel.core.stages import decode_ops, prefill_ops
from costmodel.errors import CostmodelError
from costmodel.specs.engine import IDEAL
from costmodel.specs.model import LLMSpec, ModelSpec
from costmodel.specs.workload import Workload
from costmodel.units import DType
from tests.helpers import LLAVA15_7B

TINY = ModelSpec(name="tiny", llm=LLMSpec(hidden_size=8, num_layers=2, num_heads=2, num_kv_heads=1,
                                          intermediate_size=16, vocab_size=10))
P2 = Precision(2.0, 2.0, 2.0)


def pts(visual: float, text: float = 0.0, batch: float = 1.0, output: float = 2.0) -> Points:
    a = lambda x: np.asarray([x], float)  # noqa: E731
    return Points(batch=a(batch), crops=a(0), seq_per_crop=a(0), projector_rows=a(0),
                  visual=a(visual), text=a(text), output=a(output))


def by_name(ops) -> dict:
    return {o.name.split("/")[-1]: o for o in ops}


def f(x) -> float:
    return float(np.asarray(x).reshape(-1)[0])


def test_prefill_terms_by_hand():
    """b=1, s=3, h=8, H=2, G=1, d=4, I=16, V=10, 2 bytes everywhere."""
    ops = by_name(lv.prefill_ops(TINY, pts(3), P2, flash=False))
    q, k = ops["q"], ops["k"]
    assert (f(q.flops), f(q.weight_bytes), f(q.act_read_bytes), f(q.act_write_bytes)) == (384, 128, 48, 48)
    assert (f(k.flops), f(k.act_write_bytes), f(k.kv_write_bytes)) == (192, 0, 24)  # out 8*1/2 = 4
    qk = ops["qk_matmul"]  # full 3x3 square; Q and K both counted as cache reads
    assert (f(qk.flops), f(qk.act_read_bytes), f(qk.act_write_bytes), f(qk.kv_read_bytes)) == (144, 0, 36, 48)
    sv = ops["sv_matmul"]
    assert (f(sv.flops), f(sv.act_read_bytes), f(sv.act_write_bytes), f(sv.kv_read_bytes)) == (
        144, 36, 48, 24)
    assert (f(ops["softmax"].flops), f(ops["softmax"].act_read_bytes)) == (90, 36)
    assert (f(ops["attn_norm"].flops), f(ops["attn_norm"].weight_bytes)) == (168, 0)
    assert (f(ops["mlp_add"].flops), f(ops["mlp_add"].act_read_bytes)) == (24, 48)
    act = ops["mlp_act"]  # sized by hidden (8), not the MLP size (16)
    assert (f(act.flops), f(act.act_read_bytes), f(act.act_write_bytes)) == (48, 96, 48)
    head = ops["lm_head"]  # multiply-accumulates, one row
    assert (f(head.flops), f(head.weight_bytes), f(head.act_read_bytes), f(head.act_write_bytes)) == (
        80, 160, 16, 20)
    assert head.count == 1 and q.count == 2
    assert all(f(o.vector_flops) == 0 for o in ops.values())


def test_decode_and_flash_terms_by_hand():
    dec = by_name(lv.decode_ops(TINY, pts(3, batch=2), 2.0, P2, flash=False))  # k = 3 + 2 keys
    qk = dec["qk_matmul"]
    assert (f(qk.flops), f(qk.act_read_bytes), f(qk.act_write_bytes), f(qk.kv_read_bytes)) == (
        160, 32, 40, 80)
    assert f(dec["lm_head"].act_read_bytes) == 16  # not scaled by the batch
    assert f(dec["lm_head"].flops) == 2 * 8 * 10
    fused = by_name(lv.prefill_ops(TINY, pts(3), P2, flash=True))["fused_attention"]
    assert f(fused.flops) == 144 + 144 + 90
    # reads Q (3*4*2 heads*2 B) and ceil(3/4)=1 block x K over all H heads; writes 2 x the scores
    assert (f(fused.act_read_bytes), f(fused.act_write_bytes), f(fused.kv_read_bytes)) == (48, 72, 48)
    big = by_name(lv.prefill_ops(TINY, pts(9), P2, flash=True))["fused_attention"]
    assert f(big.kv_read_bytes) == 3 * 9 * 4 * 2 * 2  # ceil(9/4) = 3 row blocks


def test_memory_by_hand():
    weights, kv, act = lv.memory_bytes(TINY, pts(3), P2, flash=False)
    per_layer = (64 + 32 + 32 + 64 + 128 + 128 + 128) * 2
    assert f(weights) == 2 * per_layer  # no embedding, lm_head or norms
    assert f(kv) == 2 * 2 * 24  # 2 layers x (k + v) prompt writes
    outs = 48 + 0 + 0 + 48 + 3 * 16 * 2 * 2 + 48 + 36 + 36 + 48 + 48 * 4 + 48
    assert f(act) == outs  # one layer's prefill outputs


def test_bare_roofline_per_op(gpu):
    """time = max(OPs / peak, bytes / bandwidth), no efficiencies or launch overhead."""
    r = lv.bare_rates([gpu], (DType.fp16,) * 3)
    assert f(r.matmul_flops_per_s) == 300e12 and f(r.launch_s) == 0
    assert f(lv.bare_rates([gpu], (DType.int8,) * 3).matmul_flops_per_s) == 600e12
    assert f(lv.bare_rates([gpu], (DType.int8, DType.fp16, DType.int8)).matmul_flops_per_s) == 300e12
    e = estimate(TINY, gpu, visual_tokens=0, text_tokens=3, output_tokens=1, act_dtype="fp16",
                 flash_attention=True, convention="llm-viewer")
    ops = lv.prefill_ops(TINY, pts(0, 3), P2, flash=True)
    want = sum(o.count * max(f(o.flops) / 300e12, f(o.bytes) / 2000e9) for o in ops)
    assert e.stages["prefill"].latency_s == pytest.approx(want, rel=1e-12)
    assert e.stages["vision"].flops == 0 and e.stages["projector"].flops == 0


def test_generate_task_equivalence(gpu):
    """Output N under llm-viewer = LLM-Viewer's analyze_generate_task(prompt s, gen_len N-1):
    prefill(s) + sum over i = s .. s+N-2 of decode(i), here summed step by step."""
    n, s = 7, 5
    e = estimate(TINY, gpu, visual_tokens=0, text_tokens=s, output_tokens=n, act_dtype="fp16",
                 flash_attention=False, convention="llm-viewer")
    total = e.stages["prefill"].latency_s
    for j in range(n - 1):
        for o in lv.decode_ops(TINY, pts(0, s), float(j), P2, flash=False):
            total += o.count * max(f(o.flops) / 300e12, f(o.bytes) / 2000e9)
    assert e.e2e_latency_s == pytest.approx(total, rel=1e-12)


def test_differs_from_costmodel_in_the_documented_terms():
    """LLaVA-1.5-7B LLM, 576 + 64 prompt tokens, batch 1, eager attention."""
    m, p = LLAVA15_7B, P2
    x = pts(576, 64)
    cm = by_name(prefill_ops(m, x, p, flash=False, all_logits=False))
    vw = by_name(lv.prefill_ops(m, x, p, flash=False))
    s, h, i = 640.0, 4096, 11008
    for n in ("q", "k", "v", "o", "gate", "up", "down"):  # linears: identical FLOPs
        assert f(vw[n].flops) == f(cm[n].flops)
    assert f(vw["lm_head"].flops) == f(cm["lm_head"].flops) / 2  # MACs, not 2 x MACs
    assert f(vw["qk_matmul"].flops) == f(cm["qk"].flops)  # eager: both the full square
    flash_cm = by_name(prefill_ops(m, x, p, flash=True, all_logits=False))["flash"]
    full, useful = s * s, s * s - s * (s - 1) / 2
    assert f(vw["qk_matmul"].flops) * 2 == pytest.approx(f(flash_cm.matmul_flops) * full / useful)
    assert f(vw["mlp_act"].flops) == 2 * s * h  # costmodel: 5 x s x I
    assert f(cm["act"].flops) == 5 * s * i
    assert f(vw["attn_norm"].flops) == 7 * s * h and f(cm["attn_norm"].flops) == 4 * s * h
    assert "embed" in cm and "embed" not in vw and "rope" in cm and "rope" not in vw


def test_decode_context_is_prompt_plus_step():
    m = LLAVA15_7B
    cm = by_name(decode_ops(m, pts(576, 64), 0.0, P2, flash=False))
    vw = by_name(lv.decode_ops(m, pts(576, 64), 0.0, P2, flash=False))
    assert f(vw["qk_matmul"].flops) / f(cm["qk"].flops) == pytest.approx(640 / 641)


def test_attention_kernel_default_follows_the_convention(gpu):
    """LLM-Viewer's analyze() defaults to use_flashattention=False; costmodel to FlashAttention.
    An explicit choice wins under either convention."""
    def flash(**kw):
        return prepare(LLAVA15_7B, [gpu], Workload(**kw)).options.flash

    assert flash() and not flash(convention="llm-viewer")
    assert flash(convention="llm-viewer", flash_attention=True)
    assert not flash(flash_attention=False)


def test_quantised_weights_are_bits_over_eight():
    """LLM-Viewer's w_byte = w_bit / 8: no int4 group scales, no dequantisation work."""
    w = Workload(convention="llm-viewer", act_dtype="fp16", weight_dtype="int4")
    assert convention("llm-viewer").precision(w, IDEAL) == Precision(0.5, 2.0, 2.0, 0.0)
    cm = convention("costmodel").precision(Workload(act_dtype="fp16", weight_dtype="int4"),
                                           IDEAL)
    assert cm.weight_bytes_per_element > 0.5 and cm.dequant_flops > 0


def test_convention_refuses_serial_all_logits_and_gpus(gpu):
    for kw in ({"overlap": "serial"}, {"logits": "all"}, {"parallel": {"tp": 2}},
               {"engine": "vllm"}):
        with pytest.raises(CostmodelError, match="llm-viewer"):
            estimate(LLAVA15_7B, gpu, Workload(convention="llm-viewer", **kw))
    with pytest.raises(CostmodelError, match="convention: 'nope' is not one of"):
        estimate(LLAVA15_7B, gpu, Workload(convention="nope"))


def test_profiles_carry_llm_viewer_figures():
    h100 = load_hardware("llm-viewer-h100")
    assert h100.memory_bytes_per_s == 3072e9 and h100.peak_flops_per_s(DType.fp16) == 1979e12 / 2
    a100 = load_hardware("llm-viewer-a100-80gb")
    assert a100.memory_bytes_per_s == 2039e9 and a100.peak_flops_per_s(DType.fp16) == 312e12
    assert all("LLM-Viewer" in v for v in a100.source_file.sources.values())


def test_estimate_points_match(gpu):
    w = Workload(visual_tokens=576, text_tokens=64, convention="llm-viewer", act_dtype="fp16")
    prep = prepare(LLAVA15_7B, [gpu], w)
    assert f(prep.points.prompt) == 640 and prep.precision.act_bytes_per_element == 2.0
