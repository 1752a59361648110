"""`costmodel plan ... --format json|csv` and the Python API `costmodel.plan(...)` give the
same rows for the same workload and SLO, byte for byte (`records()` through the CLI's JSON and
CSV writers), in the same order; a device's largest batch is the one `costmodel.estimate`
prices within the SLO while the next batch is not; a bad argument is the CLI's one line (the
SLO's arguments spelled as each side names them)."""

from __future__ import annotations

import shlex

import numpy as np
import pandas as pd
import pytest

import costmodel
from tests.helpers import api_call, cli_is_records, refused_alike, run

KEEP = costmodel.Compression(where="projector", keep_ratio=0.25)
KV = costmodel.CompressionPlan(kv=costmodel.KVCompression(keep_ratio=0.25))
BW = ["memory_bandwidth_GBps=x1.5"]
AH = ["a100-80gb", "h100-sxm"]
CASES = [  # (CLI arguments after `plan`, costmodel.plan's arguments after the model)
    # the default list, searched to 64 (the largest batch meeting the SLO, 22, is below it)
    ("llava-1.5-7b --ttft 0.3 --tpot 0.05 --max-batch 64",
     {"ttft_s": 0.3, "tpot_s": 0.05, "max_batch": 64}),
    # two devices, not the default list, where the list is not what is tested (a plan over
    # every device searches 1..1024 on each: the default run's time)
    ("llava-1.5-7b -H a100-80gb,h100-sxm --ttft 0.3 --tpot 0.05 --tp 2",
     {"hardware": AH, "ttft_s": 0.3, "tpot_s": 0.05, "parallel": {"tp": 2}}),
    ("llava-1.5-7b -H a100-80gb,h100-sxm --tpot 0.02 --keep 0.25 --batch 8",
     {"hardware": AH, "tpot_s": 0.02, "compression": KEEP, "batch": 8}),
    ("llava-1.5-7b -H a100-80gb,jetson-agx-orin-64gb --ttft 0.5",
     {"hardware": ["a100-80gb", "jetson-agx-orin-64gb"], "ttft_s": 0.5}),
    ("llava-1.5-7b -H a100-80gb,h100-sxm --ttft 0.3 --dtype fp16 --max-batch 64 "
     "--set memory_bandwidth_GBps=x1.5",
     {"hardware": [costmodel.load_hardware(h, sets=BW) for h in ("a100-80gb", "h100-sxm")],
      "ttft_s": 0.3, "act_dtype": "fp16", "max_batch": 64}),
    ("qwen2.5-vl-7b -H h100-sxm,l4 --video-frames 16 --engine vllm --tpot 0.03",
     {"hardware": ["h100-sxm", "l4"], "video_frames": 16, "engine": "vllm", "tpot_s": 0.03}),
    ("llava-1.5-7b -H a100-80gb,v100 --kv-keep 0.25 --tpot 0.04",
     {"hardware": ["a100-80gb", "v100"], "compression": KV, "tpot_s": 0.04}),
    ("llava-1.5-7b -H h100-sxm --ttft 0.0001 --max-batch 8",
     {"hardware": "h100-sxm", "ttft_s": 0.0001, "max_batch": 8}),
]


@pytest.mark.parametrize(("args", "fields"), CASES, ids=[a for a, _ in CASES])
def test_json_and_csv_are_the_apis(args, fields):
    p = api_call("plan", args, fields)
    read = cli_is_records("plan", args, p.records())
    # an empty cell (None; inf: no scaling up to 1000x meets it) comes back as NaN
    frame = p.frame().fillna(np.nan).infer_objects().replace([np.inf], np.nan)
    pd.testing.assert_frame_equal(read, frame, check_dtype=False, check_exact=True)


def test_largest_batch_is_estimates_last_within_the_slo():
    """On its own a device's largest batch meets the SLO as `estimate` prices it (the same
    figures, what-if changes and engine included) and the next batch does not."""
    hw = costmodel.load_hardware("a100-80gb", sets=BW)
    slo = {"ttft_s": 0.3, "tpot_s": 0.05}
    for engine in (None, "vllm"):
        on = {"engine": engine} if engine else {}
        (rec,) = costmodel.plan("llava-1.5-7b", hw, **slo, **on).records()
        b = rec["largest_batch"]
        assert rec["met_at_batch_1"] and 1 < b < 1024 and rec["hardware"] == "a100-80gb*"
        est = costmodel.estimate("llava-1.5-7b", hw, batch=b, **on)
        assert rec["ttft_s_at_largest"] == pytest.approx(est.ttft_s, abs=1e-12, rel=1e-12)
        assert rec["tpot_s_at_largest"] == pytest.approx(est.tpot_s, abs=1e-12, rel=1e-12)
        assert rec["tokens_per_s_at_largest"] == pytest.approx(est.tokens_per_s, rel=1e-12)
        assert est.ttft_s <= slo["ttft_s"] and est.tpot_s <= slo["tpot_s"]
        nxt = costmodel.estimate("llava-1.5-7b", hw, batch=b + 1, **on)
        assert nxt.ttft_s > slo["ttft_s"] or nxt.tpot_s > slo["tpot_s"]
        assert rec["engine"] == est.prepared.engine.id


