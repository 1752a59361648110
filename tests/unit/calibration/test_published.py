"""validate --published: the bundled published end-to-end runs, the bound, bad rows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from costmodel.calibration import published
from costmodel.cli import main
from costmodel.errors import CostmodelError

# Issue 9's target for the bundled set is median |error| <= 15% (on the way to 10%). With the
# device's fitted kernel model in the evaluate path and the engine host figures fitted by
# benchmarks/fit_engines.py on the stated fit rows, the bundled set reaches 12.3% overall and
# 13.8% on the 76 held-out rows (docs/validation.md): the 15% target is met, 10% is not.
TARGET_MEDIAN = 0.15
HELD_OUT_REACHED = 0.139
# The published figures are rounded (TTFT to whole ms: 7 ms is 6.5..7.5, i.e. 7%).
ROUNDING = 0.075


@pytest.fixture(scope="module")
def bundled() -> tuple[pd.DataFrame, dict]:
    return published.validate(published.BUNDLED)


def run(args: list[str], capsys) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_bundled_median_error(bundled):
    _, summary = bundled
    assert summary["rows"] >= 100
    assert summary["median_abs_error"] <= TARGET_MEDIAN
    assert set(summary["by_split"]) == {"fit", "held-out"}
    # the rows no figure was fitted on, on their own
    assert summary["by_split"]["held-out"]["median_abs_error"] <= HELD_OUT_REACHED


def test_bound_is_never_slower_than_the_measurement(bundled):
    """The roofline bound is a lower bound on time: on every published row it is at least as
    fast as what was measured, up to the rounding of the published figure."""
    frame, _ = bundled
    slack = published.bound_slack(frame)
    assert np.all(slack >= -ROUNDING), frame.loc[slack < -ROUNDING, "id"].tolist()


def test_expected_is_slower_than_the_bound(bundled):
    frame, _ = bundled
    rate = frame["metric"].isin(published.RATES)
    ok = np.where(rate, frame["predicted"] <= frame["bound"] * (1 + 1e-9),
                  frame["predicted"] >= frame["bound"] * (1 - 1e-9))
    assert ok.all()


def test_metric_values_by_hand():
    m = np.array(["ttft_s", "tpot_s", "decode_tokens_per_s", "output_tokens_per_s", "e2e_s"])
    one = np.ones(5)
    got = published.metric_values(m, 0.1 * one, 0.01 * one, 2.0 * one, 4 * one, 100 * one)
    assert got.tolist() == pytest.approx([0.1, 0.01, 100.0, 200.0, 2.0])


def test_cli_json_keys(capsys, tmp_path):
    rows = pd.read_csv(published.BUNDLED)
    rows = rows[rows["model"] == "llama-2-7b"].head(3)  # zoo ids: no paths to resolve
    path = tmp_path / "runs.csv"
    rows.to_csv(path, index=False)
    code, out, _ = run(["validate", "--published", str(path), "--format", "json"], capsys)
    assert code == 0
    doc = json.loads(out)
    for key in ("rows", "median_abs_error", "max_abs_error", "by_engine", "bound"):
        assert key in doc["summary"]
    assert len(doc["rows"]) == 3 and "error" in doc["rows"][0]


def test_relative_config_path_resolves_against_the_csv(capsys, tmp_path):
    src = published.BUNDLED.parent / "configs" / "qwen2.5-0.5b-instruct"
    shutil.copytree(src, tmp_path / "m")
    row = {"id": "x1", "model": "m/config.json", "hardware": "a100-80gb", "engine": "vllm",
           "weight_dtype": "bf16", "act_dtype": "bf16", "kv_dtype": "bf16", "batch": 1,
           "visual_tokens": 0, "text_tokens": 1, "output_tokens": 2048, "tp": 1,
           "metric": "output_tokens_per_s", "value": 311.55, "source": "test"}
    pd.DataFrame([row]).to_csv(tmp_path / "one.csv", index=False)
    code, out, _ = run(["validate", "--published", str(tmp_path / "one.csv")], capsys)
    assert code == 0 and "x1" in out


@pytest.mark.parametrize(("column", "value", "says"), [
    ("act_dtype", "bf17", "column act_dtype"),
    ("metric", "latency", "column metric"),
    ("batch", "1.5", "column batch"),
    ("value", "fast", "column value"),
    ("tp", "0", "column tp"),
])
def test_bad_row_one_line_exit_2(capsys, tmp_path, column, value, says):
    rows = pd.read_csv(published.BUNDLED, dtype=str, keep_default_na=False).head(4)
    rows.loc[2, column] = value
    path = tmp_path / "bad.csv"
    rows.to_csv(path, index=False)
    code, out, err = run(["validate", "--published", str(path)], capsys)
    assert code == 2 and out == ""
    line = err.strip()
    assert "\n" not in line and "row 4" in line and says in line


def test_missing_column_refused(tmp_path):
    path = tmp_path / "cols.csv"
    pd.read_csv(published.BUNDLED).drop(columns=["kv_dtype"]).head(2).to_csv(path, index=False)
    with pytest.raises(CostmodelError, match="kv_dtype"):
        published.read(path)


def test_bundled_configs_and_note_are_shipped():
    data = published.BUNDLED.parent
    assert (data / "NOTE.md").is_file()
    models = pd.read_csv(published.BUNDLED)["model"]
    for m in models[models.str.endswith(".json")].unique():
        assert (data / Path(m)).is_file()
