"""Property tests: more tokens or a larger batch never costs less."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel.analysis.estimate import estimate
from tests.helpers import LLAVA15_7B, my_gpu

GPU = my_gpu()
tokens = st.integers(min_value=0, max_value=3000)


@settings(max_examples=40, deadline=None)
@given(a=tokens, b=tokens, batch=st.integers(1, 16), flash=st.booleans())
def test_monotone_in_visual_tokens(a, b, batch, flash):
    lo, hi = sorted((a, b))
    x = estimate(LLAVA15_7B, GPU, visual_tokens=lo, batch=batch, flash_attention=flash)
    y = estimate(LLAVA15_7B, GPU, visual_tokens=hi, batch=batch, flash_attention=flash)
    for s in ("vision", "projector", "prefill", "decode"):
        assert y.stages[s].flops >= x.stages[s].flops
        assert y.stages[s].bytes >= x.stages[s].bytes
        assert y.stages[s].latency_s >= x.stages[s].latency_s
    assert y.ttft_s >= x.ttft_s and y.tpot_s >= x.tpot_s
    assert y.memory.kv_cache_bytes >= x.memory.kv_cache_bytes


@settings(max_examples=30, deadline=None)
@given(v=tokens, b1=st.integers(1, 64), b2=st.integers(1, 64), out=st.integers(1, 300))
def test_monotone_in_batch_and_throughput_sane(v, b1, b2, out):
    lo, hi = sorted((b1, b2))
    x = estimate(LLAVA15_7B, GPU, visual_tokens=v, batch=lo, output_tokens=out)
    y = estimate(LLAVA15_7B, GPU, visual_tokens=v, batch=hi, output_tokens=out)
    assert y.e2e_latency_s >= x.e2e_latency_s
    assert y.memory.total_memory_bytes >= x.memory.total_memory_bytes
    # Batching amortises weight reads: throughput does not fall.
    assert y.tokens_per_s >= x.tokens_per_s * (1 - 1e-12)


@settings(max_examples=30, deadline=None)
@given(v=tokens, out=st.integers(2, 500))
def test_useful_flops_never_exceed_executed(v, out):
    e = estimate(LLAVA15_7B, GPU, visual_tokens=v, output_tokens=out, flash_attention=False)
    for s in e.stages.values():
        assert s.useful_flops <= s.flops