def test_auto_dtype_unless_given():
    """Without act_dtype a V100 (no bf16) computes in fp16, as the CLI without --dtype: the
    rows of act_dtype='fp16'; bf16 given (a Workload's field) is used, so refused there."""
    auto = costmodel.plan("llava-1.5-7b", "v100", tpot_s=0.05).records()
    fp16 = costmodel.plan("llava-1.5-7b", "v100", tpot_s=0.05, act_dtype="fp16").records()
    assert auto == fp16 and auto[0]["largest_batch"] > 0
    w = costmodel.Workload(act_dtype="bf16")
    with pytest.raises(costmodel.CostmodelError, match="v100 has no bf16 peak"):
        costmodel.plan("llava-1.5-7b", "v100", w, tpot_s=0.05)


def test_repr_is_one_line():
    p = costmodel.plan("llava-1.5-7b", ["a100-80gb", "h100-sxm", "jetson-agx-orin-64gb"],
                       ttft_s=0.3, tpot_s=0.05)
    text = repr(p)
    assert "\n" not in text and text.startswith(
        "<DevicePlan llava-1.5-7b, SLO TTFT <= 300 ms, TPOT <= 50 ms, batch searched 1..1024, "
        "3 devices on hf-eager | 2 meet it; largest batch ")
    assert "on h100-sxm" in text
    none = costmodel.plan("llava-1.5-7b", "h100-sxm", ttft_s=1e-4, max_batch=8)
    assert repr(none).endswith("1 device on hf-eager | none meets it>")


@pytest.mark.parametrize(("cli", "fields"), [
    ("-H nosuch --ttft 0.3", {"hardware": "nosuch", "ttft_s": 0.3}),
    ("-H l4,l4 --ttft 0.3", {"hardware": ["l4", "l4"], "ttft_s": 0.3}),
    ("--keep 1000 --ttft 0.3", {"compression": costmodel.Compression(
        where="projector", keep_tokens=1000), "ttft_s": 0.3}),
])
def test_refusals_are_the_clis_line(cli, fields, capsys):
    refused_alike("plan", cli, fields, capsys)


@pytest.mark.parametrize(("cli", "fields", "python"), [
    ("", {}, "ttft_s/tpot_s: give at least one SLO, e.g. ttft_s=0.3, tpot_s=0.05"),
    ("--ttft 0", {"ttft_s": 0.0}, "ttft_s: 0.0 is not a positive finite number of seconds, "
                                  "e.g. 0.3"),
    ("--tpot inf", {"tpot_s": float("inf")},
     "tpot_s: inf is not a positive finite number of seconds, e.g. 0.05"),
    ("--tpot 0.05 --output-tokens 1", {"tpot_s": 0.05, "output_tokens": 1},
     "tpot_s: with output_tokens=1 no token follows the first; give output_tokens=2 or more, "
     "or drop tpot_s"),
    ("--ttft 0.3 --pp 2 --microbatches 2 --batch 2",  # batch 1: the Workload refuses it
     {"ttft_s": 0.3, "parallel": {"pp": 2, "microbatches": 2}, "batch": 2},
     "parallel.microbatches: plan searches every batch 1..1024, and 2 microbatches do not "
     "divide them all; drop parallel.microbatches, or price that split with "
     "costmodel.batching(batch=...) (multiples of it)"),
])
def test_slo_refusals_spelled_as_each_side_names_them(cli, fields, python, capsys):
    """One check (analysis.planning.slo_of, refuse_split): the CLI's line names its options,
    the API's its keywords, word for word otherwise."""
    code, out, err = run(["plan", "llava-1.5-7b", "-H", "a100-80gb", *shlex.split(cli)], capsys)
    assert code == 2 and out == ""
    with pytest.raises(costmodel.CostmodelError) as e:
        costmodel.plan("llava-1.5-7b", "a100-80gb", **fields)
    assert str(e.value) == python
    spelled = (python.replace("ttft_s=0.3, tpot_s=0.05", "--ttft 0.3 --tpot 0.05")
               .replace("output_tokens=", "--output-tokens ").replace("ttft_s", "--ttft")
               .replace("tpot_s", "--tpot").replace("parallel.microbatches", "--microbatches")
               .replace("costmodel.batching(batch=...)", "batching --batch"))
    assert err == f"error: {spelled}\n"


@pytest.mark.parametrize(("fields", "said"), [
    ({"ttft_s": "0.3"}, "ttft_s: got str; give a number of seconds, e.g. 0.3"),
    ({"tpot_s": True}, "tpot_s: got bool; give a number of seconds, e.g. 0.05"),
    ({"ttft_s": 0.3, "max_batch": 0}, "max_batch: 0 is not a whole number in 1..65536"),
    ({"ttft_s": 0.3, "max_batch": 2.5}, "max_batch: 2.5 is not a whole number in 1..65536"),
    ({"ttft_s": 0.3, "max_batch": None}, "max_batch: None is not a whole number in 1..65536"),
    ({"ttft_s": 0.3, "hardware": []}, "hardware: an empty list"),
    ({"ttft_s": 0.3, "tp": 2}, "tp: not a Workload field; from Python use parallel={'tp': 2}"),
])
def test_python_arguments_refused_in_one_line(fields, said):
    with pytest.raises(costmodel.CostmodelError) as e:
        costmodel.plan("llava-1.5-7b", **fields)
    assert str(e.value).startswith(said) and "\n" not in str(e.value), str(e.value)
