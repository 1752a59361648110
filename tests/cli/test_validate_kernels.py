"""`costmodel validate --kernels`: the held-out GEMM target with the shipped parameters, the
table and JSON output, one-line errors for bad tables, and no torch or matplotlib import
(reading and fitting the tables: tests/unit/calibration/test_kernel_tables.py)."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from costmodel.calibration import kernel_tables as kt
from costmodel.errors import CostmodelError
from tests.helpers import kernel_table_files as files
from tests.helpers import run


def test_held_out_half_meets_the_gemm_target_with_the_shipped_parameters(capsys):
    for hw, dev in (("a100-80gb", "a100"), ("h100-sxm", "h100")):
        code, out, err = run(["validate", "--kernels", *files(dev), "-H", hw, "--held-out",
                              "--format", "json"], capsys)
        assert code == 0, err
        s = json.loads(out)["summary"]
        assert s["gemm"]["median_abs_error"] <= 0.10
        assert s["gemm"]["rows"] > 100 and s["gemm<10us"]["rows"] > 50


def test_validate_kernels_table_json_and_per_row(capsys):
    one = files("a100", "vllm")
    code, out, err = run(["validate", "--kernels", *one, "-H", "a100-80gb"], capsys)
    assert code == 0, err
    assert "context_attention" in out and "median %" in out and "gemm<10us" in out
    code, out, _ = run(["validate", "--kernels", one[0], "-H", "a100-80gb", "--format", "json",
                        "--per-row"], capsys)
    doc = json.loads(out)
    kind = next(iter(doc["summary"]))
    s = doc["summary"][kind]
    assert set(s) >= {"rows", "median_abs_error", "p90_abs_error", "max_abs_error"}
    rows = [r for r in doc["rows"] if r["label"] == kind]
    assert len(rows) == s["rows"]
    errs = np.array([r["abs_error"] for r in rows])
    assert np.median(errs) == pytest.approx(s["median_abs_error"])
    r = doc["rows"][0]
    assert r["abs_error"] == pytest.approx(abs(r["predicted_s"] - r["measured_s"])
                                           / r["measured_s"])


@pytest.mark.parametrize("content, needle", [
    (None, "no such file"),
    (b"\xff\xfe\x00bad", "not UTF-8"),
    (b"m,n,latency\n1,2,3\n", "missing column k"),
    (b"m,n,k,latency\n", "no rows"),
    (b"m,n,k,latency\n1,2,3,-1\n", "column latency: row 1"),
    (b"m,n,k,gemm_dtype,latency\n1,2,3,fp4,1\n", "column gemm_dtype: unknown 'fp4'"),
])
def test_bad_kernel_tables_give_one_line_and_exit_2(capsys, tmp_path, content, needle):
    path = tmp_path / "t.csv"
    if content is not None:
        path.write_bytes(content)
    code, out, err = run(["validate", "--kernels", str(path), "-H", "a100-80gb"], capsys)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and needle in lines[0], err
    assert "Traceback" not in err


def test_bad_gzip_and_profiles_without_parameters(capsys, tmp_path):
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(b"\xff\xfe\x00\x81") + b"")
    with pytest.raises(CostmodelError, match="not UTF-8"):
        kt.read_table(path)
    code, _, err = run(["validate", "--kernels", files("a100")[0], "-H", "llm-viewer-a100"],
                       capsys)
    assert code == 2 and "kernel_efficiency: llm-viewer-a100 has none" in err
    code, _, err = run(["validate", "-H", "a100-80gb"], capsys)
    assert code == 2 and "--measurements FILE or --kernels" in err


def test_validate_kernels_does_not_import_torch_or_matplotlib():
    import subprocess
    import sys

    code = ("import sys; from costmodel.cli import main\n"
            "try:\n main(['validate', '--kernels', sys.argv[1], '-H', 'a100-80gb', '-f', 'json'])\n"
            "except SystemExit: pass\n"
            "assert 'torch' not in sys.modules and 'matplotlib' not in sys.modules\n")
    res = subprocess.run([sys.executable, "-c", code, files("a100")[0]], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize(("hw", "warned"), [("h100-sxm", True), ("a100-80gb", False),
                                             ("jetson-agx-orin-64gb", False)])
def test_a_table_of_another_gpu_is_said(capsys, tmp_path, hw, warned):
    """The tables' `device` (NVIDIA A100-SXM4-80GB) names a GPU model the profile's name does
    not: one warning line, the figures still printed; none for the A100 profile, and none for
    a name without a model number (Jetson AGX Orin: not judged)."""
    path = tmp_path / "g.csv"
    path.write_text('"device","m","n","k","latency"\n"NVIDIA A100-SXM4-80GB",4096,4096,4096,'
                    '0.25\n')
    code, out, err = run(["validate", "--kernels", str(path), "-H", hw], capsys)
    assert code == 0 and "gemm" in out
    want = (f"warning: --kernels: the tables were measured on NVIDIA A100-SXM4-80GB, and -H {hw} "
            "is NVIDIA H100 SXM5 80GB: their errors are those of a prediction for another "
            "device; give the profile of the device they ran on\n") if warned else ""
    assert err == want
