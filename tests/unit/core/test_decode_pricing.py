"""Pricing a step-independent decode operator once (core/evaluate.py, `_same_op`) is an
optimisation only: the same numbers as pricing it at the first and at the last step."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from costmodel.analysis.prepare import prepare
from costmodel.core import evaluate as ev
from costmodel.loading.load import load_hardware, load_model
from costmodel.specs.compression import Compression
from costmodel.specs.workload import Workload

CASES = [("llava-1.5-7b", "h100-sxm", None, None),  # kernel model on h100-sxm
         ("llava-1.5-7b", "a100-80gb", "vllm",
          Compression(where="llm_layer", layer=2, keep_ratio=0.1)),
         ("qwen2-vl-2b", "l4", None, Compression(where="projector", keep_ratio=0.25))]


def _ops(model: str, hw: str, engine: str | None, comp: Compression | None):
    spec = load_model(model)
    w = Workload(visual_tokens=576, batch=2, output_tokens=64, engine=engine, compression=comp)
    prep = prepare(spec, [load_hardware(hw)], w)
    return prep, ev._ops(spec, prep.points, prep)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}")
def test_only_attention_changes_with_the_decode_step(case):
    _, ops = _ops(*case)
    changing = [a.op_class for a, same in zip(ops.dec_a, ops.dec_same, strict=True) if not same]
    assert changing and set(changing) == {"attention"}
    assert sum(ops.dec_same) == len(ops.dec_a) - len(changing)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}")
def test_pricing_once_gives_the_same_numbers(case):
    prep, ops = _ops(*case)
    twice = dataclasses.replace(ops, dec_same=(False,) * len(ops.dec_a))
    for rates in (prep.rates, prep.bound_rates):
        a = ev._price(ops, prep.options.overlap, rates)
        b = ev._price(twice, prep.options.overlap, rates)
        for s in ev.STAGES:
            for f in dataclasses.fields(ev.StageTotals):
                assert np.array_equal(getattr(a.stages[s], f.name), getattr(b.stages[s], f.name))
        assert np.array_equal(a.tpot_s, b.tpot_s)


def test_a_changed_field_is_not_the_same_op():
    _, ops = _ops(*CASES[0])
    a = next(op for op, same in zip(ops.dec_a, ops.dec_same, strict=True) if same)
    assert ev._same_op(a, a)
    assert not ev._same_op(a, dataclasses.replace(a, weight_bytes=a.weight_bytes * 2.0))
    assert not ev._same_op(a, dataclasses.replace(a, count=a.count + 1))
    assert not ev._same_op(a, dataclasses.replace(a, weight_bytes=np.full((1, 2), 1.0)))
