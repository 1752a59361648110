"""`plan` and `capacity` read --ttft / --tpot through one implementation
(fleet_common.slo_from_options): the same refusals, word for word, one line on stderr and exit
code 2; `plan` alone needs at least one SLO (capacity without one still gives its memory and
max-load columns). Run through typer's CliRunner streams and the real entry point, which owns
the error line and the exit code."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from costmodel.cli import main

BASE = ["llava-1.5-7b", "-H", "a100-80gb"]
EXAMPLE = {"--ttft": "0.3", "--tpot": "0.05"}


def invoke(args: list[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `costmodel ARGS` inside CliRunner's isolated streams."""
    with CliRunner().isolation() as (out, err, _):
        try:
            main(args)
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
        return code, out.getvalue().decode(), err.getvalue().decode()


def refused(args: list[str]) -> str:
    code, out, err = invoke(args)
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: "), err
    return err


@pytest.mark.parametrize("opt", ["--ttft", "--tpot"])
@pytest.mark.parametrize("value, shown", [("inf", "inf"), ("-inf", "-inf"), ("nan", "nan"),
                                          ("0", "0.0"), ("-1", "-1.0")])
def test_plan_and_capacity_refuse_the_same_slo_values(opt, value, shown):
    lines = {cmd: refused([cmd, *BASE, opt, value]) for cmd in ("plan", "capacity")}
    assert lines["plan"] == lines["capacity"] == (
        f"error: {opt}: {shown} is not a positive finite number of seconds, "
        f"e.g. {EXAMPLE[opt]}\n")


def test_tpot_without_a_second_token_refused_by_both():
    args = ["--tpot", "0.05", "--output-tokens", "1"]
    assert refused(["plan", *BASE, *args]) == refused(["capacity", *BASE, *args])


def test_plan_alone_needs_an_slo():
    assert "--ttft/--tpot: give at least one SLO" in refused(["plan", *BASE])
    code, out, _ = invoke(["capacity", *BASE, "--max-batch", "4", "-f", "json"])
    assert code == 0 and json.loads(out)[0]["largest_batch_meeting_slo"] == 4


def test_both_headers_name_the_slo_alike():
    firsts = {cmd: invoke([cmd, *BASE, "--ttft", "0.3", "--max-batch", "4"])[1].splitlines()[0]
              for cmd in ("plan", "capacity")}
    for line in firsts.values():
        assert "SLO TTFT <= 300 ms, TPOT <= any; batch searched 1..4" in line


def test_plan_target_batch_help_gives_its_bound():
    """plan's --batch refuses 65537 as every other --batch does, and its help now says so (it
    read '[default: 1; x>=1]' and the refusal came from the Workload, worded as pydantic's)."""
    code, out, _ = invoke(["plan", "--help"])
    text = " ".join(out.split())
    assert code == 0 and "Target batch for the scaling answer. [default: 1; 1<=x<=65536]" in text
    code, out, err = invoke(["plan", *BASE, "--ttft", "1", "--batch", "65537"])
    assert code == 2 and out == "" and err.count("\n") == 1 and "--batch" in err
