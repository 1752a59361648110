"""Multi-stage LLM schedules: hand-computed points, KV cache and FLOPs; the paper formulas and
'average tokens'; properties (more kept never costs less, one stage equals FastV)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel.analysis.estimate import estimate
from costmodel.core.compression.formulas import (
    PAPER_FORMULAS,
    paper_flops_ratio,
    visual_token_counts,
)
from costmodel.errors import CostmodelError
from costmodel.specs.compression import Compression, CompressionPlan
from costmodel.specs.workload import Workload
from tests.helpers import LLAVA15_7B

PDROP = ((0, 576), (8, 288), (16, 144), (24, 72))
W = Workload(visual_tokens=576, text_tokens=64, output_tokens=16)


def _est(gpu, comp, w=W):
    return estimate(LLAVA15_7B, gpu, w.model_copy(update={"compression": comp}))


def _flops(est, suffix):
    return sum(float(np.ravel(c.flops)[0]) for c in est.evaluation.op_costs
               if c.op.stage == "prefill" and c.op.name.endswith(suffix))


def test_schedule_layers_see_their_tokens(gpu):
    """Layers 0-7 keep 576 + 64, 8-15 288 + 64, 16-23 144 + 64, 24-31 72 + 64 prompt tokens."""
    est = _est(gpu, Compression(where="llm_layer", schedule=PDROP, overhead=False))
    prompts = [640, 352, 208, 136]
    assert _flops(est, "/attn/q") == pytest.approx(
        sum(2 * 8 * p * 4096 * 4096 for p in prompts), rel=1e-12)
    out = 16
    kv = 2 * 4096 * sum(8 * (p + out - 1) for p in prompts) * 2.0
    assert est.memory.kv_cache_bytes == pytest.approx(kv, rel=1e-12)
    names = {c.op.name for c in est.evaluation.op_costs if c.op.stage == "prefill"}
    assert {"llm/L0-7/attn/q", "llm/L8-15/attn/q", "llm/L24-31/attn/q"} <= names


def test_ratio_schedule_equals_counts(gpu):
    ratios = ((8, 0.5), (16, 0.25), (24, 0.125))
    a = _est(gpu, Compression(where="llm_layer", schedule=ratios))
    b = _est(gpu, Compression(where="llm_layer", schedule=PDROP[1:]))
    assert a.stages == b.stages and a.memory == b.memory


def test_pyramiddrop_preset_is_the_schedule(gpu):
    """--method pyramiddrop: stages at L/4, L/2, 3L/4 each keeping lambda = 0.5 of the last."""
    a = _est(gpu, Compression(where="llm_layer", method="pyramiddrop"))
    b = _est(gpu, Compression(where="llm_layer", method="pyramiddrop", schedule=PDROP))
    assert a.stages == b.stages
    ops = [c.op.name for c in a.evaluation.op_costs if c.op.name.startswith("compress/")]
    assert ops == ["compress/pyramiddrop_scores@L8", "compress/pyramiddrop_scores@L16",
                   "compress/pyramiddrop_scores@L24"]


def test_average_tokens_and_paper_ratios_by_hand(gpu):
    comp = Compression(where="llm_layer", schedule=PDROP)
    pts = _est(gpu, comp).prepared.points
    assert float(np.ravel(visual_token_counts(LLAVA15_7B, pts, comp)[1])[0]) == 270.0
    d, m = 4096, 11008

    def ratio(f):
        return sum(8 * f(64 + v) for v in (576, 288, 144, 72)) / (32 * f(640))

    expect = {
        "FastV": ratio(lambda n: 4 * n * d**2 + 2 * n**2 * d + 2 * n * d * m),
        "PyramidDrop": ratio(lambda n: 4 * n * d**2 + 2 * n**2 * d + 3 * n * d * m),
        "Dynamic-LLaVA": ratio(lambda n: 32 * n * d**2 + 4 * n**2 * d),
    }
    for f in PAPER_FORMULAS:
        got = float(np.ravel(paper_flops_ratio(f, LLAVA15_7B, pts, comp))[0])
        assert got == pytest.approx(expect[f.name], rel=1e-12)


def test_dynamic_llava_prefill_reduction_as_published():
    """Dynamic-LLaVA (arXiv 2412.00876) reports ~75% less prefill computation, keeping 20% of
    576 image tokens (115, dynamic_llava issue #4) after layer 2; its Eq. 13 over the image
    tokens alone (no text, as the authors count) gives 75.3%. With 40 text tokens it would be
    70.5%: the published figure counts the image tokens only."""
    f = next(f for f in PAPER_FORMULAS if f.name == "Dynamic-LLaVA")

    def per(n):
        return f.per_layer(np.asarray(float(n)), 4096, 11008)

    def cut(text):
        return 1 - (2 * per(576 + text) + 30 * per(115 + text)) / (32 * per(576 + text))

    assert round(100 * float(cut(0))) == 75
    assert round(100 * float(cut(40)), 1) == 70.5


def test_combined_plan_vit_then_schedule(gpu):
    """ToMe in the ViT leaves 300 visual tokens; the schedule's ratios apply to those."""
    vit = Compression(where="vit", keep_ratio=0.5, overhead=False)
    plan = CompressionPlan(stages=(Compression(where="llm_layer", schedule=((2, 0.5),),
                                               overhead=False), vit))
    est = _est(gpu, plan)
    only_vit = _est(gpu, vit)
    assert only_vit.plan.llm_tokens == 300 or est.stages["vision"] == only_vit.stages["vision"]
    assert _flops(est, "/attn/q") == pytest.approx(
        2 * 4096 * 4096 * (2 * (64 + 300) + 30 * (64 + 150)), rel=1e-12)


@pytest.mark.parametrize("fields, msg", [
    ({"schedule": ((8, 288), (4, 144))}, "increase"),
    ({"schedule": ((8, 288), (16, 0.5))}, "not a mix"),
    ({"schedule": ((8, 144), (16, 288))}, "must not increase"),
    ({"schedule": ((8, 0.5),), "layer": 2}, "not both"),
    ({"schedule": ()}, "at least one"),
])
def test_bad_schedule_names_the_field(fields, msg):
    with pytest.raises(ValueError, match=f"schedule: .*{msg}"):
        Compression(where="llm_layer", **fields)


def test_schedule_layer_beyond_the_llm(gpu):
    """The error names the schedule that holds the layer (it named compression.layer, which
    the CLI shows as --at, an option the user did not give)."""
    with pytest.raises(CostmodelError, match="^compression.schedule: layer 40 must be below"):
        _est(gpu, Compression(where="llm_layer", schedule=((40, 0.5),)))
    with pytest.raises(CostmodelError, match="^compression.layer: layer 40 must be below"):
        _est(gpu, Compression(where="llm_layer", layer=40, keep_ratio=0.5))


@settings(max_examples=15, deadline=None)
@given(k=st.integers(1, 31), r=st.floats(0.0, 1.0), text=st.integers(0, 80),
       method=st.sampled_from([None, "fastv", "sparsevlm"]))
def test_one_stage_schedule_equals_fastv(k, r, text, method):
    from costmodel import load_hardware

    hw = load_hardware("h100-sxm")
    w = Workload(visual_tokens=576, text_tokens=text, output_tokens=4)
    a = _est(hw, Compression(where="llm_layer", layer=k, keep_ratio=r, method=method), w)
    b = _est(hw, Compression(where="llm_layer", schedule=((k, r),), method=method), w)
    assert a.stages == b.stages and a.memory == b.memory and a.ttft_s == b.ttft_s


schedules = st.lists(st.integers(1, 31), min_size=1, max_size=4, unique=True).flatmap(
    lambda layers: st.tuples(st.just(sorted(layers)),
                             # counts >= 2: 0 and 1 read as ratios (specs/compression.py)
                             st.lists(st.integers(2, 576), min_size=len(layers),
                                      max_size=len(layers))))


@settings(max_examples=30, deadline=None)
@given(sched=schedules, extra=st.lists(st.integers(0, 100), min_size=4, max_size=4))
def test_keeping_more_never_costs_less(sched, extra):
    """Schedule B keeps >= schedule A at every layer: B costs at least A (FLOPs, KV cache,
    decode bytes; latency without the methods' own operators)."""
    from costmodel import load_hardware

    hw = load_hardware("h100-sxm")
    layers, counts = sched
    a_counts = sorted(counts, reverse=True)
    b_counts = [min(576, c + e) for c, e in zip(a_counts, extra, strict=False)]
    b_counts = [max(b_counts[i:]) for i in range(len(b_counts))]  # non-increasing again
    w = Workload(visual_tokens=576, text_tokens=32, output_tokens=8)
    for overhead in (True, False):
        a = _est(hw, Compression(where="llm_layer", schedule=tuple(zip(layers, a_counts,
                                 strict=True)), overhead=overhead), w)
        b = _est(hw, Compression(where="llm_layer", schedule=tuple(zip(layers, b_counts,
                                 strict=True)), overhead=overhead), w)
        for s in ("prefill", "decode"):
            assert a.stages[s].flops <= b.stages[s].flops * (1 + 1e-12)
        assert a.stages["decode"].bytes <= b.stages["decode"].bytes * (1 + 1e-12)
        assert a.memory.kv_cache_bytes <= b.memory.kv_cache_bytes
        if not overhead:  # the bound; the kernel model's tile choice is not monotone in rows
            assert a.bound.ttft_s <= b.bound.ttft_s * (1 + 1e-12)
            assert a.bound.tpot_s <= b.bound.tpot_s * (1 + 1e-12)
