"""`costmodel energy ... --format json|csv` and the Python API `costmodel.energy(...)` give the
same rows for the same workload, byte for byte (`records()` through the CLI's JSON and CSV
writers), in the same order; a device's joules are its power x the stage latencies
`costmodel.estimate` prices, worked by hand; a bad argument is the CLI's one line."""

from __future__ import annotations

import shlex

import numpy as np
import pandas as pd
import pytest

import costmodel
from costmodel.cli.options import as_option
from costmodel.core.evaluate import STAGES
from tests.helpers import api_call, cli_is_records, refused_alike, run

KEEP = costmodel.Compression(where="projector", keep_ratio=0.25)
KV = costmodel.CompressionPlan(kv=costmodel.KVCompression(keep_ratio=0.25))
BW = ["memory_bandwidth_GBps=x1.5"]
JETSONS = ["jetson-agx-orin-64gb", "jetson-orin-nx-16gb"]
CASES = [  # (CLI arguments after `energy`, costmodel.energy's arguments after the model)
    ("llava-1.5-7b", {}),
    ("llava-1.5-7b --tp 2 --keep 0.25", {"parallel": {"tp": 2}, "compression": KEEP}),
    ("llava-1.5-7b -H jetson-agx-orin-64gb,jetson-orin-nx-16gb --power-mode 15W",
     {"hardware": JETSONS, "power_mode": "15W"}),
    ("llava-1.5-7b -H a100-80gb,h100-sxm --dtype fp16 --batch 8 "
     "--set memory_bandwidth_GBps=x1.5",
     {"hardware": [costmodel.load_hardware(h, sets=BW) for h in ("a100-80gb", "h100-sxm")],
      "act_dtype": "fp16", "batch": 8}),
    ("qwen2.5-vl-7b -H h100-sxm,l4 --video-frames 16 --engine vllm --kv-keep 0.25",
     {"hardware": ["h100-sxm", "l4"], "video_frames": 16, "engine": "vllm",
      "compression": KV}),
    ("llava-1.5-7b -H a100-80gb,llm-viewer-a100 --engine ideal",  # the second: no tdp_W
     {"hardware": ["a100-80gb", "llm-viewer-a100"], "engine": "ideal"}),
]


@pytest.mark.parametrize(("args", "fields"), CASES, ids=[a for a, _ in CASES])
def test_json_and_csv_are_the_apis(args, fields):
    en = api_call("energy", args, fields)
    read = cli_is_records("energy", args, en.records())
    # a device without a power figure: NaN in the records, an empty cell in the CSV
    pd.testing.assert_frame_equal(read, en.frame(), check_dtype=False, check_exact=True)


def test_joules_are_power_times_estimates_latencies():
    """By hand for one device: per request = GPUs x power x each stage's latency (the whole
    batch's, as estimate prices it) / batch; per output token = that / output tokens."""
    hw = costmodel.load_hardware("a100-80gb", sets=BW)
    fields = {"batch": 8, "parallel": {"tp": 2}, "engine": "vllm"}
    (rec,) = costmodel.energy("llava-1.5-7b", hw, **fields).records()
    est = costmodel.estimate("llava-1.5-7b", hw, **fields)
    assert rec["power_W"] == 400.0 and rec["gpus"] == 2 and rec["power_source"] == "TDP"
    for s in STAGES:
        assert rec[f"{s}_J"] == pytest.approx(2 * 400.0 * est.stages[s].latency_s / 8,
                                              rel=1e-12)
    total = 2 * 400.0 * sum(est.stages[s].latency_s for s in STAGES) / 8
    assert total > 0 and rec["per_request_J"] == pytest.approx(total, rel=1e-12)
    assert rec["per_output_token_J"] == pytest.approx(total / 128, rel=1e-12)
    assert rec["engine"] == "vllm" and rec["hardware"] == "a100-80gb*"


def test_power_mode_and_missing_power():
    """A power mode prices at its budget; a device with no power figure is its row's NaN."""
    (rec,) = costmodel.energy("llava-1.5-7b", "jetson-agx-orin-64gb",
                              power_mode="30W").records()
    (tdp,) = costmodel.energy("llava-1.5-7b", "jetson-agx-orin-64gb").records()
    assert rec["power_W"] == 30.0 and rec["power_source"] == "power mode 30W"
    assert rec["per_request_J"] == pytest.approx(tdp["per_request_J"] * 30.0 / tdp["power_W"],
                                                 rel=1e-12)
    rows = costmodel.energy("llava-1.5-7b", ["a100-80gb", "llm-viewer-a100"],
                            engine="ideal").records()
    assert np.isfinite(rows[0]["per_request_J"])
    assert all(np.isnan(rows[1][k]) for k in ("power_W", "per_request_J", "decode_J"))


