"""Issues 4 and 16: the whole pipeline (calibrate -> profile -> validate) on this CPU, through
the CLI. Calibration runs microbenchmarks only (never the validation points); the accuracy
check runs on model configs the calibration was not developed on (tests/data/heldout; it was
developed on tests/data/llama-100m and tests/data/cpu-dev)."""

from __future__ import annotations

import csv
import json
import math
import tempfile
from pathlib import Path

import pytest
import yaml

from costmodel.loading.load import hardware_file, read_yaml
from tests.helpers import run

pytest.importorskip("torch")
pytestmark = pytest.mark.slow  # CPU timing runs: `python -m pytest -q -m slow`


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """One retry where calibrate refuses its own run by the reference check (a machine busy
    with something else: 'calibrate: ...; nothing written'), as a user would rerun it; any
    other failure, or the same refusal twice, fails with calibrate's line."""
    out = tmp_path_factory.mktemp("cal") / "cpu.yaml"
    args = ["calibrate", "--device", "cpu", "--quick", "--threads", "1", "-o", str(out)]
    code, _, err = run(args)
    if code == 2 and "nothing written" in err:
        code, _, err = run(args)
    assert code == 0, err
    return out


def _validate(capsys, csv_path, profile) -> dict:
    capsys.readouterr()
    code, out, err = run(["validate", "-m", str(csv_path), "-H", str(profile), "-f", "json"],
                         capsys)
    assert code == 0, err
    return json.loads(out)


def test_pipeline_on_tiny_model(calibrated, capsys, tmp_path):
    f = hardware_file(read_yaml(calibrated), str(calibrated))
    assert f.memory_bandwidth_GBps > 0 and f.kernel_launch_overhead_us > 0
    assert "1 threads" in f.sources["efficiency_curves"]
    assert yaml.safe_load(calibrated.read_text())["efficiency_curves"]["linear"]["efficiency"]
    m = tmp_path / "tiny.csv"
    code, _, err = run(["profile", "--tiny", "--threads", "1", "--visual-tokens", "64",
                        "--repeats", "3", "-o", str(m)], capsys)
    assert code == 0, err
    rows = list(csv.DictReader(m.open()))
    assert [r["stage"] for r in rows] == ["prefill", "decode"] and rows[0]["model"] == "tiny"
    assert all(float(r["median_s"]) > 0 for r in rows)
    doc = _validate(capsys, m, calibrated)
    assert len(doc["points"]) == 2
    assert all(math.isfinite(p["ape_pct"]) and p["predicted_s"] > 0 for p in doc["points"])


RUNS = 3  # independent calibrate -> profile -> validate runs; each must meet the bound
MEDIAN_BOUND_PCT = 20.0  # issue 16: median APE <= 20% for prefill and for decode, every run
RETAKES = 3  # most extra runs in place of runs the tools reported as disturbed


def test_heldout_configs_within_bound(capsys):
    """benchmarks/cpu_calibration_accuracy.py's trial, as a user runs it (default calibration
    sizes, torch's default threads), on tests/data/heldout/* (never used to choose a size, a
    statistic or a curve of the calibration): every run's prefill and decode medians within
    20%. A run that calibrate or profile themselves reported as disturbed by contention
    (calibrate's warnings; profile points whose IQR stayed above the limit after retries) is
    not a measurement of the model: it is taken again, at most RETAKES times in all, and
    reported; a quiet run over the bound fails."""
    from benchmarks.cpu_calibration_accuracy import trial

    medians: dict[str, list[float]] = {"prefill": [], "decode": []}
    disturbed: list[list[str]] = []
    while len(medians["decode"]) < RUNS:
        with tempfile.TemporaryDirectory() as tmp:
            r = trial(Path(tmp))
        if r["disturbed"] and len(disturbed) < RETAKES:
            disturbed.append(r["disturbed"])
            continue
        for stage in medians:
            assert r["summary"][stage]["points"] == 8
            medians[stage].append(r["summary"][stage]["median_ape_pct"])
    with capsys.disabled():
        print({k: [round(v, 1) for v in vs] for k, vs in medians.items()},
              f"retaken: {disturbed}" if disturbed else "")
    assert max(medians["prefill"]) <= MEDIAN_BOUND_PCT, medians
    assert max(medians["decode"]) <= MEDIAN_BOUND_PCT, medians
