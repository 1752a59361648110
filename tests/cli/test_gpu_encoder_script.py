"""benchmarks/gpu_encoder_attention.py, the prepared ViT-attention measurement for a GPU
session, runs end to end on the CPU (its --quick dry run) and writes a table that
`costmodel validate --kernels` reads as encoder_attention rows."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from costmodel.calibration import kernel_io

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_gpu_encoder_script_dry_run(tmp_path):
    pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location("gpu_enc", ROOT / "benchmarks" /
                                                  "gpu_encoder_attention.py")
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["gpu_enc"] = mod
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    out = tmp_path / "enc.csv"
    mod.main(["--out", str(out), "--device", "cpu", "--quick", "--reps", "1", "--replays", "1"])
    frame = kernel_io.read_table(out)
    assert len(frame) == 4 and set(frame["kind"]) == {"encoder_attention"}
    assert (frame["measured_s"] > 0).all()
