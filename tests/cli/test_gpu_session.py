"""benchmarks/gpu_session.sh, the prepared on-device check, run end to end on this CPU (its
--cpu dry run: the tiny model, quick grids). It checks the steps, not the figures: a GPU session
has 15 minutes of device time and must not spend them on a broken script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_session.sh"


def test_the_script_parses():
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True).returncode == 0


@pytest.mark.slow
def test_dry_run_writes_every_result(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable}
    subprocess.run(["bash", str(SCRIPT), "--cpu"], env=env, capture_output=True, timeout=600,
                   check=True)
    log = (tmp_path / "session.log").read_text()
    # every step ran and logged its exit status; calibrate may refuse a run disturbed by other
    # load (its own guard), the others must succeed
    for step in ("encoder-attention", "validate-encoder", "validate-encoder-rows", "profile",
                 "validate-profile", "validate-profile-json", "packed-vit"):
        assert f"== {step}: rc 0 in" in log, step
    assert "== calibrate: rc " in log
    packed = json.loads(next(ln for ln in log.splitlines() if ln.startswith('{"device"')))
    assert packed["windows"] == 4 and packed["loop_s"] > 0 and packed["one_call_s"] > 0
    rows = json.loads((tmp_path / "enc_validate.json").read_text())["rows"]
    assert len(rows) == 4 and all(r["kind"].startswith("encoder_attention") for r in rows)
    assert json.loads((tmp_path / "profile_validate.json").read_text())["summary"]
    assert (tmp_path / "profile_vs_datasheet.png").stat().st_size > 0
    assert len(list(tmp_path.iterdir())) <= 8  # the device tool brings back 8 files at most
