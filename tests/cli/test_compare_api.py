"""`costmodel compare ... --format json|csv` and the Python API `costmodel.compare(...)` give
the same rows for the same workload, byte for byte (`records()` through the CLI's JSON and CSV
writers), in the same ranked order; a one-device comparison is `costmodel.estimate`; a bad
argument is the CLI's one line."""

from __future__ import annotations

import pandas as pd
import pytest

import costmodel
from costmodel.cli.options import as_option
from costmodel.cli.output import dumps
from tests.helpers import api_call, cli_is_records, refused_alike, run

KEEP = costmodel.Compression(where="projector", keep_ratio=0.25)
HW3 = ["a100-80gb", "h100-sxm", "jetson-agx-orin-64gb"]
CASES = [  # (CLI arguments after `compare`, costmodel.compare's arguments after the model)
    ("llava-1.5-7b", {}),
    ("llava-1.5-7b --engine vllm,trtllm,ideal", {"engine": ["vllm", "trtllm", "ideal"]}),
    ("llava-1.5-7b -H a100-80gb,h100-sxm,jetson-agx-orin-64gb --rank-by ttft",
     {"hardware": HW3, "rank_by": "ttft"}),
    ("llava-1.5-7b --tp 2", {"parallel": {"tp": 2}}),
    ("llava-1.5-7b --keep 0.25", {"compression": KEEP}),
    ("llava-1.5-7b -H a100-80gb,l4 --dtype fp16 --batch 8 --rank-by throughput",
     {"hardware": ["a100-80gb", "l4"], "act_dtype": "fp16", "batch": 8,
      "rank_by": "throughput"}),
    ("llava-1.5-7b -H jetson-agx-orin-64gb,jetson-orin-nx-16gb --power-mode 15W --rank-by "
     "energy", {"hardware": ["jetson-agx-orin-64gb", "jetson-orin-nx-16gb"],
                "power_mode": "15W", "rank_by": "energy"}),
    ("qwen2.5-vl-7b -H a100-80gb,h100-sxm --video-frames 16 --engine vllm,ideal --rank-by tpot",
     {"hardware": ["a100-80gb", "h100-sxm"], "video_frames": 16, "engine": ["vllm", "ideal"],
      "rank_by": "tpot"}),
    ("llava-1.5-7b -H a100-80gb,v100 --set memory_bandwidth_GBps=x1.5 --engine vllm,ideal",
     {"hardware": [costmodel.load_hardware(h, sets=["memory_bandwidth_GBps=x1.5"])
                   for h in ("a100-80gb", "v100")], "engine": ["vllm", "ideal"]}),
]


@pytest.mark.parametrize(("args", "fields"), CASES, ids=[a for a, _ in CASES])
def test_json_and_csv_are_the_apis(args, fields):
    cmp = api_call("compare", args, fields)
    read = cli_is_records("compare", args, cmp.records())  # whole byte counts come back ints
    pd.testing.assert_frame_equal(read, cmp.frame(), check_dtype=False, check_exact=True)


def test_ranked_best_first_unfit_last():
    """rank 1, 2, ... in order of the metric, throughput highest first; a device the model
    does not fit ranks after every one it fits, however fast."""
    hw = ["a100-80gb", "l4", "h100-sxm", "jetson-orin-nano-8gb"]
    by_e2e = costmodel.compare("llava-1.5-7b", hw).records()
    assert [r["rank"] for r in by_e2e] == [1, 2, 3, 4]
    assert by_e2e[-1]["hardware"] == "jetson-orin-nano-8gb" and not by_e2e[-1]["fits"]
    fit = [r["e2e_latency_s"] for r in by_e2e if r["fits"]]
    assert fit == sorted(fit) and fit[0] < fit[-1]
    tput = costmodel.compare("llava-1.5-7b", hw, rank_by="throughput", batch=8).records()
    rates = [r["tokens_per_s"] for r in tput if r["fits"]]
    assert rates == sorted(rates, reverse=True) and rates[0] > rates[-1]
    assert not tput[-1]["fits"]


def test_one_device_is_estimate():
    """A device on its own ranks as `estimate` prices it (bf16 on an A100: the auto dtype is
    the Workload's default), on the engine given and with what-if changes."""
    hw = costmodel.load_hardware("a100-80gb", sets=["memory_bandwidth_GBps=x1.5"])
    for engine in (None, "vllm"):
        (rec,) = costmodel.compare("llava-1.5-7b", hw, engine=engine, batch=4).records()
        est = costmodel.estimate("llava-1.5-7b", hw, batch=4,
                                 **({"engine": engine} if engine else {}))
        assert rec["ttft_s"] == pytest.approx(est.ttft_s, abs=1e-12, rel=1e-12)
        assert rec["e2e_latency_s"] == pytest.approx(est.e2e_latency_s, abs=1e-12, rel=1e-12)
        assert rec["engine"] == est.prepared.engine.id and rec["math_dtype"] == "bf16"
        assert rec["hardware"] == "a100-80gb*" and "memory_bandwidth_GBps" in \
            rec["hardware_changes"]


