"""--set on the command line: the changes are shown and reach the estimate; bad keys are one
line and exit 2."""

from __future__ import annotations

import json

import pytest

from tests.helpers import LLAVA_7B_DIR as MODEL
from tests.helpers import run


def test_estimate_set_shows_changes_and_halves_memory_bound_decode(capsys):
    args = ["estimate", MODEL, "-H", "h100-sxm", "-f", "json", "--engine", "ideal"]
    _, out, _ = run(args, capsys)
    code, out2, _ = run(args + ["--set", "memory_bandwidth_GBps=x2"], capsys)
    a, b = json.loads(out), json.loads(out2)
    assert code == 0 and b["hardware"] == "h100-sxm*"
    assert b["hardware_changes"] == ["memory_bandwidth_GBps 3350 -> 6700"]
    # decode at batch 1 is memory-bound: doubling bandwidth nearly halves it (compute floor)
    assert 0.5 * a["tpot_s"] <= b["tpot_s"] < 0.55 * a["tpot_s"]
    code, out3, _ = run(["estimate", MODEL, "-H", "h100-sxm", "--set", "tdp_W=800"], capsys)
    assert "[changed: tdp_W 700 -> 800]" in out3


@pytest.mark.parametrize("args, needle", [
    (["estimate", MODEL, "-H", "h100-sxm", "--set", "hbm=1"], "--set: unknown key 'hbm'"),
    (["compare", MODEL, "-H", "h100-sxm", "--set", "memory_GB=0"], "memory_GB"),
])
def test_cli_set_errors_exit_2(args, needle, capsys):
    code, out, err = run(args, capsys)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1 and out == ""


@pytest.mark.parametrize("cmd", [["compare"], ["plan", "--ttft", "1"], ["energy"],
                                 ["batching", "--batch", "1,2"],
                                 ["capacity", "--max-batch", "4"]])
def test_every_device_command_names_the_what_if(cmd, capsys):
    """capacity, batching and energy printed the starred id without what changed (compare and
    plan listed it): each ends its table with the [changed] line and its JSON records carry
    hardware_changes."""
    args = [cmd[0], MODEL, "-H", "h100-sxm,l4", "--set", "memory_GB=40", *cmd[1:]]
    code, out, _ = run(args, capsys)
    assert code == 0 and "[changed] h100-sxm*: memory_GB 80 -> 40" in out
    assert "[changed] l4*: memory_GB 24 -> 40" in out
    code, out, _ = run(args + ["-f", "json"], capsys)
    assert {r["hardware_changes"] for r in json.loads(out)} == {"memory_GB 80 -> 40",
                                                                 "memory_GB 24 -> 40"}


def test_compare_compression_names_the_what_if(capsys):
    code, out, _ = run(["compare-compression", MODEL, "-H", "h100-sxm", "--keep", "0.1",
                        "--set", "memory_GB=40"], capsys)
    assert code == 0 and out.splitlines()[0].endswith(
        "(h100-sxm*) [changed: memory_GB 80 -> 40] | compression: select@projector keep 0.1")


def test_two_what_ifs_of_one_base_sharing_an_id_say_how_to_tell_them_apart(capsys, tmp_path):
    """Two `base: h100-sxm` YAMLs without an `id:` both derive the id h100-sxm*, as does
    `-H h100-sxm,child.yaml --set ...`: still refused in one line (their rows would share a
    name), but naming the fix, an `id:` in the YAML (it said 'h100-sxm* appears twice; give
    each device once', though each was given once); a bundled device listed twice keeps its
    line."""
    fast, big = tmp_path / "fast.yaml", tmp_path / "big.yaml"
    fast.write_text("base: h100-sxm\nmemory_bandwidth_GBps: 6700\n", encoding="utf-8")
    big.write_text("base: h100-sxm\nmemory_GB: 160\n", encoding="utf-8")
    for args in (["-H", f"{fast},{big}"], ["-H", f"h100-sxm,{fast}", "--set", "tdp_W=x1"]):
        code, out, err = run(["compare", MODEL, *args], capsys)
        assert code == 2 and out == "" and err.count("\n") == 1, err
        assert err.startswith("error: --hardware: h100-sxm* comes twice: a device listed "
                              "twice, or two profiles deriving that id"), err
        assert "its own `id:`" in err
    code, _, err = run(["compare", MODEL, "-H", "l4,l4"], capsys)
    assert err == "error: --hardware: l4 appears twice; give each device once\n"


def test_hardware_show_lists_what_a_base_yaml_changes(capsys, tmp_path):
    """`hardware show child.yaml` (base: h100-sxm) lists derived.changes as `--set` does and
    as compare's [changed] line does for the same file (it listed them only with --set); a
    bundled profile has none to list."""
    child = tmp_path / "child.yaml"
    child.write_text("base: h100-sxm\nid: h100-more\nmemory_GB: 96\n", encoding="utf-8")
    code, out, _ = run(["hardware", "show", str(child), "-f", "json"], capsys)
    assert code == 0 and json.loads(out)["derived"]["changes"] == "memory_GB 80 -> 96"
    code, out, _ = run(["hardware", "show", "h100-sxm", "-f", "json"], capsys)
    assert code == 0 and "changes" not in json.loads(out)["derived"]
