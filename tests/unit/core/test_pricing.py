"""Pricing operators in stacks (core/pricing.py) is an optimisation only: every operator's
numbers are bit for bit the ones it gets priced alone (static_cost / decode_cost per
operator), over the bundled kinds of device (kernel model, efficiency curves, neither),
curves over intensity and GEMM width, engines, tensor parallelism, several devices at once,
and what-if rates that vary along the points (priced one operator at a time)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from costmodel.analysis.prepare import prepare
from costmodel.core import evaluate as ev
from costmodel.core import pricing
from costmodel.loading.load import load_hardware, load_model
from costmodel.specs.compression import Compression
from costmodel.specs.workload import Parallelism, Workload

FASTV = Compression(where="llm_layer", layer=2, keep_ratio=0.1)


def _keyed(name: str):
    """A bundled device with curves over arithmetic intensity and GEMM width added."""
    hw = load_hardware(name)
    return hw.model_copy(update={
        "intensity_curves": {"linear": ((1.0, 100.0, 1000.0), (0.3, 0.6, 0.9))},
        "width_curves": {"linear_memory": ((256.0, 4096.0), (0.5, 0.9))}})


CASES = {
    "kernel-model": ("llava-1.5-7b", ["h100-sxm"], {}),
    "vllm-fastv": ("llava-1.5-7b", ["a100-80gb"], {"engine": "vllm", "compression": FASTV}),
    "curves-serial": ("qwen2-vl-2b", ["a100-80gb-vidur"], {"overlap": "serial"}),
    "no-figures-tp2": ("qwen2.5-vl-7b", ["l4"], {"parallel": Parallelism(tp=2)}),
    "keyed-curves": ("internvl3-2b", [_keyed("a100-80gb-vidur")], {}),
    "three-devices": ("gemma-3-4b", ["h100-sxm", "a100-80gb-vidur", "a10"], {"batch": 4}),
    "moe": ("qwen3-30b-a3b", ["h200"], {"compression": Compression(where="projector",
                                                                  keep_ratio=0.25)}),
}


def _prepared(case: str, scale: object = 1.0):
    model, devices, fields = CASES[case]
    spec = load_model(model)
    hws = [load_hardware(h) if isinstance(h, str) else h for h in devices]
    w = Workload(visual_tokens=576, output_tokens=64, **fields)
    tokens = np.array([0.0, 96.0, 576.0, 1440.0])
    prep = prepare(spec, hws, w, columns={"visual_tokens": tokens}, bandwidth_scale=scale)
    return spec, prep, ev._ops(ev.shard_spec(spec, w.parallel.tp), prep.points, prep)


def _same(a: pricing.OpCost, b: pricing.OpCost, like: np.ndarray) -> None:
    assert a.op is b.op
    for f in dataclasses.fields(pricing.OpCost):
        if f.name != "op":
            x, y = (np.broadcast_to(getattr(c, f.name), like.shape) for c in (a, b))
            assert np.array_equal(x, y), (a.op.name, f.name)


@pytest.mark.parametrize("case", list(CASES))
def test_stacked_prices_equal_one_operator_at_a_time(case):
    _, prep, ops = _prepared(case)
    flat = [op for v in ops.pre.values() for op in v]
    assert len(ops.pre_stack.groups) < len(flat)  # the stack does group operators
    n = ops.pts.output - 1.0
    for rates in (prep.rates, prep.bound_rates):
        for op, c in zip(flat, pricing.price_static(ops.pre_stack, rates, "roofline"),
                         strict=True):
            _same(c, pricing.static_cost(op, rates, "roofline"), ops.like)
        overlap = prep.options.overlap
        got = pricing.price_decode(ops.dec_stack, rates, overlap, n, ops.span)
        for a, b, c in zip(ops.dec_a, ops.dec_b, got, strict=True):
            _same(c, pricing.decode_cost(a, b, rates, overlap, n, ops.span), ops.like)


def test_rates_that_vary_along_the_points_are_priced_one_operator_at_a_time():
    """A what-if scale per point ([1, K] rates) cannot share a call; the numbers are still
    the per-operator ones, and equal the stacked ones where the scale is 1."""
    spec, prep, ops = _prepared("kernel-model", scale=np.array([1.0, 1.0, 1.0, 1.0]))
    _, col, _ = _prepared("kernel-model")
    assert not pricing._columns_only(prep.rates)
    one = ev.evaluate(spec, prep)
    stacked = ev.evaluate(spec, col)
    for s in ev.STAGES:
        assert np.array_equal(one.stages[s].latency_s, stacked.stages[s].latency_s)
    assert np.array_equal(one.tpot_s, stacked.tpot_s)


def test_operators_with_fields_off_the_points_are_priced_alone():
    _, prep, ops = _prepared("kernel-model")
    odd = dataclasses.replace(ops.dec_a[0], weight_bytes=np.arange(8.0).reshape(2, 4) * 1e6)
    st = pricing.stack([odd, *ops.dec_a[1:]], 4, rows=1)
    assert st.a is None and not st.groups
    got = pricing.price_static(st, prep.rates, "roofline")
    for op, c in zip([odd, *ops.dec_a[1:]], got, strict=True):
        _same(c, pricing.static_cost(op, prep.rates, "roofline"), np.zeros((2, 4)))
