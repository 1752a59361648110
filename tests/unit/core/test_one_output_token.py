"""One output token: no decode step runs, so the engine's per-step host time is not paid
(end-to-end = TTFT); TPOT is still one decode step's latency, its step overhead included
(methodology: decode += step_overhead * steps)."""

from __future__ import annotations

import pytest

import costmodel


@pytest.mark.parametrize("engine", ["hf-eager", "vllm", "trtllm", "ideal"])
def test_one_output_token_pays_no_decode_step(engine):
    one = costmodel.estimate("llava-1.5-7b", "a100-80gb", engine=engine, output_tokens=1)
    two = costmodel.estimate("llava-1.5-7b", "a100-80gb", engine=engine, output_tokens=2)
    assert one.stages["decode"].latency_s == 0.0
    assert one.e2e_latency_s == pytest.approx(one.ttft_s, rel=1e-12)
    # the one step two output tokens run, as what a next token would take (its KV one longer)
    assert one.tpot_s == pytest.approx(two.tpot_s, rel=1e-3)
    assert two.e2e_latency_s == pytest.approx(two.ttft_s + two.tpot_s, rel=1e-9)
