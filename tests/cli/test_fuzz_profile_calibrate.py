"""Reproducers from a fuzz pass over profile and calibrate options: each case failed before its
fix (a traceback, a crash, a run that never ends, or an option silently dropped). All are
refused before any measuring, so these run no torch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import DATA, run

PROF = ["profile", "--tiny", "--repeats", "1", "--warmup", "0"]
VIDUR = ["calibrate", "--from-vidur", str(DATA / "vidur" / "a100_Llama-2-7b-hf_mlp.csv"),
         "--base", "a100-80gb"]


def _refused(args: list[str], capsys: pytest.CaptureFixture[str], start: str) -> str:
    code, out, err = run(args, capsys)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith(f"error: {start}"), err
    return err


@pytest.mark.parametrize("cmd", [PROF, ["calibrate", "--device", "cpu", "--quick"]])
@pytest.mark.parametrize("threads", [10**30, 100_000])
def test_threads_above_the_cpus_refused(cmd, threads, tmp_path: Path, capsys) -> None:
    """--threads 10**30 was a ValueError traceback from torch.set_num_threads (overflow) and
    --threads 100000 a segmentation fault in profile; nothing is written."""
    out = tmp_path / ("p.csv" if cmd[0] == "profile" else "p.yaml")
    err = _refused([*cmd, "--threads", str(threads), "-o", str(out)], capsys, "--threads: ")
    assert f"{threads} is more than this machine's {os.cpu_count()} CPUs" in err
    assert not out.exists()


@pytest.mark.parametrize("args", [["--warmup", str(10**30), "--repeats", "1"],
                                  ["--warmup", "0", "--repeats", str(10**30)]])
def test_timed_calls_bounded(args: list[str], capsys) -> None:
    """--warmup / --repeats 10**30 ran until killed (no upper bound)."""
    option = args[0] if args[1] != "0" else args[2]
    _refused(["profile", "--tiny", *args], capsys, f"Invalid value for '{option}'")


@pytest.mark.parametrize("option, value, bad", [("--batch", "1,,2", "''"),
                                               ("--visual-tokens", "4,,8", "''"),
                                               ("--visual-tokens", "4,x", "'x'")])
def test_profile_lists_use_the_grid_grammar(option, value, bad, tmp_path: Path, capsys) -> None:
    """profile dropped an empty list item ('1,,2' ran batches 1 and 2) where every other
    command refuses it; it now parses lists as sweep does (cli/parsing.parse_grid)."""
    out = tmp_path / "p.csv"
    err = _refused([*PROF, option, value, "-o", str(out)], capsys, f"{option}: {bad} is not")
    assert "e.g. 0:2880:64 or 1,8" in err and not out.exists()


def test_profile_list_parse_is_sorted_and_unique() -> None:
    from costmodel.cli.profile_cmd import parse_ints

    assert parse_ints("576,64,64", "--visual-tokens") == [64, 576]
    assert parse_ints("1:4", "--batch") == [1, 2, 3, 4]


@pytest.mark.parametrize("extra, option", [(["--threads", "1"], "--threads"),
                                           (["--quick"], "--quick"),
                                           (["--thorough"], "--thorough")])
def test_from_vidur_refuses_the_run_options(extra, option, tmp_path: Path, capsys) -> None:
    """--from-vidur fits a file: --threads, --quick and --thorough were accepted and ignored."""
    out = tmp_path / "c.yaml"
    err = _refused([*VIDUR, *extra, "-o", str(out)], capsys, f"{option}: --from-vidur fits")
    assert f"drop {option}" in err and not out.exists()


@pytest.mark.parametrize("new_id", ["", "  "])
def test_calibrate_empty_id_refused(new_id: str, tmp_path: Path, capsys) -> None:
    """--id '' wrote the default id a100-80gb-vidur, --id ' ' a profile whose id is blank."""
    out = tmp_path / "c.yaml"
    _refused([*VIDUR, "--id", new_id, "-o", str(out)], capsys, f"--id: '{new_id}' is empty")
    assert not out.exists()


@pytest.mark.parametrize("name", ["config.json", "my.json"])
def test_a_config_error_names_the_file_once(name: str, tmp_path: Path, capsys) -> None:
    """A bad field in a config.json said 'error: config.json: config.json: ...'."""
    import json

    from tests.helpers import zoo_config

    cfg = zoo_config("llava-1.5-7b")
    cfg["text_config"]["hidden_size"] = "big"
    (tmp_path / name).write_text(json.dumps(cfg), encoding="utf-8")
    code, out, err = run(["estimate", str(tmp_path / name), "-H", "a100-80gb"], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"error: {name}: text_config.hidden_size: 'big' is not a whole "
                          "number"), err


def test_kernels_directory_is_not_called_missing(tmp_path: Path, capsys) -> None:
    """validate --kernels DIR said 'no such file; check the path' of a folder that exists."""
    code, out, err = run(["validate", "--kernels", str(tmp_path), "-H", "a100-80gb"], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"error: --kernels: {tmp_path}: a directory; give the kernel table "
                          "files in it"), err


@pytest.mark.parametrize("item, key", [("memory_bandwidth_GBps=1e300", "memory_bandwidth_GBps"),
                                       ("memory_GB=1e300", "memory_GB"),
                                       ("peak_tflops.bf16=1e300", "peak_tflops.bf16")])
def test_a_figure_infinite_in_base_units_is_refused(item: str, key: str, capsys) -> None:
    """--set memory_bandwidth_GBps=1e300 was inf B/s (memory time 0: bound TPOT 44 us) and
    memory_GB=1e300 'of inf PB: fits', both accepted."""
    code, out, err = run(["estimate", "llava-1.5-7b", "-H", "a100-80gb", "--set", item], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert f"{key}: 1e+300 is above 1e+290 (infinite in base units)" in err


@pytest.mark.parametrize("item", ["memory_bandwidth_GBps=1e-300", "memory_bandwidth_GBps=1e280"])
def test_a_roof_no_chart_can_draw_is_refused(item: str, tmp_path: Path, capsys) -> None:
    """plot roofline --set memory_bandwidth_GBps=1e-300 (ridge 3e305 FLOP/byte) was an
    OverflowError traceback from matplotlib's log ticks; 1e280 a zero in the roof's grid."""
    out = tmp_path / "r.png"
    code, stdout, err = run(["plot", "roofline", "llava-1.5-7b", "-H", "a100-80gb", "--set",
                             item, "-o", str(out)], capsys)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("error: --hardware: a100-80gb*'s roof (") and "60-decade" in err
    assert not out.exists()


@pytest.mark.parametrize("option, key, value", [("-H", "id", "' '"), ("-H", "name", "''"),
                                                ("--engine", "id", "' '")])
def test_a_blank_id_or_name_in_a_file_is_refused(option, key, value, tmp_path: Path,
                                                 capsys) -> None:
    """A hardware YAML with id: ' ' was a device named blank ('kernel_efficiency:   has
    none'); an engine YAML alike."""
    from tests.helpers import MY_GPU_YAML, ROOT

    src = MY_GPU_YAML if option == "-H" else ROOT / "costmodel" / "engines" / "vllm.yaml"
    lines = [f"{key}: {value}" if ln.startswith(f"{key}:") else ln
             for ln in src.read_text(encoding="utf-8").splitlines()]
    path = tmp_path / "f.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    extra = ["-H", "a100-80gb", "--engine", str(path)] if option == "--engine" else [
        "-H", str(path)]
    code, out, err = run(["estimate", "llava-1.5-7b", *extra], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith(f"error: {path}: {key}: {value} is blank"), err


def test_profile_points_bounded(tmp_path: Path, capsys) -> None:
    """With ranges (the grid grammar) --visual-tokens 1:1000000 asked for 1M timed points."""
    out = tmp_path / "p.csv"
    _refused(["profile", "--tiny", "--visual-tokens", "1:1000000", "-o", str(out)], capsys,
             "--visual-tokens, --batch: 1000000 points to time; at most 1000")
    assert not out.exists()


def test_ui_empty_host_refused(capsys) -> None:
    """ui --host '' started the server on 0.0.0.0 (every interface), not this machine only."""
    _refused(["ui", "--host", ""], capsys, "--host: '' is empty, which would listen on every "
             "interface")


@pytest.mark.parametrize("column, read", [("PP", "pp"), ("weight_grp", "weight_group"),
                                          ("Split", "split")])
def test_published_column_misspelt_is_refused(column: str, read: str, tmp_path: Path,
                                              capsys) -> None:
    """validate --published keeps other columns unread: a read column misspelt was silently
    ignored (a 'PP' of 2 priced as pp 1). A free column ('notes', 'bogus') is still kept."""
    import csv

    from tests.helpers import ROOT

    src = ROOT / "costmodel" / "calibration" / "data" / "published_runs.csv"
    with src.open(newline="", encoding="utf-8") as f:
        header, first = list(csv.reader(f))[:2]
    for name, extra in (("bad.csv", column), ("ok.csv", "bogus")):
        with (tmp_path / name).open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([header + [extra], first + ["1"]])
    code, out, err = run(["validate", "--published", str(tmp_path / "bad.csv")], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith(f"error: bad.csv: column '{column}' is not read; did you mean {read}?")
    assert run(["validate", "--published", str(tmp_path / "ok.csv")], capsys)[0] == 0


def test_profile_refuses_a_model_whose_weights_do_not_fit(monkeypatch, tmp_path: Path,
                                                          capsys) -> None:
    """profile llava-1.5-7b on a 23 GB host built the 28 GB fp32 model for minutes until the
    kernel killed it; now refused before building (here the free memory is set to 20 GB)."""
    pytest.importorskip("torch")
    from costmodel.cli import profile_cmd

    monkeypatch.setattr(profile_cmd, "_free_bytes", lambda device, torch: 20e9)
    out = tmp_path / "p.csv"
    _refused(["profile", "llava-1.5-7b", "--visual-tokens", "4", "-o", str(out)], capsys,
             "MODEL: llava-1.5-7b's weights take 28.3 GB in fp32, more than the 20 GB free on "
             "cpu")
    assert not out.exists()
