"""The operators are held across evaluations that differ only in the device (core/evaluate.py,
`_ops`): a device change reuses them, anything they depend on builds them afresh, the numbers
equal a fresh build's, and the cache is bounded."""

from __future__ import annotations

import numpy as np

from costmodel.analysis.prepare import prepare
from costmodel.core import evaluate as ev
from costmodel.loading.load import load_hardware, load_model
from costmodel.specs.compression import Compression
from costmodel.specs.workload import Workload

SPEC = load_model("llava-1.5-7b")


def _prep(hw: str, **fields):
    return prepare(SPEC, [load_hardware(hw)], Workload(visual_tokens=576, **fields))


def test_a_device_change_reuses_the_operators_and_gives_a_fresh_builds_numbers():
    a, b = _prep("h100-sxm"), _prep("a10")
    assert ev._ops(SPEC, b.points, b) is ev._ops(SPEC, a.points, a)
    held = ev.evaluate(SPEC, b)
    ev._held_ops.cache_clear()
    fresh = ev.evaluate(SPEC, b)
    for s in ev.STAGES:
        assert np.array_equal(held.stages[s].latency_s, fresh.stages[s].latency_s)
        assert np.array_equal(held.bound.stage_latency_s[s], fresh.bound.stage_latency_s[s])


def test_what_the_operators_depend_on_builds_them_afresh():
    base = _prep("h100-sxm")
    others = [_prep("h100-sxm", batch=2), _prep("h100-sxm", weight_dtype="int8"),
              _prep("h100-sxm", compression=Compression(where="projector", keep_ratio=0.5)),
              _prep("h100-sxm", flash_attention=False)]
    first = ev._ops(SPEC, base.points, base)
    for p in others:
        assert ev._ops(SPEC, p.points, p) is not first
    two = prepare(SPEC, [load_hardware("h100-sxm"), load_hardware("a10")],
                  Workload(visual_tokens=576))
    assert ev._ops(SPEC, two.points, two).like.shape == (2, 1)  # the result's shape counts
    other_spec = load_model("llava-1.5-13b")
    assert ev._ops(other_spec, base.points, base) is not first


def test_the_cache_is_bounded():
    assert ev._held_ops.cache_info().maxsize == 16
    for batch in range(1, 40):
        p = _prep("h100-sxm", batch=batch)
        ev._ops(SPEC, p.points, p)
    assert ev._held_ops.cache_info().currsize <= 16


def test_a_large_grid_is_not_held():
    """A sweep's chunks (50,000 points each) were held, ~14 KB of operators a point: a 1M-point
    sweep of llava-1.5-7b passed 23 GB and was killed. Grids above HELD_POINTS build afresh."""
    def prep(n: int):
        return prepare(SPEC, [load_hardware("h100-sxm")], Workload(visual_tokens=576),
                       columns={"visual_tokens": np.arange(n, dtype=float) % 2048,
                                "batch": np.ones(n)})

    small, large = prep(ev.HELD_POINTS), prep(ev.HELD_POINTS + 1)
    assert ev._ops(SPEC, small.points, small) is ev._ops(SPEC, small.points, small)
    assert ev._ops(SPEC, large.points, large) is not ev._ops(SPEC, large.points, large)
