"""--kv-policy sink_window:rolling and --sparse-decode K[:LAYERS] in estimate and sweep; bad
input answered in one line naming the option, exit 2."""

from __future__ import annotations

import json

import pytest

from costmodel.cli.compression_options import compression_from_options
from costmodel.specs.compression import CompressionPlan
from tests.helpers import run

BASE = ["llava-1.5-7b", "-H", "a100-80gb"]


def test_options_build_the_plan():
    roll = compression_from_options(kv_keep="512", kv_policy="sink_window:rolling")
    assert isinstance(roll, CompressionPlan) and roll.kv.during_decode
    assert roll.kv.policy == "sink_window" and roll.kv.keep_tokens == 512
    assert not compression_from_options(kv_keep="512", kv_policy="sink_window").kv.during_decode
    sparse = compression_from_options(sparse_decode="2048")
    assert sparse.sparse_decode == 2048 and sparse.sparse_select is None and sparse.kv is None
    assert compression_from_options(sparse_decode="64:2,16").sparse_select == (2, 16)
    both = compression_from_options(keep="0.5", sparse_decode="64")
    assert [s.where for s in both.stages] == ["projector"] and both.sparse_decode == 64


def _est(capsys, *args):
    code, out, err = run(["estimate", *BASE, "--text-tokens", "2000", "--output-tokens", "512",
                          *args, "-f", "json"], capsys)
    assert code == 0, err
    return json.loads(out)


def test_rolling_and_sparse_in_estimate(capsys):
    base = _est(capsys)
    grow = _est(capsys, "--kv-keep", "256", "--kv-policy", "sink_window")
    roll = _est(capsys, "--kv-keep", "256", "--kv-policy", "sink_window:rolling")
    # 32 layers x K and V x 4096 x 2 bytes per token: 256 + 511 tokens, or 256 held.
    assert grow["memory"]["kv_cache_bytes"] == 32 * 2 * 4096 * 2 * (256 + 511)
    assert roll["memory"]["kv_cache_bytes"] == 32 * 2 * 4096 * 2 * 256
    assert roll["stages"]["decode"]["kv_bytes"] < grow["stages"]["decode"]["kv_bytes"]
    sparse = _est(capsys, "--sparse-decode", "256")
    assert sparse["memory"]["kv_cache_bytes"] == base["memory"]["kv_cache_bytes"]
    assert sparse["stages"]["decode"]["kv_bytes"] < base["stages"]["decode"]["kv_bytes"]


@pytest.mark.parametrize("cmd", ["estimate", "sweep", "compare", "plan", "capacity",
                                 "compare-compression"])  # energy, batching: compare's, plan's
def test_every_workload_command_takes_them(cmd, capsys):
    extra = {"sweep": ["--visual-tokens", "576"], "plan": ["--ttft", "1"],
             "capacity": ["--tpot", "0.05", "--max-batch", "8"]}
    args = [cmd, *BASE, *extra.get(cmd, []), "--sparse-decode", "64", "--kv-keep", "256",
            "--kv-policy", "sink_window:rolling", "-f", "json"]
    code, out, err = run(args, capsys)
    assert code == 0, err
    assert out.strip()


@pytest.mark.parametrize("args, option", [
    (["--kv-keep", "64", "--kv-policy", "uniform:rolling"], "--kv-policy"),
    (["--kv-keep", "64", "--kv-policy", "sink_window:roll"], "--kv-policy"),
    (["--kv-keep", "64", "--kv-policy", "sink_window:0.2"], "--kv-policy"),
    (["--kv-policy", "sink_window:rolling"], "--kv-policy"),
    (["--sparse-decode", "0"], "--sparse-decode"),
    (["--sparse-decode", "x"], "--sparse-decode"),
    (["--sparse-decode", "64:3,2"], "--sparse-decode"),
    (["--sparse-decode", "64:-1"], "--sparse-decode"),
    (["--sparse-decode", "64:2,x"], "--sparse-decode"),
    (["--sparse-decode", "64:2,40"], "compression.sparse_select"),  # LLaVA-7B has 32 layers
])
@pytest.mark.parametrize("cmd", ["estimate", "sweep", "capacity"])
def test_bad_decode_cap_options_one_line(cmd, args, option, capsys):
    extra = {"sweep": ["--visual-tokens", "576"], "capacity": ["--tpot", "0.05"]}.get(cmd, [])
    code, out, err = run([cmd, *BASE, *extra, *args], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"error: {option}"), err


@pytest.mark.parametrize("args, message", [
    (["--sparse-decode", "64"], "--sparse-decode: llm-viewer has no sparse decode"),
    (["--kv-keep", "64", "--kv-policy", "sink_window:rolling"],
     "--kv-policy: llm-viewer has no rolling KV cache")])
def test_llm_viewer_refuses_decode_caps(args, message, capsys):
    code, out, err = run(["estimate", *BASE, "--convention", "llm-viewer", *args], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"error: {message}"), err
