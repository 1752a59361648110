"""The types and names of what the Python API and the CLI's JSON / CSV return, as a notebook
user reads them (docs/python-api.md, "Output names and types"): counts are ints (a real
average stays a float); one name per meaning (`total_memory_bytes`, the footprint, in every
view; `bound` the roofline-bound latencies, `bound_by` what holds an operator or a stage);
compare-compression's `keep` a number beside its text `keep_label`."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import numpy as np
import pytest

import costmodel
from costmodel.specs.workload import VisualPlan
from costmodel.sweep import sweep
from tests.helpers import run

OLD_NAMES = {"total_bytes", "per_gpu_bytes", "total_bytes_at_largest", "per_gpu_bytes_at_largest"}


def _keys(doc: Any) -> set[str]:
    """Every key of a JSON document, at any depth."""
    if isinstance(doc, dict):
        return set(doc) | {k for v in doc.values() for k in _keys(v)}
    if isinstance(doc, list):
        return {k for v in doc for k in _keys(v)}
    return set()


def _cli_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> Any:
    code, out, err = run([*args, "-f", "json"], capsys)
    assert code == 0, err
    return json.loads(out)


def test_counts_are_ints_in_the_estimate_and_its_json():
    """workload.visual_tokens was 576.0 and vision_crops 1.0 (floats from the evaluation's
    arrays); the plan's counts are ints too."""
    e = costmodel.estimate("llava-1.5-7b", "a100-80gb")
    w = e.to_dict()["workload"]
    assert type(w["visual_tokens"]) is int and w["visual_tokens"] == 576
    assert type(w["vision_crops"]) is int and w["vision_crops"] == 1
    assert '"visual_tokens": 576,' in json.dumps(e.to_dict())
    p = e.plan
    assert (p.crops, p.projector_rows, p.llm_tokens, p.grid_w) == (1, 576, 576, 0)
    assert all(type(x) is int for x in (p.crops, p.projector_rows, p.llm_tokens, p.grid_w))


def test_a_real_average_stays_a_float():
    """1000 visual tokens given to Qwen2-VL spread over 3 images: 4000 patches, 1333.3 a pass
    (seq_per_crop is a mean, not rounded); the counts stay whole ints. A fractional count is
    refused, not truncated."""
    e = costmodel.estimate("qwen2-vl-7b", "a100-80gb", visual_tokens=1000, images=3)
    assert e.plan.crops == 3 and e.plan.projector_rows == 4000 and e.plan.llm_tokens == 1000
    assert e.plan.seq_per_crop == pytest.approx(4000 / 3) and type(e.plan.seq_per_crop) is float
    with pytest.raises(ValueError, match="fractional"):
        VisualPlan(crops=1.5, seq_per_crop=1, projector_rows=1, llm_tokens=1)


def test_bound_by_is_what_holds_an_operator_bound_the_latencies(capsys):
    """The op frame's `bound` ('compute'/'memory') beside to_dict()['bound'] (latencies):
    the frame, --per-op JSON and CSV now say bound_by."""
    e = costmodel.estimate("llava-1.5-7b", "a100-80gb")
    ops = e.to_frame()
    assert "bound_by" in ops and "bound" not in ops
    assert set(ops.bound_by) <= {"compute", "memory", "comm", "host"}
    assert set(e.to_dict()["bound"]) == {"stages", "ttft_s", "tpot_s", "e2e_latency_s"}
    doc = _cli_json(["estimate", "llava-1.5-7b", "-H", "a100-80gb", "--per-op"], capsys)
    assert "bound_by" in doc["ops"][0] and "bound" not in doc["ops"][0]
    assert doc["bound"]["ttft_s"] == e.bound.ttft_s  # the documented key, unchanged
    code, out, _ = run(["estimate", "llava-1.5-7b", "-H", "a100-80gb", "--per-op", "-f", "csv"],
                       capsys)
    assert code == 0 and "bound_by" in next(csv.reader(io.StringIO(out)))
    rec = _cli_json(["compare", "llava-1.5-7b", "-H", "a100-80gb"], capsys)[0]
    assert {f"{s}_bound_by" for s in e.stages} <= set(rec) and "decode_bound" not in rec


def test_one_name_for_the_memory_footprint(capsys):
    """Weights + KV cache + activations was memory.total_bytes in estimate's JSON and
    compare / batching / plan, total_memory_bytes in sweep and compare-compression; now
    total_memory_bytes everywhere (per GPU: per_gpu_total_memory_bytes), the same value."""
    e = costmodel.estimate("llava-1.5-7b", "a100-80gb")
    total = e.memory.total_memory_bytes
    assert e.memory.per_gpu_total_memory_bytes == total  # one GPU
    assert e.to_dict()["memory"]["total_memory_bytes"] == total
    assert not OLD_NAMES & _keys(e.to_dict())
    df = sweep("llava-1.5-7b", "a100-80gb", visual_tokens=[576])
    assert (df.total_memory_bytes == total).all()
    rows = costmodel.compare_compression("llava-1.5-7b", "a100-80gb", keep=0.5).savings()
    assert [r["baseline"] for r in rows if r["metric"] == "total_memory_bytes"] == [total]
    base = ["llava-1.5-7b", "-H", "a100-80gb"]
    docs = {c: _cli_json([c, *base, *extra], capsys) for c, extra in (
        ("compare", []), ("batching", ["--batch", "1"]), ("plan", ["--ttft", "100"]))}
    for doc in docs.values():
        assert not OLD_NAMES & _keys(doc)
    assert docs["compare"][0]["total_memory_bytes"] == pytest.approx(total, rel=1e-12)
    assert docs["batching"][0]["per_gpu_total_memory_bytes"] == pytest.approx(total, rel=1e-12)
    assert "total_memory_bytes_at_largest" in docs["plan"][0]


def test_compare_compression_counts_and_keep():
    """visual_tokens was 576.0 in the frame and the paper formulas; `keep` was text. The
    average over the LLM's layers of a schedule is a real fraction and stays a float."""
    cmp = costmodel.compare_compression("llava-1.5-7b", "a100-80gb", keep=[0.25, 0.5])
    frame = cmp.frame()
    assert frame.visual_tokens.dtype == np.int64 and frame.keep.dtype == np.float64
    assert list(frame.keep.unique()) == [0.25, 0.5]
    assert all(type(r["visual_tokens"]) is int for s in cmp.to_dict()["scenarios"]
               for r in s["paper_formulas"])
    sched = costmodel.compare_compression("llava-1.5-7b", "a100-80gb", schedule="0:576,5:100")
    avg = sched.to_dict()["paper_formulas"][0]["average_visual_tokens"]
    assert avg == pytest.approx((5 * 576 + 27 * 100) / 32) and avg != int(avg)
