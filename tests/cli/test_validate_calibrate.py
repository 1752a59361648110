"""`costmodel validate` and `costmodel calibrate` through the real CLI entry point."""

from __future__ import annotations

import json

import pytest
import yaml

from costmodel.analysis.estimate import estimate
from costmodel.loading.load import hardware_file, load_hardware, load_model, read_yaml
from tests.helpers import DATA, run

L3 = str(DATA / "vidur" / "a100_Meta-Llama-3-8B_mlp.csv")
LLAMA = {"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32,
         "num_attention_heads": 32, "num_key_value_heads": 32, "intermediate_size": 11008,
         "vocab_size": 32000}
PROFILE_HEADER = ("device_name,torch_version,dtype,model,batch,visual_tokens,text_tokens,stage,"
                  "context_tokens,median_s,p25_s,p75_s,repeats,mode,date")


def test_validate_vidur_table_and_plot(capsys, tmp_path):
    png = tmp_path / "v.png"
    code, out, err = run(["validate", "-m", L3, "-H", "a100-80gb-vidur", "--plot", str(png)],
                         capsys)
    assert code == 0, err
    assert "median APE" in out and "mlp_up_proj 512-4096" in out and "eager" in out
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"


def test_validate_json_points_and_summary(capsys):
    code, out, _ = run(["validate", "-m", L3, "-H", "a100-80gb", "--format", "json",
                        "--execution", "cuda_graph"], capsys)
    doc = json.loads(out)
    assert code == 0 and doc["kind"] == "vidur" and doc["execution"] == "cuda_graph"
    assert len(doc["points"]) == 4560
    p = doc["points"][0]
    assert p["ape_pct"] == pytest.approx(
        100 * abs(p["predicted_s"] - p["measured_s"]) / p["measured_s"])
    assert {"group", "points", "median_ape_pct", "max_ape_pct"} <= set(doc["summary"][0])


def test_validate_profile_csv_matches_estimate(capsys, tmp_path):
    cfg = tmp_path / "llama" / "config.json"
    cfg.parent.mkdir()
    cfg.write_text(json.dumps(LLAMA))
    csv = tmp_path / "m.csv"
    csv.write_text(PROFILE_HEADER + "\n"
                   f"H100,2.13,bf16,{cfg},2,0,300,prefill,0,0.05,0.04,0.06,5,eager,2026-01-01\n"
                   f"H100,2.13,bf16,{cfg},2,0,0,decode,701,0.02,0.019,0.021,5,eager,2026-01-01\n")
    code, out, err = run(["validate", "-m", str(csv), "-H", "h100-sxm-vidur", "-f", "json"],
                         capsys)
    assert code == 0, err
    pts = json.loads(out)["points"]
    spec, hw = load_model(str(cfg)), load_hardware("h100-sxm-vidur")
    # the rows' mode 'eager' is the reference model's engine, torch-eager (MODE_ENGINES)
    kw = {"batch": 2, "visual_tokens": 0, "engine": "torch-eager"}
    pre = estimate(spec, hw, text_tokens=300, output_tokens=1, **kw)
    dec = estimate(spec, hw, text_tokens=700, output_tokens=2, **kw)
    assert pts[0]["predicted_s"] == pytest.approx(pre.ttft_s)
    assert pts[1]["predicted_s"] == pytest.approx(dec.tpot_s)
    assert pts[0]["group"] == "prefill" and pts[1]["group"] == "decode"