def test_auto_dtype_unless_given():
    """Without act_dtype each device computes in bf16 where it has it, else fp16 (V100), as
    the CLI without --dtype; act_dtype given (a keyword or a Workload's field) is used."""
    auto = costmodel.compare("llava-1.5-7b", ["a100-80gb", "v100"]).records()
    assert {r["hardware"]: r["math_dtype"] for r in auto} == {"a100-80gb": "bf16",
                                                               "v100": "fp16"}
    w = costmodel.Workload(act_dtype="fp16")
    for given in (costmodel.compare("llava-1.5-7b", ["a100-80gb", "v100"], act_dtype="fp16"),
                  costmodel.compare("llava-1.5-7b", ["a100-80gb", "v100"], w)):
        assert {r["math_dtype"] for r in given.records()} == {"fp16"}


def test_repr_is_one_line():
    cmp = costmodel.compare("llava-1.5-7b", ["a100-80gb", "h100-sxm"], engine=["vllm", "ideal"])
    text = repr(cmp)
    assert "\n" not in text and text.startswith("<DeviceComparison llava-1.5-7b, 4 (device, ")
    assert "best h100-sxm on ideal: e2e" in text


@pytest.mark.parametrize(("cli", "fields"), [
    ("-H nosuch", {"hardware": "nosuch"}),
    ("-H a100-80gb --power-mode 30W", {"hardware": "a100-80gb", "power_mode": "30W"}),
    ("--keep 1000", {"compression": costmodel.Compression(where="projector",
                                                          keep_tokens=1000)}),
    ("--engine vllm,vllm", {"engine": ["vllm", "vllm"]}),
])
def test_refusals_are_the_clis_line(cli, fields, capsys):
    """The same checks, done once (analysis/device_ranking.py and below): the same line, the
    argument named as Python spells it (as estimate's), the CLI's option where it is one."""
    msg = refused_alike("compare", cli, fields, capsys)
    assert msg.split(":")[0] in ("hardware", "engine", "--power-mode", "--keep")


@pytest.mark.parametrize(("fields", "said"), [
    ({"rank_by": "speed"}, "rank_by: 'speed' is not one of e2e, ttft, tpot, throughput"),
    ({"engine": []}, "engine: an empty list"),
    ({"engine": [3]}, "engine: got int in the list"),
    ({"hardware": []}, "hardware: an empty list"),
    ({"hardware": ["l4", "l4"]}, "hardware: l4 appears twice; give each device once"),
    ({"tp": 2}, "tp: not a Workload field; from Python use parallel={'tp': 2}"),
    ({"dtype": "fp16"}, "dtype: not a Workload field; from Python use act_dtype='bf16'"),
])
def test_python_arguments_refused_in_one_line(fields, said):
    with pytest.raises(costmodel.CostmodelError) as e:
        costmodel.compare("llava-1.5-7b", **fields)
    assert str(e.value).startswith(said) and "\n" not in str(e.value), str(e.value)


def test_an_engine_the_workload_refuses_is_left_out_with_a_warning(capsys):
    """LLM-Viewer's convention prices only the bound: vllm in a list is left out, warned with
    the line `compare --engine vllm` alone refuses with, and kept in `refused`; the rows are
    the CLI's; every engine refusing raises the first one's line."""
    args = ["compare", "llava-1.5-7b", "-H", "a100-80gb", "--convention", "llm-viewer"]
    code, _, alone = run(args + ["--engine", "vllm"], capsys)
    assert code == 2
    with pytest.warns(UserWarning) as said:
        cmp = costmodel.compare("llava-1.5-7b", "a100-80gb", convention="llm-viewer",
                                engine=["vllm", "ideal"])
    why = cmp.refused["vllm"]
    assert alone == f"error: {as_option(why)}\n" and list(cmp.refused) == ["vllm"]
    assert [str(w.message) for w in said] == [f"not ranked on vllm: {why}"]
    assert [r["engine"] for r in cmp.records()] == ["ideal"]
    code, out, _ = run(args + ["--engine", "vllm,ideal", "-f", "json"], capsys)
    assert code == 0 and out == dumps(cmp.records()) + "\n"
    with pytest.raises(costmodel.CostmodelError) as e:
        costmodel.compare("llava-1.5-7b", "a100-80gb", convention="llm-viewer",
                          engine=["vllm", "trtllm"])
    assert alone == f"error: {as_option(str(e.value))}\n"


def test_missing_devices_are_the_clis_not_ranked_line(capsys):
    """missing(): the devices one engine ranks that another leaves out, as the table's last
    line names them (the default list drops LLM-Viewer's datasheet copies on vllm, not on
    ideal); {} with one engine."""
    cmp = costmodel.compare("llava-1.5-7b", engine=["vllm", "ideal"])
    gaps = cmp.missing()
    ranked = {e: {r["hardware"] for r in cmp.records() if r["engine"] == e} for e in gaps}
    assert list(gaps) == ["vllm"] and gaps["vllm"] and not ranked["vllm"] & set(gaps["vllm"])
    assert set(gaps["vllm"]) <= {r["hardware"] for r in cmp.records() if r["engine"] == "ideal"}
    code, out, _ = run(["compare", "llava-1.5-7b", "--engine", "vllm,ideal"], capsys)
    assert code == 0 and out.rstrip().splitlines()[-1].startswith(
        f"not ranked on vllm: {', '.join(gaps['vllm'])} (datasheet peaks only")
    assert costmodel.compare("llava-1.5-7b", ["a100-80gb", "h100-sxm"]).missing() == {}
