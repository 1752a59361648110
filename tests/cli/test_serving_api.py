"""`costmodel batching|capacity ... --format json|csv` and the Python API
`costmodel.batching(...)` / `costmodel.capacity(...)` give the same rows for the same workload,
byte for byte (`records()` through the CLI's JSON and CSV writers), in the same order; a row is
`costmodel.estimate` at its batch; a bad argument is the CLI's one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import costmodel
from tests.helpers import api_call, cli_is_records, refused_alike, run

KEEP = costmodel.Compression(where="projector", keep_ratio=0.25)
KV = costmodel.CompressionPlan(kv=costmodel.KVCompression(keep_ratio=0.25))
TF = ["peak_tflops=x2"]
CASES = [  # (command, CLI arguments after it, the API's arguments after the model)
    ("batching", "llava-1.5-7b -H a100-80gb,h100-sxm", {"hardware": ["a100-80gb", "h100-sxm"]}),
    ("batching", "llava-1.5-7b --batch 1,2,4,8 --tp 2",
     {"batches": [8, 1, 4, 2, 2], "parallel": {"tp": 2}}),
    ("batching", "llava-1.5-7b -H a100-80gb --batch 1:64 --keep 0.25",
     {"hardware": "a100-80gb", "batches": range(1, 65), "compression": KEEP}),
    ("batching", "llava-1.5-7b -H jetson-agx-orin-64gb,a100-80gb --batch 1:32 --set "
     "peak_tflops=x2", {"hardware": [costmodel.load_hardware(h, sets=TF) for h in
                                     ("jetson-agx-orin-64gb", "a100-80gb")],
                        "batches": np.arange(1, 33)}),
    ("batching", "llava-1.5-7b --batch 1:16 --dtype fp16 --engine vllm",
     {"batches": range(1, 17), "act_dtype": "fp16", "engine": "vllm"}),
    ("capacity", "llava-1.5-7b --ttft 0.5 --tpot 0.05 --max-batch 128",
     {"ttft_s": 0.5, "tpot_s": 0.05, "max_batch": 128}),
    # two devices where the default list is not what is tested (each device searches 1..1024)
    ("capacity", "llava-1.5-7b -H a100-80gb,h100-sxm --keep 0.25 --ttft 0.5",
     {"hardware": ["a100-80gb", "h100-sxm"], "compression": KEEP, "ttft_s": 0.5}),
    ("capacity", "llava-1.5-7b -H a100-80gb,h100-sxm --kv-keep 0.25 --tpot 0.05 "
     "--max-batch 256", {"hardware": ["a100-80gb", "h100-sxm"], "compression": KV,
                         "tpot_s": 0.05, "max_batch": 256}),
    ("capacity", "llava-1.5-7b -H a100-80gb,h100-sxm --tp 2 --tpot 0.05",
     {"hardware": ["a100-80gb", "h100-sxm"], "parallel": {"tp": 2}, "tpot_s": 0.05}),
    ("capacity", "llava-1.5-7b -H jetson-agx-orin-64gb,l4 --max-batch 64",
     {"hardware": ["jetson-agx-orin-64gb", "l4"], "max_batch": 64}),
    ("capacity", "qwen2.5-vl-7b -H h100-sxm --video-frames 8 --engine vllm --ttft 1 "
     "--dtype fp16", {"hardware": "h100-sxm", "video_frames": 8, "engine": "vllm",
                      "ttft_s": 1, "act_dtype": "fp16"}),
]


@pytest.mark.parametrize(("command", "args", "fields"), CASES,
                         ids=[f"{c} {a}" for c, a, _ in CASES])
def test_json_and_csv_are_the_apis(command, args, fields):
    study = api_call(command, args, fields)
    read = cli_is_records(command, args, study.records())  # an empty cell (None) is NaN
    frame = study.frame().fillna(np.nan).infer_objects()
    pd.testing.assert_frame_equal(read, frame, check_dtype=False, check_exact=True)


def test_a_batching_row_is_estimate_at_its_batch():
    """Each row is `estimate` at its batch (what-if changes and engine included), decode
    tokens/s its batch / TPOT; the linear layers' crossing is the first batch where >= half of
    their decode latency is compute-bound (inside 1..256 on an A100 under vllm)."""
    hw = costmodel.load_hardware("a100-80gb", sets=["memory_bandwidth_GBps=x1.5"])
    recs = costmodel.batching("llava-1.5-7b", hw, engine="vllm").records()
    assert [r["batch"] for r in recs] == list(range(1, 257))
    for rec in (recs[0], recs[63], recs[199]):
        est = costmodel.estimate("llava-1.5-7b", hw, batch=rec["batch"], engine="vllm")
        assert rec["ttft_s"] == pytest.approx(est.ttft_s, abs=1e-12, rel=1e-12)
        assert rec["tpot_s"] == pytest.approx(est.tpot_s, abs=1e-12, rel=1e-12)
        assert rec["decode_tokens_per_s"] == pytest.approx(rec["batch"] / est.tpot_s, rel=1e-12)
        assert rec["hardware"] == "a100-80gb*" and rec["engine"] == "vllm"
    first = next(r["batch"] for r in recs if r["decode_linear_compute_share"] >= 0.5)
    assert 1 < first < 256 and {r["decode_linears_compute_at"] for r in recs} == {first}


def test_capacitys_slo_batch_is_estimate_there():
    """The requests/s per GPU is batch / end-to-end latency / GPUs at the batch it names, as
    `estimate` prices that batch, within the SLO."""
    (rec,) = costmodel.capacity("llava-1.5-7b", "a100-80gb", ttft_s=0.5, tpot_s=0.05,
                                engine="vllm").records()
    b = rec["batch_at_requests_per_s"]
    assert b and b <= rec["largest_batch_meeting_slo"] <= rec["max_batch_in_memory"]
    est = costmodel.estimate("llava-1.5-7b", "a100-80gb", batch=b, engine="vllm")
    assert rec["ttft_s"] == pytest.approx(est.ttft_s, rel=1e-12) and est.ttft_s <= 0.5
    assert rec["tpot_s"] == pytest.approx(est.tpot_s, rel=1e-12) and est.tpot_s <= 0.05
    assert rec["requests_per_s_per_gpu"] == pytest.approx(b / est.e2e_latency_s, rel=1e-12)


def test_reprs_are_one_line():
    b = costmodel.batching("llava-1.5-7b", ["a100-80gb", "h100-sxm"], batches=range(1, 33))
    assert repr(b) == ("<BatchingStudy llava-1.5-7b, 2 devices on hf-eager, 32 batches 1..32 | "
                       "decode compute-bound at: a100-80gb - (linears -), h100-sxm - "
                       "(linears -)>")  # the A100's linears turn at batch 162 (vllm)
    b = costmodel.batching("llava-1.5-7b", "a100-80gb", batches=[1, 256], engine="vllm")
    assert repr(b).endswith("2 batches 1..256 | decode compute-bound at: a100-80gb - "
                            "(linears 256)>")
    c = costmodel.capacity("llava-1.5-7b", ["a100-80gb", "h100-sxm"], compression=KEEP,
                           tpot_s=0.05, max_batch=64)
    text = repr(c)
    assert text.startswith("<ServingCapacity llava-1.5-7b, SLO TTFT <= any, TPOT <= 50 ms, "
                           "batch searched 1..64, 2 devices on hf-eager | most req/s/GPU ")
    assert "(compression: " in text and "\n" not in repr(b) + text


@pytest.mark.parametrize(("cli", "call", "fields"), [
    ("batching -H a100-80gb --output-tokens 1", "batching",
     {"hardware": "a100-80gb", "output_tokens": 1}),
    ("batching -H nosuch", "batching", {"hardware": "nosuch"}),
    ("capacity -H l4,l4", "capacity", {"hardware": ["l4", "l4"]}),
    ("capacity --keep 1000", "capacity",
     {"compression": costmodel.Compression(where="projector", keep_tokens=1000)}),
])
def test_refusals_are_the_clis_line(cli, call, fields, capsys):
    command, rest = cli.split(" ", 1)
    refused_alike(command, rest, fields, capsys, call)


def test_capacitys_slo_refusals_are_plans(capsys):
    """capacity reads its SLO through plan's check (analysis.planning.slo_of)."""
    code, _, err = run(["capacity", "llava-1.5-7b", "-H", "l4", "--ttft", "0"], capsys)
    assert code == 2 and err == ("error: --ttft: 0.0 is not a positive finite number of "
                                 "seconds, e.g. 0.3\n")
    with pytest.raises(costmodel.CostmodelError) as e:
        costmodel.capacity("llava-1.5-7b", "l4", ttft_s=0.0)
    assert str(e.value) == "ttft_s: 0.0 is not a positive finite number of seconds, e.g. 0.3"


@pytest.mark.parametrize(("call", "fields", "said"), [
    ("batching", {"batches": [0, 4]}, "batches: [0, 4] holds a batch outside 1..65536"),
    ("batching", {"batches": []}, "batches: [] is not a whole number or a non-empty list"),
    ("batching", {"batches": "1:4"}, "batches: '1:4' is not a whole number or a non-empty list"),
    ("batching", {"batch": 8}, "batch: batching searches the batch itself; give batches="),
    ("capacity", {"batch": 8}, "batch: capacity searches the batch itself; give max_batch="),
    ("capacity", {"max_batch": 0}, "max_batch: 0 is not a whole number in 1..65536"),
    ("capacity", {"engine": 3}, "engine: got int; give an id such as 'vllm'"),
])
def test_python_arguments_refused_in_one_line(call, fields, said):
    with pytest.raises(costmodel.CostmodelError) as e:
        getattr(costmodel, call)("llava-1.5-7b", "a100-80gb", **fields)
    assert str(e.value).startswith(said) and "\n" not in str(e.value), str(e.value)
