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
    assert est["per_gpu_bytes"] < est["capacity_bytes"] < est["total_bytes"]  # fits only split
    cmp = _json(["compare", *BASE, *layout], capsys)[0]
    bat = _json(["batching", *BASE, *layout], capsys)[0]
    pl = _json(["plan", *BASE, *layout, "--ttft", "100", "--max-batch", "8"], capsys)[0]
    assert cmp["fits"] and bat["fits"] and pl["largest_batch"] == 8
    for got in (cmp["per_gpu_bytes"], bat["per_gpu_bytes"], pl["per_gpu_bytes_at_largest"]):
        assert got == pytest.approx(est["per_gpu_bytes"], rel=1e-12)
    code, out, _ = run(["compare", *BASE, *layout], capsys)
    row = next(line for line in out.splitlines() if line.startswith("1 "))
    assert "16.4 GB / 24 GB  yes" in row and "2 GPUs (tp x pp x ep)" in out
