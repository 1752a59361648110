"""`costmodel compare-compression ... --format json|csv` and the Python API
`costmodel.compare_compression(...)` give the same documents for the same scenarios, byte for
byte (`to_dict()` through the CLI's JSON writer, `records()` through its CSV writer) and as a
DataFrame (`frame()` equal to the CSV read back); a bad argument is the CLI's one line."""

from __future__ import annotations

import io
import json
import shlex

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import costmodel
from costmodel.calibration.csvfile import exact_floats
from costmodel.cli import app
from costmodel.cli.output import dumps, records_csv
from tests.helpers import run

runner = CliRunner()
CASES = [  # (CLI arguments after the model and -H, compare_compression's keyword arguments)
    ("llava-1.5-7b -H a100-80gb --keep 0.1", {"keep": 0.1}),
    ("llava-1.5-7b -H a100-80gb --keep 0.1,0.25,0.5 --engine ideal",
     {"keep": [0.1, 0.25, 0.5], "engine": "ideal"}),
    ("llava-1.5-7b -H a100-80gb --keep 64,144 --batch 4 --engine vllm",
     {"keep": np.array([64, 144]), "batch": 4, "engine": "vllm"}),
    ("llava-1.5-7b -H h100-sxm --method fastv --keep 0.5 --at llm-layer:2",
     {"method": "fastv", "keep": "0.5", "at": "llm-layer:2"}),
    ("llava-1.5-7b -H a100-80gb --keep 0.25 --kv-keep 128 --kv-policy sink_window:rolling",
     {"keep": 0.25, "kv_keep": 128, "kv_policy": "sink_window:rolling"}),
    ("llava-1.5-7b -H a100-80gb --kv-keep 0.5 --kv-policy retrieval_heads:0.2 --tp 2",
     {"kv_keep": 0.5, "kv_policy": "retrieval_heads:0.2", "parallel": {"tp": 2}}),
    ("llava-1.5-7b -H a100-80gb --schedule 0:576,8:288,16:144,24:72",
     {"schedule": [(0, 576), (8, 288), (16, 144), (24, 72)]}),
    ("qwen2.5-vl-7b -H h100-sxm --video-frames 16 --method tempmerge:0.5 --keep 0.5,0.25",
     {"video_frames": 16, "method": "tempmerge:0.5", "keep": [0.5, 0.25]}),
    ("llava-1.5-7b -H a100-80gb --method cluster --keep 64 --cluster-iters 5 --no-overhead",
     {"method": "cluster", "keep": 64, "cluster_iters": 5, "overhead": False}),
]


def _cli(args: str, fmt: str) -> str:
    res = runner.invoke(app, ["compare-compression", *shlex.split(args), "--format", fmt])
    assert res.exit_code == 0, res.output
    return res.stdout


def _api(args: str, fields: dict) -> costmodel.CompressionComparison:
    words = shlex.split(args)
    return costmodel.compare_compression(words[0], words[words.index("-H") + 1], **fields)


@pytest.mark.parametrize(("args", "fields"), CASES, ids=[a for a, _ in CASES])
def test_json_and_csv_are_the_apis(args, fields):
    cmp = _api(args, fields)
    text = _cli(args, "json")
    assert text == dumps(cmp.to_dict()) + "\n"
    assert json.loads(text) == json.loads(dumps(cmp.to_dict()))
    csv = _cli(args, "csv")
    assert csv == records_csv(cmp.records())
    labels = {"keep_label": str} if "keep_label" in cmp.frame() else None  # "0.50" stays text
    read = pd.read_csv(io.StringIO(csv), dtype=labels, **exact_floats())
    pd.testing.assert_frame_equal(read, cmp.frame(), check_exact=True)


def test_one_scenario_and_several_shapes():
    """One keep: the one-scenario document; a list: `scenarios`, one per value in the order
    given. Either way the frame has, after `compression`, `keep`, a number (a count an int, a
    ratio a float: a column to plot against), and `keep_label`, the text as given, so frames
    of separate runs concatenate; no keep given (a KV-cache policy alone): neither column."""
    one = costmodel.compare_compression("llava-1.5-7b", "a100-80gb", keep=0.1)
    assert one.keeps == ("0.1",) and "scenarios" not in one.to_dict()
    assert len(one.frame()) == len(one.savings())
    assert set(one.frame().keep) == {0.1} and set(one.frame().keep_label) == {"0.1"}
    kv = costmodel.compare_compression("llava-1.5-7b", "a100-80gb", kv_keep=0.5)
    assert "keep" not in kv.frame() and "keep_label" not in kv.frame()
    several = costmodel.compare_compression("llava-1.5-7b", "a100-80gb", keep=[64, 0.5])
    doc = several.to_dict()
    assert [s["compression"] for s in doc["scenarios"]] == ["select@projector keep 64",
                                                           "select@projector keep 0.5"]
    cols = list(several.frame().columns)
    assert cols[cols.index("compression") + 1: cols.index("compression") + 3] == [
        "keep", "keep_label"]
    frame = several.frame()
    assert frame.keep.dtype == np.float64 and list(frame.keep.unique()) == [64.0, 0.5]
    assert list(frame.keep_label.unique()) == ["64", "0.5"]
    rec = several.records()
    assert {(type(r["keep"]), r["keep_label"]) for r in rec} == {(int, "64"), (float, "0.5")}
    counts = costmodel.compare_compression("llava-1.5-7b", "a100-80gb", keep=[64, 144]).frame()
    assert counts.keep.dtype == np.int64 and counts.visual_tokens.dtype == np.int64
    assert repr(several).startswith("<CompressionComparison llava-1.5-7b on a100-80gb")
    assert "\n" not in repr(several)


