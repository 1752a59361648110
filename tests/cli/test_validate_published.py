"""`costmodel validate --published` on the command line: JSON keys, a config path relative to the
CSV, one line and exit 2 for a bad row (the bundled runs and their errors:
tests/unit/calibration/test_published.py)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from costmodel.calibration import published
from tests.helpers import run


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
    ("weight_group", "0", "column weight_group"),
    ("weight_group", "g32", "column weight_group"),
    ("weight_group_bytes", "-1", "column weight_group_bytes"),
    ("weight_group", "32", "column weight_group: only int4"),  # row 4 is an int8 row
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


def test_a_dtype_the_device_lacks_names_the_column(capsys, tmp_path):
    """fp8 math on an A100 (no fp8 peak): the line names the row's id and the CSV column
    act_dtype, not the CLI's --dtype; nothing on stdout."""
    rows = pd.read_csv(published.BUNDLED, dtype=str, keep_default_na=False)
    rows = rows[rows["hardware"] == "a100-80gb"].head(2).copy()
    rows.loc[rows.index[1], ["weight_dtype", "act_dtype", "kv_dtype"]] = "fp8"
    rows.loc[rows.index[1], ["weight_group", "weight_group_bytes"]] = ""
    path = tmp_path / "fp8.csv"
    rows.to_csv(path, index=False)
    code, out, err = run(["validate", "--published", str(path)], capsys)
    line = err.strip()
    assert code == 2 and out == "" and "\n" not in line
    assert f"id {rows['id'].iloc[1]}: act_dtype: a100-80gb has no fp8 peak" in line
    assert "--dtype" not in line