def test_validate_bad_file_one_line(capsys, tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,2\n")
    code, _, err = run(["validate", "-m", str(bad), "-H", "a100-80gb"], capsys)
    assert code == 2 and err.count("\n") == 1 and "--measurements" in err


def test_calibrate_from_vidur_needs_base(capsys, tmp_path):
    out = tmp_path / "p.yaml"
    code, _, err = run(["calibrate", "--from-vidur", L3, "-o", str(out)], capsys)
    assert code == 2 and "--base" in err and not out.exists()


@pytest.mark.slow
def test_calibrate_cpu_quick_writes_a_valid_profile(capsys, tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "cpu.yaml"
    code, stdout, err = run(["calibrate", "--device", "cpu", "--quick", "-o", str(out),
                             "--format", "json"], capsys)
    assert code == 0, err
    f = hardware_file(read_yaml(out), str(out))
    assert f.kernel_launch_overhead_us > 0
    assert {"linear", "elementwise", "norm", "attention"} <= set(
        f.efficiency_curves.model_dump(exclude_none=True))
    assert "measured by costmodel calibrate" in f.sources["peak_tflops"]
    assert json.loads(stdout)["kernel_launch_overhead_us"] == f.kernel_launch_overhead_us
    assert yaml.safe_load(out.read_text())["id"] == "cpu-calibrated"


def test_calibrate_cuda_without_cuda_is_one_line(capsys, tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    code, _, err = run(["calibrate", "--device", "cuda", "-o", str(tmp_path / "g.yaml")], capsys)
    assert code == 2 and "--device" in err


@pytest.mark.gpu
def test_calibrate_cuda_quick(capsys, tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    out = tmp_path / "g.yaml"
    code, _, err = run(["calibrate", "--device", "cuda", "--base", "h100-sxm", "--quick",
                        "-o", str(out)], capsys)
    assert code == 0, err
    assert hardware_file(read_yaml(out), str(out)).efficiency_curves.linear is not None


def test_calibrate_quick_and_thorough_together_is_one_line(capsys, tmp_path):
    out = tmp_path / "c.yaml"
    code, _, err = run(["calibrate", "--device", "cpu", "--quick", "--thorough", "-o",
                        str(out)], capsys)
    assert code == 2 and err.count("\n") == 1 and "--thorough" in err and not out.exists()


def _fake_result(stream_bps: float, add_s: tuple[float, float]):
    """A microbench.Result (no torch): two GEMMs, one add, the stream add, references."""
    import numpy as np

    from costmodel.calibration import microbench, references
    from costmodel.core.ops import ADD_FLOPS, linear, vector_op

    gemm = linear("g", "p", np.asarray([512.0]), 1024, 1024, False, 4.0, 4.0)
    gemv = linear("g", "d", np.asarray([1.0]), 1024, 1024, False, 4.0, 4.0)
    n = float(references.SIZES["cpu"][0])
    stream = vector_op("add", "p", "elementwise", np.asarray([n]), ADD_FLOPS, 2.0, 4.0)
    small = vector_op("add", "p", "elementwise", np.asarray([n / 4]), ADD_FLOPS, 2.0, 4.0)
    samples = [microbench.Sample("linear", gemm, 2 * 512 * 1024**2 / 1e11),
               microbench.Sample("linear", gemv, 4 * 1024**2 / 10e9),
               microbench.Sample("elementwise", small, 3 * n / stream_bps),
               microbench.Sample("elementwise", stream, 12 * n / stream_bps)]
    ops = references.reference_ops("cpu", 4.0)
    copy_s = 8 * n / stream_bps
    refs = references.combine(ops, {"add": add_s[0], "copy": copy_s, "gemm": 2 * 2048**3 / 1e11},
                              {"add": add_s[1], "copy": copy_s, "gemm": 2 * 2048**3 / 1e11})
    return microbench.Result("fake cpu", "fp32", 5e-6, samples, {"fp32": 1e11, "bf16": 1e9},
                             stream_bps, 2e-3, refs, 0, 10, 0.05, 1.0, "default", ", 2 threads")


def test_calibrate_refuses_a_profile_the_references_contradict(capsys, tmp_path, monkeypatch):
    """The issue's case: the bandwidth figure 9x below what a plain add moves. Nothing is
    written; one line names the reference and the tolerance."""
    from costmodel.calibration import microbench, references

    add_s = 12 * references.SIZES["cpu"][0] / 22e9
    monkeypatch.setattr(microbench, "run", lambda *a, **k: _fake_result(2.42e9, (add_s, add_s)))
    out = tmp_path / "c.yaml"
    code, _, err = run(["calibrate", "--device", "cpu", "-o", str(out)], capsys)
    assert code == 2 and err.count("\n") == 1 and "reference add" in err
    assert "nothing written" in err and not out.exists()


def test_calibrate_reports_what_it_measured_and_drift(capsys, tmp_path, monkeypatch):
    from costmodel.calibration import microbench, references

    add_s = 12 * references.SIZES["cpu"][0] / 22e9
    monkeypatch.setattr(microbench, "run",
                        lambda *a, **k: _fake_result(22e9, (add_s, 2.0 * add_s)))
    out = tmp_path / "c.yaml"
    code, stdout, err = run(["calibrate", "--device", "cpu", "-o", str(out), "-f", "json"],
                            capsys)
    assert code == 0, err
    doc = json.loads(stdout)
    assert [r["reference"] for r in doc["references"]] == ["add", "copy", "gemm"]
    assert doc["references"][0]["rate"] == pytest.approx(12 * references.SIZES["cpu"][0]
                                                         / (1.5 * add_s) / 1e9, rel=1e-3)
    assert len(doc["warnings"]) == 1 and "warning: calibrate: the reference add" in err
    f = hardware_file(read_yaml(out), str(out))
    assert f.memory_bandwidth_GBps == 22.0 and "Contention:" in f.notes
    assert "References: add" in f.notes
