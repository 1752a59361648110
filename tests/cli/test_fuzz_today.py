"""Reproducers from a randomized CLI pass over the day's changes (compare-compression --keep
lists, the context lines, plan's 'host', the source rules, calibrate --from-vidur): each case
failed before its fix. The fuzz driver itself is not part of the suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import DATA, MY_GPU_YAML, run

CC = ["compare-compression", "llava-1.5-7b", "-H", "a100-80gb"]
TOO_MANY = "--keep: 5000 tokens kept, but llava-1.5-7b has 576 visual tokens here"


@pytest.mark.parametrize("extra", [
    ["--keep", "5000", "--kv-keep", "0.5"],  # --kv-keep made it a CompressionPlan: not checked
    ["--keep", "5000", "--sparse-decode", "512"],
    ["--keep", "0.1,5000", "--kv-keep", "0.5"],  # the list's second scenario alike
])
def test_kept_count_above_the_tokens_refused_with_kv_or_sparse(
        extra: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """--keep 5000 alone is refused (576 visual tokens); with --kv-keep or --sparse-decode the
    same count ran, every figure the baseline's, under the label 'keep 5000'."""
    code, out, err = run([*CC, *extra], capsys)
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [f"error: {TOO_MANY}; keep fewer or give a ratio"]


@pytest.mark.parametrize("cmd", [
    ["estimate", "llava-1.5-7b", "-H", "a100-80gb"],
    ["compare", "llava-1.5-7b", "-H", "a100-80gb,l4"],
    ["energy", "llava-1.5-7b", "-H", "a100-80gb"],
    ["plan", "llava-1.5-7b", "-H", "a100-80gb", "--ttft", "1"],
    ["batching", "llava-1.5-7b", "-H", "a100-80gb"],
    ["capacity", "llava-1.5-7b", "-H", "a100-80gb"],
])
def test_count_above_the_tokens_refused_where_the_header_would_name_it(
        cmd: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """estimate and the device commands ran --keep 5000 on 576 visual tokens as the
    uncompressed request while their header and JSON/CSV said 'compression: select@projector
    keep 5000' (a compression not applied); compare-compression refused it. Now all refuse
    it in one line, before any work."""
    code, out, err = run([*cmd, "--keep", "5000", "-f", "json"], capsys)
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [f"error: {TOO_MANY}; keep fewer or give a ratio"]
    code, out, err = run([*cmd, "--keep", "576"], capsys)  # all of them: a count, accepted
    assert code == 0, err
    assert "keep 576" in out


def test_from_vidur_on_a_base_with_launch_overhead_fits_what_it_writes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """calibrate --from-vidur writes kernel_launch_overhead_us 0 (Vidur's are CUDA-event kernel
    times) but fitted its curves to the times less the --base's own launch overhead: from a
    user's base with 5 us the written profile under-predicted its own data (median error
    8.1% against 2.8% from the same base without it). The base's launch no longer enters."""
    from costmodel.calibration import vidur
    from costmodel.loading.load import load_hardware

    data = DATA / "vidur" / "a100_Llama-2-7b-hf_mlp.csv"
    text = MY_GPU_YAML.read_text(encoding="utf-8")
    launched = tmp_path / "launched.yaml"
    launched.write_text(text.replace("sources:\n", "kernel_launch_overhead_us: 5\nsources:\n  "
                                     "kernel_launch_overhead_us: a user's measurement\n"),
                        encoding="utf-8")
    errors = []
    for base in (MY_GPU_YAML, launched):
        out = tmp_path / f"cal-{base.stem}.yaml"
        code, _, err = run(["-q", "calibrate", "--from-vidur", str(data), "--base", str(base),
                            "-o", str(out)], capsys)
        assert code == 0, err
        errors.append(vidur.errors(vidur.load(data), load_hardware(str(out)))["ape_pct"].median())
    assert errors[1] == pytest.approx(errors[0], rel=1e-9)


def test_calibrated_profile_drops_the_base_efficiency_source(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """calibrate resets the scalar efficiencies to 1 (the curves carry the fit) but kept the
    base's sources.efficiency, a source for a figure the written file no longer has."""
    from costmodel.loading.load import read_yaml

    base = tmp_path / "eff.yaml"
    base.write_text(MY_GPU_YAML.read_text(encoding="utf-8").replace(
        "sources:\n", "efficiency:\n  compute: 0.8\nsources:\n  efficiency: my measurement\n"),
        encoding="utf-8")
    out = tmp_path / "cal.yaml"
    code, _, err = run(["-q", "calibrate", "--from-vidur",
                        str(DATA / "vidur" / "a100_Llama-2-7b-hf_mlp.csv"), "--base", str(base),
                        "-o", str(out)], capsys)
    assert code == 0, err
    written = read_yaml(out)
    assert written["efficiency"] == {"compute": 1.0, "memory": 1.0, "attention": 1.0}
    assert "efficiency" not in written["sources"]
    assert run(["estimate", "llava-1.5-7b", "-H", str(out)], capsys)[0] == 0  # loads back


@pytest.mark.parametrize("cmd", ["plan", "capacity"])
def test_a_tpot_slo_needs_a_second_token(cmd, capsys):
    # with one output token there is no TPOT: plan read a would-be step's time against it
    code, out, err = run([cmd, "llava-1.5-7b", "-H", "a100-80gb", "--tpot", "0.05",
                          "--output-tokens", "1"], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "--tpot: with --output-tokens 1" in err


def test_a_warning_before_a_refusal_is_dropped_and_after_success_shown(capsys):
    # the context warning comes before the interconnect refusal: one line on stderr, the error
    base = ["estimate", "llava-1.5-7b", "--text-tokens", "4000"]
    code, _, err = run([*base, "-H", "jetson-agx-orin-64gb", "--tp", "2"], capsys)
    assert code == 2 and err.startswith("error: interconnect:") and err.count("\n") == 1
    code, out, err = run([*base, "-H", "a100-80gb"], capsys)
    assert code == 0 and out and err.startswith("warning: llava-1.5-7b: a sequence of 4703")
