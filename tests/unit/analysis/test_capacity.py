"""Serving capacity (analysis.plan.capacity) by hand on the round-number device."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.analysis.estimate import estimate
from costmodel.analysis.plan import Slo, capacity
from costmodel.specs.compression import Compression
from costmodel.specs.workload import Workload
from tests.helpers import LLAVA15_7B


def test_capacity_matches_estimates(gpu):
    w = Workload(visual_tokens=576, text_tokens=64, output_tokens=128,
                 compression=Compression(where="projector", keep_ratio=0.1))
    res = capacity(LLAVA15_7B, [gpu], w, Slo(ttft_s=1.0, tpot_s=0.05), max_batch=512)
    for name, c in res.items():
        ww = w if name == "compressed" else w.model_copy(update={"compression": None})
        b = int(c.max_fit[0])
        assert estimate(LLAVA15_7B, gpu, ww.model_copy(update={"batch": b})).memory.fits
        assert not estimate(LLAVA15_7B, gpu, ww.model_copy(update={"batch": b + 1})).memory.fits
        e = estimate(LLAVA15_7B, gpu, ww.model_copy(update={"batch": b}))
        assert c.decode_tokens_per_s[0] == pytest.approx(b / e.tpot_s, rel=1e-9)
        # max load: in flight, weights + every request's KV cache + one request's activations
        load = int(c.max_load_batch[0])
        one = estimate(LLAVA15_7B, gpu, ww.model_copy(update={"batch": 1})).memory
        held = [estimate(LLAVA15_7B, gpu, ww.model_copy(update={"batch": n})).memory
                for n in (load, load + 1)]
        assert [m.weights_bytes + m.kv_cache_bytes + one.activation_bytes <= m.capacity_bytes
                for m in held] == [True, False]
        assert load >= b  # a static batch also holds the whole batch's prefill activations
        at_load = estimate(LLAVA15_7B, gpu, ww.model_copy(update={"batch": load}))
        assert c.output_tokens_per_s[0] == pytest.approx(load * 128 / at_load.e2e_latency_s,
                                                         rel=1e-9)
        s = int(c.slo_batch[0])
        ok = estimate(LLAVA15_7B, gpu, ww.model_copy(update={"batch": s}))
        assert ok.ttft_s <= 1.0 and ok.tpot_s <= 0.05
        rates = [bb / estimate(LLAVA15_7B, gpu, ww.model_copy(update={"batch": bb})).e2e_latency_s
                 for bb in range(max(1, s - 3), s + 1)]
        assert c.requests_per_s[0] >= max(rates) * (1 - 1e-9)
        best = int(c.best_batch[0])  # the batch whose rate, TTFT and TPOT are reported
        at = estimate(LLAVA15_7B, gpu, ww.model_copy(update={"batch": best}))
        assert 1 <= best <= s
        assert c.requests_per_s[0] == pytest.approx(best / at.e2e_latency_s, rel=1e-9)
        assert (c.ttft_s[0], c.tpot_s[0]) == pytest.approx((at.ttft_s, at.tpot_s), rel=1e-9)
    assert res["compressed"].max_fit[0] > res["baseline"].max_fit[0]


def test_capacity_none_when_slo_unmet(gpu):
    res = capacity(LLAVA15_7B, [gpu], Workload(visual_tokens=576), Slo(tpot_s=1e-6),
                   max_batch=4)
    c = res["baseline"]
    assert c.slo_batch[0] == 0 and c.requests_per_s[0] == 0 and np.isnan(c.ttft_s[0])
    assert np.isnan(c.best_batch[0])
    assert "compressed" not in res