def test_auto_dtype_unless_given():
    """Without act_dtype a V100 (no bf16) computes in fp16, as the CLI without --dtype."""
    auto = costmodel.energy("llava-1.5-7b", "v100").records()
    assert auto == costmodel.energy("llava-1.5-7b", "v100", act_dtype="fp16").records()
    with pytest.raises(costmodel.CostmodelError, match="v100 has no bf16 peak"):
        costmodel.energy("llava-1.5-7b", "v100", costmodel.Workload(act_dtype="bf16"))


def test_repr_is_one_line():
    text = repr(costmodel.energy("llava-1.5-7b", ["a100-80gb", "h100-sxm"]))
    assert text == ("<EnergyEstimate llava-1.5-7b, 2 devices on hf-eager at TDP | least per "
                    "request: a100-80gb 1.45 kJ (11.3 J per output token)>")
    gap = repr(costmodel.energy("llava-1.5-7b", ["a100-80gb", "llm-viewer-a100"],
                                engine="ideal", power_mode=None))
    assert "\n" not in gap and gap.endswith("on ideal at TDP | least per request: a100-80gb "
                                            "351 J (2.74 J per output token) | 1 without a "
                                            "power figure>")


@pytest.mark.parametrize(("cli", "fields"), [
    ("-H nosuch", {"hardware": "nosuch"}),
    ("-H l4,l4", {"hardware": ["l4", "l4"]}),
    ("--power-mode 999W", {"power_mode": "999W"}),
    ("-H jetson-agx-orin-64gb --power-mode 999W",
     {"hardware": "jetson-agx-orin-64gb", "power_mode": "999W"}),
    ("--keep 1000", {"compression": costmodel.Compression(where="projector",
                                                          keep_tokens=1000)}),
])
def test_refusals_are_the_clis_line(cli, fields, capsys):
    refused_alike("energy", cli, fields, capsys)


@pytest.mark.parametrize(("cli", "hardware"), [
    ("-H a100-80gb --set tdp_W=null",
     [costmodel.load_hardware("a100-80gb", sets=["tdp_W=null"])]),
    ("-H a100-80gb,l4 --set tdp_W=null",
     [costmodel.load_hardware(h, sets=["tdp_W=null"]) for h in ("a100-80gb", "l4")]),
    ("-H llm-viewer-a100", ["llm-viewer-a100"]),
])
def test_no_power_figure_refused_as_each_side_supplies_one(cli, hardware, capsys):
    """One check (analysis/device_energy.refuse_no_power), before any work: the same line,
    the way to give a figure spelled as each side gives it (--set, load_hardware's sets)."""
    code, out, err = run(["energy", "llava-1.5-7b", *shlex.split(cli)], capsys)
    assert code == 2 and out == ""
    with pytest.raises(costmodel.CostmodelError) as e:
        costmodel.energy("llava-1.5-7b", hardware)
    said = str(e.value)
    assert said.startswith("hardware: ") and " no power figure (tdp_W); " in said
    assert said.endswith("or load_hardware(ID, sets=['tdp_W=WATTS'])")
    spelled = as_option(said).replace("load_hardware(ID, sets=['tdp_W=WATTS'])",
                                      "--set tdp_W=WATTS")
    assert err == f"error: {spelled}\n"


@pytest.mark.parametrize(("fields", "said"), [
    ({"power_mode": 30}, "power_mode: got int; give a mode's name such as '30W'"),
    ({"engine": ["vllm"]}, "engine: got list; give an id such as 'vllm' or a YAML path"),
    ({"hardware": []}, "hardware: an empty list"),
    ({"tp": 2}, "tp: not a Workload field; from Python use parallel={'tp': 2}"),
])
def test_python_arguments_refused_in_one_line(fields, said):
    with pytest.raises(costmodel.CostmodelError) as e:
        costmodel.energy("llava-1.5-7b", **fields)
    assert str(e.value).startswith(said) and "\n" not in str(e.value), str(e.value)


def test_a_device_the_model_does_not_fit_is_said(capsys):
    """energy priced LLaVA-1.5-7B (14.6 GB) on the 8 GB Orin Nano at 688 J/request with no
    word that it does not fit (compare, plan, batching and capacity all say so): a `fits`
    field in its records and a line under the table."""
    args = ["energy", "llava-1.5-7b", "-H", "jetson-orin-nano-8gb,jetson-orin-nx-16gb"]
    code, out, _ = run(args, capsys)
    assert code == 0 and ("\ndoes not fit: jetson-orin-nano-8gb (14.6 GB of 8 GB); the joules "
                          "are of a run the device cannot hold\n") in out
    assert "jetson-orin-nx-16gb (" not in out  # 14.6 GB of 16 GB fits
    rows = costmodel.energy("llava-1.5-7b", args[3].split(",")).records()
    assert [r["fits"] for r in rows] == [False, True]
    code, out, _ = run(["energy", "llava-1.5-7b", "-H", "h100-sxm"], capsys)
    assert "does not fit" not in out
