"""Estimate.stage_frame() and estimate's JSON say what holds each stage (bound_by), as
compare's `<stage>_bound_by` columns do for the same device and engine (docs/python-api.md:
bound_by is what holds an operator or a stage)."""

from __future__ import annotations

import json

import pytest

import costmodel as cm
from tests.helpers import run


@pytest.mark.parametrize("engine", ["hf-eager", "vllm", "ideal"])
def test_stage_bound_by_is_compares(engine, capsys):
    code, out, err = run(["compare", "llava-1.5-7b", "-H", "a100-80gb,l4", "--engine", engine,
                          "-f", "json"], capsys)
    assert code == 0, err
    for rec in json.loads(out):
        est = cm.estimate("llava-1.5-7b", rec["hardware"], engine=engine)
        frame = est.stage_frame()
        for s in ("vision", "projector", "prefill", "decode"):
            assert frame.loc[s, "bound_by"] == rec[f"{s}_bound_by"]
            assert est.to_dict()["stages"][s]["bound_by"] == rec[f"{s}_bound_by"]
        assert frame.loc["decode", "compute_share"] == est.stages["decode"].compute_share


def test_the_bound_at_batch_1_decode_is_memory():
    est = cm.estimate("llava-1.5-7b", "a100-80gb", engine="ideal")
    assert est.stages["decode"].bound_by == "memory"
    assert est.stages["prefill"].bound_by == "compute"
