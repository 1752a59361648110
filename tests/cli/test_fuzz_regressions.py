"""Bugs found by fuzzing the workload commands (estimate, sweep, compare, plan, batching, energy,
compare-compression, capacity) with random option combinations: each test is one reproducer."""

from __future__ import annotations

import json
import math

import pytest

from tests.helpers import run

BASE = ["llava-1.5-7b", "-H", "a100-80gb"]


def _numbers(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _numbers(v)
    elif isinstance(obj, float):
        yield obj


def _json(args, capsys):
    code, out, err = run(args + ["-f", "json"], capsys)
    assert code == 0, err
    return json.loads(out)


@pytest.mark.parametrize("comp", [["--keep", "0"], ["--keep", "0", "--method", "cluster"],
                                  ["--keep", "0", "--method", "merge"]])
def test_keeping_no_visual_token_gives_finite_latencies(comp, capsys):
    """--keep 0 made the method's own selection a GEMM with k = 0, priced NaN on every engine
    with measured kernels (expected TTFT and end-to-end 'nan')."""
    est = _json(["estimate", *BASE, *comp], capsys)
    assert all(math.isfinite(x) for x in _numbers(est))
    assert est["ttft_s"] > 0 and est["stages"]["projector"]["latency_s"] > 0
