"""`compare`, `energy`, `batching` and `plan` under --tp: joules count every GPU of the layout,
and memory is the most loaded GPU's footprint (what `fits` reads and `estimate` prints per
GPU), not the whole model against one GPU's capacity."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run

M, H = "llava-1.5-13b", "l4"
BASE = [M, "-H", H, "--engine", "vllm", "--batch", "8"]


def _json(args, capsys):
    code, out, err = run(args + ["-f", "json"], capsys)
    assert code == 0, err
    return json.loads(out)


@pytest.mark.parametrize("layout, gpus", [([], 1), (["--tp", "2"], 2),
                                          (["--tp", "2", "--pp", "2"], 4)])
def test_energy_counts_every_gpu(layout, gpus, capsys):
    est = _json(["estimate", *BASE, *layout], capsys)
    en = _json(["energy", *BASE, *layout], capsys)[0]
    cmp = _json(["compare", *BASE, *layout], capsys)[0]
    assert est["parallel"]["gpus"] == en["gpus"] == gpus
    joules = gpus * en["power_W"] * est["e2e_latency_s"] / 8  # J per request, batch 8
    assert en["per_request_J"] == pytest.approx(joules, rel=1e-12)
    assert cmp["energy_per_request_J"] == pytest.approx(joules, rel=1e-12)


def test_memory_is_per_gpu_under_tp(capsys):
    layout = ["--tp", "2"]
    est = _json(["estimate", *BASE, *layout], capsys)["memory"]
    # fits only split
    assert est["per_gpu_total_memory_bytes"] < est["capacity_bytes"] < est["total_memory_bytes"]
    cmp = _json(["compare", *BASE, *layout], capsys)[0]
    bat = _json(["batching", *BASE, *layout], capsys)[0]
    pl = _json(["plan", *BASE, *layout, "--ttft", "100", "--max-batch", "8"], capsys)[0]
    assert cmp["fits"] and bat["fits"] and pl["largest_batch"] == 8
    for got in (cmp["per_gpu_total_memory_bytes"], bat["per_gpu_total_memory_bytes"],
                pl["per_gpu_total_memory_bytes_at_largest"]):
        assert got == pytest.approx(est["per_gpu_total_memory_bytes"], rel=1e-12)
    code, out, _ = run(["compare", *BASE, *layout], capsys)
    row = next(line for line in out.splitlines() if line.startswith("1 "))
    assert "16.4 GB / 24 GB  yes" in row and "2 GPUs (tp x pp x ep)" in out


def test_batching_takes_microbatches_that_divide_its_grid(capsys):
    """batching built its workload at batch 1, so any --microbatches > 1 was refused ('does
    not divide batch 1') even for a grid of multiples of it."""
    pipe = ["llava-1.5-7b", "-H", "h100-sxm", "--pp", "2", "--microbatches", "2"]
    est = _json(["estimate", *pipe, "--batch", "4"], capsys)
    bat = _json(["batching", *pipe, "--batch", "2,4"], capsys)[1]
    for key in ("ttft_s", "tpot_s"):
        assert bat[key] == pytest.approx(est[key], rel=1e-12)
    code, out, err = run(["batching", *pipe, "--batch", "2:4"], capsys)  # 3 is in the grid
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "--microbatches: 2 does not divide every batch" in err


def test_plan_refuses_microbatches_naming_its_search(capsys):
    code, out, err = run(["plan", "llava-1.5-7b", "-H", "h100-sxm", "--pp", "2",
                          "--microbatches", "2", "--batch", "8", "--ttft", "1"], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "--microbatches: plan searches every batch 1..1024" in err
