"""compare-compression's frame says how many visual tokens enter the LLM under each scenario
(llm_visual_tokens) beside the request's and the per-layer mean, so a notebook can plot TTFT
against the tokens kept without recomputing floor(r x N)."""

from __future__ import annotations

import pytest

import costmodel as cm


@pytest.mark.parametrize("kwargs, entering, average", [
    ({"keep": 0.5}, 288, 288.0),
    ({"keep": 0.11}, 63, 63.0),  # floor(0.11 x 576) = 63
    ({"keep": 64}, 64, 64.0),
    # FastV-style at layer 2: all 576 enter; 2 layers of 576 and 30 of 288 -> 306 on average
    ({"keep": 0.5, "at": "llm-layer:2"}, 576, (2 * 576 + 30 * 288) / 32),
    ({"kv_keep": 0.5}, 576, 576.0),  # the KV cache only: every visual token enters
])
def test_tokens_entering_the_llm(kwargs, entering, average):
    f = cm.compare_compression("llava-1.5-7b", "a100-80gb", **kwargs).frame()
    assert set(f["visual_tokens"]) == {576}
    assert set(f["llm_visual_tokens"]) == {entering}
    assert f["average_visual_tokens"].iloc[0] == pytest.approx(average, rel=1e-12)


def test_one_row_per_scenario_of_a_curve():
    f = cm.compare_compression("llava-1.5-7b", "a100-80gb", keep=[0.5, 0.25]).frame()
    got = f.groupby("keep")["llm_visual_tokens"].unique().to_dict()
    assert {k: list(v) for k, v in got.items()} == {0.25: [144], 0.5: [288]}


@pytest.mark.parametrize("kwargs, comp", [
    ({"keep": 0.25}, cm.Compression(where="projector", keep_ratio=0.25)),
    ({"keep": 0.11}, cm.Compression(where="projector", keep_ratio=0.11)),
    ({"keep": 0.5, "at": "llm-layer:2"}, cm.Compression(where="llm_layer", layer=2,
                                                        keep_ratio=0.5)),
    ({"keep": 0.5, "at": "vit"}, cm.Compression(where="vit", keep_ratio=0.5)),
    ({"kv_keep": 0.5}, cm.CompressionPlan(kv=cm.KVCompression(keep_ratio=0.5))),
])
def test_an_estimate_says_the_tokens_entering_the_llm(kwargs, comp):
    """An Estimate under a compression said only the request's 576 (plan.llm_tokens): a
    notebook plotting TTFT against the tokens kept had to recompute floor(r x N). Its
    llm_visual_tokens and average_visual_tokens are compare_compression's columns."""
    f = cm.compare_compression("llava-1.5-7b", "a100-80gb", **kwargs).frame()
    e = cm.estimate("llava-1.5-7b", "a100-80gb", compression=comp)
    assert e.plan.llm_tokens == 576
    assert e.llm_visual_tokens == f["llm_visual_tokens"].iloc[0]
    assert isinstance(e.llm_visual_tokens, int)
    assert e.average_visual_tokens == f["average_visual_tokens"].iloc[0]


def test_without_compression_every_visual_token_enters():
    e = cm.estimate("qwen2.5-vl-7b", "a100-80gb", image_size=(1280, 720), batch=4)
    assert e.llm_visual_tokens == e.plan.llm_tokens == 1196
    assert e.average_visual_tokens == 1196.0