@pytest.mark.parametrize(("cli", "fields"), [
    ("--keep 0.1,0.1", {"keep": [0.1, 0.1]}),
    ("--keep 1000", {"keep": 1000}),
    ("--kv-policy pyramid", {"kv_policy": "pyramid"}),
    ("--keep 0.5 --at nowhere", {"keep": 0.5, "at": "nowhere"}),
    ("", {}),
])
def test_refusals_are_the_clis_line(cli, fields, capsys):
    """The same checks, done once (analysis/compression_options.py): the same line."""
    code, out, err = run(["compare-compression", "llava-1.5-7b", "-H", "a100-80gb",
                          *shlex.split(cli)], capsys)
    assert code == 2 and out == ""
    with pytest.raises(costmodel.CostmodelError) as e:
        costmodel.compare_compression("llava-1.5-7b", "a100-80gb", **fields)
    assert err == f"error: {e.value}\n"


@pytest.mark.parametrize(("fields", "said"), [
    ({"keep": True}, "keep: got bool; give a ratio 0..1 or a count"),
    ({"keep": []}, "keep: an empty list"),
    ({"keep": 0.5, "at": 2}, "at: got int; give text, e.g. 'llm-layer:2'"),
    ({"keep": 0.5, "cluster_iters": 0, "method": "cluster"}, "cluster_iters: 0 is not a whole"),
    ({"schedule": [(0, 576, 1)]}, "schedule: got list; give '0:576,8:288' or [(0, 576)"),
    ({"keep": 0.5, "compression": None}, "compression: compare_compression builds"),
    ({"keep": 0.5, "tp": 2}, "tp: not a Workload field; from Python use parallel={'tp': 2}"),
    ({"keep": 0.5, "overhead": "no"}, "overhead: got str; give True or False"),
])
def test_python_arguments_refused_in_one_line(fields, said):
    with pytest.raises(costmodel.CostmodelError) as e:
        costmodel.compare_compression("llava-1.5-7b", "a100-80gb", **fields)
    assert str(e.value).startswith(said) and "\n" not in str(e.value), str(e.value)


@pytest.mark.parametrize(("fields", "said"), [
    ({"keep_ratio": 0.5}, "keep_ratio: not a compare_compression keyword; use keep=0.5"),
    ({"keep_tokens": 64}, "keep_tokens: not a compare_compression keyword; use keep=64"),
    ({"keep": 0.5, "where": "encoder"}, "where: not a compare_compression keyword; use "
                                        "at='encoder'"),
    ({"keep": 0.5, "layer": 2}, "layer: not a compare_compression keyword; use "
                                "at='llm-layer:2'"),
    ({"kv_keep": 0.5, "policy": "pyramid"}, "policy: not a compare_compression keyword; use "
                                            "kv_policy='pyramid'"),
])
def test_a_compression_field_name_points_to_the_keyword(fields, said):
    """Compression's and KVCompression's field names (keep_ratio=, where=, layer=, policy=)
    were read as Workload fields ('where: not a Workload field; the fields are batch, ...') or,
    with keep= missing, as no keep at all ('--keep: give the visual tokens kept')."""
    with pytest.raises(costmodel.CostmodelError) as e:
        costmodel.compare_compression("llava-1.5-7b", "a100-80gb", **fields)
    assert str(e.value).startswith(said) and "\n" not in str(e.value), str(e.value)


def test_a_workload_with_a_compression_refused():
    w = costmodel.Workload(compression=costmodel.Compression(where="projector", keep_ratio=0.5))
    with pytest.raises(costmodel.CostmodelError, match="^compression: "):
        costmodel.compare_compression("llava-1.5-7b", "a100-80gb", w, keep=0.1)


def test_loaded_specs_and_a_what_if_device_equal_the_cli():
    """A ModelSpec and a HardwareProfile as loaded (`--set` is load_hardware(..., sets=...))."""
    spec = costmodel.load_model("llava-1.5-7b")
    hw = costmodel.load_hardware("a100-80gb", sets=["memory_bandwidth_GBps=x1.5"])
    cmp = costmodel.compare_compression(spec, hw, keep="0.25,64", method="visionzip")
    args = ("llava-1.5-7b -H a100-80gb --set memory_bandwidth_GBps=x1.5 --keep 0.25,64 "
            "--method visionzip")
    assert _cli(args, "csv") == records_csv(cmp.records())
