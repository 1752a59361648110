"""--weight-group / --weight-group-bytes: int4 groups priced on the command line (gpt-fast's
int4: 32 weights a group, bf16 scale + bf16 zero = 4 B), refused on other weight dtypes and
under llm-viewer (the formula: tests/unit/core/test_quant.py)."""

from __future__ import annotations

import json

import pytest

from costmodel.loading.load import load_model
from tests.helpers import run

BASE = ["estimate", "llava-1.5-7b", "-H", "a100-80gb", "--visual-tokens", "576", "-f", "json"]


def test_gpt_fast_int4_group(capsys):
    code, out, err = run([*BASE, "--weight-dtype", "int4", "--weight-group", "32",
                          "--weight-group-bytes", "4"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    params = load_model("llava-1.5-7b").param_counts()["total"]
    assert doc["memory"]["weights_bytes"] == params * (0.5 + 4 / 32)
    assert doc["workload"]["weight_group"] == 32
    assert doc["workload"]["weight_group_bytes"] == 4.0


def test_default_group_is_one_fp16_scale_per_128(capsys):
    code, out, _ = run([*BASE, "--weight-dtype", "int4"], capsys)
    params = load_model("llava-1.5-7b").param_counts()["total"]
    assert code == 0
    assert json.loads(out)["memory"]["weights_bytes"] == params * (0.5 + 2 / 128)


@pytest.mark.parametrize(("extra", "says"), [
    (["--weight-group", "32"], "--weight-group: only int4"),
    (["--weight-dtype", "int8", "--weight-group-bytes", "4"], "--weight-group-bytes: only int4"),
    (["--weight-dtype", "int4", "--weight-group", "32", "--convention", "llm-viewer"],
     "llm-viewer"),
    (["--weight-dtype", "int4", "--weight-group", "0"], "--weight-group"),
])
def test_refused_in_one_line_exit_2(capsys, extra, says):
    code, out, err = run([*BASE, *extra], capsys)
    assert code == 2 and out == ""
    line = err.strip()
    assert "\n" not in line and says in line


@pytest.mark.parametrize(("command", "own"), [
    ("compare", []), ("energy", []), ("plan", ["--ttft", "0.3"]), ("batching", []),
    ("capacity", []), ("compare-compression", ["--keep", "0.25"]), ("sweep", [])])
def test_every_workload_command_takes_it(capsys, command, own):
    """The option exists on every command that builds a Workload, and is refused the same way
    without int4 weights."""
    code, _, err = run([command, "llava-1.5-7b", "-H", "a100-80gb", "--visual-tokens", "576",
                        "--weight-group", "32", *own], capsys)
    assert code == 2 and "--weight-group: only int4" in err, err
