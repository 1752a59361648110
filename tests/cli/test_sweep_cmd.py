"""`sweep` and `compare-compression` on the command line, and the grid parser behind
--visual-tokens / --batch (costmodel/cli/parsing.py)."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from costmodel.cli.parsing import parse_grid
from costmodel.errors import CostmodelError
from costmodel.units import si
from tests.helpers import run

CONFIG = "llava-1.5-7b"  # zoo id (costmodel/zoo_configs)


def test_parse_grid():
    assert parse_grid("0:2880:64", "--visual-tokens")[-1] == 2880
    assert len(parse_grid("0:2880:64", "--visual-tokens")) == 46
    assert parse_grid("0:10:3", "--x").tolist() == [0, 3, 6, 9]
    assert parse_grid("8,1, 4", "--batch").tolist() == [1, 4, 8]
    assert parse_grid("5:7,1", "--x").tolist() == [1, 5, 6, 7]


@pytest.mark.parametrize("text, option", [("0:10:0", "--visual-tokens"), ("10:0", "--x"),
                                          ("a,b", "--batch"), ("1.5", "--batch"),
                                          ("0,1", "--batch")])
def test_parse_grid_errors_name_the_option(text, option):
    with pytest.raises(CostmodelError, match=f"^{option}: "):
        parse_grid(text, option, minimum=1 if option == "--batch" else 0)


def test_cli_sweep_csv_json_table(capsys):
    args = ["sweep", CONFIG, "-H", "a100-80gb,h100-sxm,jetson-agx-orin-64gb",
            "--visual-tokens", "0:2880:64", "--batch", "1,8", "--text-tokens", "64",
            "--output-tokens", "128"]
    code, out, _ = run(args + ["--format", "csv"], capsys)
    assert code == 0
    df = pd.read_csv(io.StringIO(out))
    assert len(df) == 3 * 46 * 2 * 4
    assert df.select_dtypes("number").columns.size >= 15
    code, out, _ = run(args + ["-f", "json"], capsys)
    rows = json.loads(out)
    assert code == 0 and len(rows) == len(df) and rows[0]["stage"] == "vision"
    code, out, _ = run(args[:4] + ["--visual-tokens", "576"], capsys)
    assert code == 0 and "TTFT" in out and "jetson-agx-orin-64gb" in out
    assert "llava-1.5-7b" in out


def test_cli_sweep_with_compression(capsys):
    code, out, _ = run(["sweep", CONFIG, "-H", "h100-sxm", "--visual-tokens", "576",
                        "--keep", "0.5", "--at", "llm-layer:2", "-f", "csv"], capsys)
    assert code == 0
    assert "prune@L2 keep 0.5" in out


@pytest.mark.parametrize("args, field", [
    (["--visual-tokens", "0:x"], "--visual-tokens"),
    (["--visual-tokens", "64", "--batch", "0"], "--batch"),
    (["--visual-tokens", "64", "--keep", "0.5", "--at", "llm:2"], "--at"),
])
def test_cli_sweep_errors_one_line(capsys, args, field):
    code, out, err = run(["sweep", CONFIG, "-H", "a100-80gb"] + args, capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"error: {field}")


def test_cli_compare_compression(capsys):
    # torch-eager: launches in series (under hf-eager's async launches the batch-1 decode step
    # is host-bound and fewer tokens save no TPOT)
    base = ["compare-compression", CONFIG, "-H", "a100-80gb", "--visual-tokens", "576",
            "--engine", "torch-eager"]
    code, out, _ = run(base + ["--keep", "0.1"], capsys)
    assert code == 0 and "compress/select" in out and "savings" in out
    code, out, _ = run(base + ["--keep", "0.5", "--at", "llm-layer:2", "-f", "json"], capsys)
    doc = json.loads(out)
    assert code == 0 and doc["compression"] == "prune@L2 keep 0.5"
    rows = {(r["metric"], r["stage"]): r for r in doc["rows"]}
    for q in ("ttft_s", "tpot_s", "kv_cache_bytes", "e2e_latency_s"):
        r = rows[(q, "total")]
        assert r["savings_pct"] == pytest.approx(100 * (1 - r["compressed"] / r["baseline"]))
        assert r["savings_pct"] > 0
    assert rows[("flops", "vision")]["savings_pct"] == 0
    code, out, _ = run(base + ["--keep", "0.5", "--at", "vit", "-f", "csv"], capsys)
    df = pd.read_csv(io.StringIO(out))
    assert code == 0 and df.loc[(df.metric == "flops") & (df.stage == "vision"),
                                "savings_pct"].iloc[0] > 0


@pytest.mark.parametrize("args, field", [
    (["--keep", "2.5"], "--keep"), (["--keep", "x"], "--keep"),
    (["--keep", "64", "--at", "vit"], "--keep"), (["--at", "llm-layer:2"], "--keep"),
    (["--keep", "0.5", "--at", "llm-layer:40"], "--at"),
])
def test_cli_compare_errors_one_line(capsys, args, field):
    code, out, err = run(["compare-compression", CONFIG, "-H", "a100-80gb"] + args, capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"error: {field}")


def test_sweep_refuses_visual_tokens_on_a_text_only_model(capsys):
    """As estimate does: one line naming the option, exit 2; --visual-tokens 0 still sweeps."""
    code, out, err = run(["sweep", "llama-2-7b", "-H", "a100-80gb", "--visual-tokens", "0,64"],
                         capsys)
    assert code == 2 and out == ""
    assert err.startswith("error: --visual-tokens: llama-2-7b has no vision tower") and \
        err.count("\n") == 1
    code, _, err = run(["sweep", "llama-2-7b", "-H", "a100-80gb", "--visual-tokens", "0"], capsys)
    assert code == 0, err


def test_cli_sweep_what_if_set_is_estimates(capsys):
    """`sweep --set` applies the what-if to every device as `estimate --set` does: each row's
    TTFT is the estimate's with the same change, rows carry hardware_changes, the text table
    ends with the [changed] lines."""
    sets = ["--set", "memory_bandwidth_GBps=x2"]
    code, out, _ = run(["sweep", CONFIG, "-H", "h100-sxm,l4", "--visual-tokens", "64,576",
                        *sets, "--format", "csv"], capsys)
    assert code == 0
    df = pd.read_csv(io.StringIO(out))
    assert set(df.hardware) == {"h100-sxm*", "l4*"}
    assert set(df.hardware_changes) == {"memory_bandwidth_GBps 3350 -> 6700",
                                        "memory_bandwidth_GBps 300 -> 600"}
    for hw in ("h100-sxm", "l4"):
        code, est, _ = run(["estimate", CONFIG, "-H", hw, "--visual-tokens", "576", *sets,
                            "--format", "json"], capsys)
        row = df[(df.hardware == f"{hw}*") & (df.visual_tokens == 576)].iloc[0]
        assert row.ttft_s == pytest.approx(json.loads(est)["ttft_s"], rel=1e-12)
    code, out, _ = run(["sweep", CONFIG, "-H", "h100-sxm", "--visual-tokens", "64", *sets],
                       capsys)
    assert out.rstrip().splitlines()[-1] == "[changed] h100-sxm*: memory_bandwidth_GBps 3350 -> 6700"


def test_sweep_under_tp_shows_the_per_gpu_footprint(capsys):
    """Under --tp the sweep's `fits` is per GPU, as estimate's; the table's memory column is
    the per-GPU footprint (it showed LLaVA-1.5-13B's whole 27.4 GB beside 'yes' on a 24 GB
    L4), and CSV / JSON carry per_gpu_total_memory_bytes equal to estimate's; on one GPU it
    is the total."""
    model = "llava-1.5-13b"
    args = ["sweep", model, "-H", "l4", "--visual-tokens", "576", "--tp", "2"]
    code, out, _ = run([*args, "-f", "csv"], capsys)
    df = pd.read_csv(io.StringIO(out))
    _, est, _ = run(["estimate", model, "-H", "l4", "--visual-tokens", "576", "--tp", "2",
                     "-f", "json"], capsys)
    mem = json.loads(est)["memory"]
    assert code == 0 and df.per_gpu_total_memory_bytes.tolist() == pytest.approx(
        [mem["per_gpu_total_memory_bytes"]] * 4, rel=1e-12)
    assert mem["per_gpu_total_memory_bytes"] < 24e9 < mem["total_memory_bytes"]
    code, out, _ = run(args, capsys)
    rows = [ln.split() for ln in out.splitlines() if ln.startswith(model)]
    gb = si(mem["per_gpu_total_memory_bytes"], "B").split()
    assert code == 0 and len(rows) == 4 and all(r[-3:-1] == gb for r in rows), out
    assert "; 2 GPUs (tp x pp x ep): memory per GPU" in out
    code, out, _ = run(["sweep", CONFIG, "-H", "l4", "--visual-tokens", "576", "-f", "csv"],
                       capsys)
    df = pd.read_csv(io.StringIO(out))
    assert (df.per_gpu_total_memory_bytes == df.total_memory_bytes).all()


def test_a_grid_too_large_for_memory_is_refused_before_any_work(monkeypatch, capsys):
    """~6 KB a point over 0.5 GB against the memory available: 100,001 points need ~1.1 GB,
    so with 1 GB free the sweep is refused in one line (MAX_POINTS alone allows ~300 GB)."""
    from costmodel.cli import sweep_run

    monkeypatch.setattr(sweep_run, "available_bytes", lambda: 1.0e9)
    code, out, err = run(["sweep", "llava-1.5-7b", "-H", "a100-80gb", "--visual-tokens",
                          "0:100000", "-f", "csv"], capsys)
    assert code == 2 and out == ""
    assert err == ("error: --visual-tokens: 100,001 points would take about 1.1 GB (~6 KB a "
                   "point), more than the 1.0 GB of memory available; use a coarser step, or "
                   "fewer models, devices or batches\n")
    monkeypatch.setattr(sweep_run, "available_bytes", lambda: None)  # unknown: not checked
    code, _, _ = run(["sweep", "llava-1.5-7b", "-H", "a100-80gb", "--visual-tokens", "0:1000",
                      "-f", "csv"], capsys)
    assert code == 0
