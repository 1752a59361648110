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
