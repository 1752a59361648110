"""fp8 GEMMs: the large-GEMM fraction of the fp8 peak from MAMF's fp8 sweep
(`gemm_fraction_fp8`, core/efficiency.for_fp8) and, in the kernel tables, the input
quantisation the collectors time with each fp8 call (kernel_tables.QUANTISED_INPUT).
docs/validation.md, "Kernel efficiency from measured tables"."""

from __future__ import annotations

import json

import numpy as np
import pytest

from costmodel.analysis.estimate import estimate
from costmodel.calibration import kernel_tables as kt
from costmodel.core import efficiency as eff
from costmodel.core.efficiency import params_of
from costmodel.loading.load import load_hardware
from tests.helpers import KERNELS

H100 = load_hardware("h100-sxm")
FP8_SAMPLES = [str(KERNELS / f"h100_sxm_{fw}_fp8_gemm_heldout.csv.gz") for fw in ("vllm", "trtllm")]


def test_fraction_is_mamf_over_the_fp8_peak():
    p = params_of(H100.kernel_params)
    assert p.gemm_fraction_fp8 == pytest.approx(1402.6 / 1979, abs=1e-4)
    assert eff.for_fp8(p, True).gemm_fraction == p.gemm_fraction_fp8
    assert eff.for_fp8(p, False) is p
    assert eff.for_fp8(eff.KernelParams(gemm_fraction=0.8), True).gemm_fraction == 0.8  # no fp8 figure


def test_a_table_row_is_quantise_then_gemm_by_hand():
    f = kt.read_tables(FP8_SAMPLES[:1])
    row = f[f["gemm_dtype"] == "fp8"].iloc[:1]
    p, dev = params_of(H100.kernel_params), kt.device(H100)
    m, n, k = (float(row[c].iloc[0]) for c in "mnk")
    gemm = eff.gemm_time_s(m, n, k, H100.peak_flops_per_s_by_dtype[kt.DType.fp8], 1.0, 1.0, 2.0, dev,
                           eff.for_fp8(p, True))
    quant = 3.0 * m * k / (H100.memory_bytes_per_s * p.memory_fraction) + p.gemm_fixed_s
    pred, _ = kt.predict(row, H100, p)
    assert pred[0] == pytest.approx(float(gemm) + quant, rel=1e-12)


def test_held_out_fp8_rows_with_and_without_the_rules(monkeypatch):
    """Held-out H100 rows (tests/data/kernels/NOTE.md), bound >= 10 us: about 26% (fp8) and
    38% (fp8_block) too fast at the bf16 fraction with no quantisation; 10-20% with both."""
    f = kt.read_tables(FP8_SAMPLES)
    p = params_of(H100.kernel_params)

    def medians() -> dict[str, float]:
        pred, bound = kt.predict(f, H100, p)
        err = np.abs(pred - f["measured_s"]) / f["measured_s"]
        big = bound >= kt.SMALL_S
        return {d: float(np.median(err[big & (f["gemm_dtype"] == d)])) for d in ("fp8", "fp8_block")}

    now = medians()
    monkeypatch.setattr(kt, "QUANTISED_INPUT", ())
    monkeypatch.setattr(kt.eff, "for_fp8", lambda q, fp8: q)
    before = medians()
    assert now["fp8"] < 0.14 and now["fp8_block"] < 0.25
    assert before["fp8"] > 0.2 and before["fp8_block"] > 0.3


def _ops(hw: str, dtype: str):  # noqa: ANN202
    e = estimate("llama-3-8b", hw, engine="vllm", batch=8, visual_tokens=0, text_tokens=2048,
                 output_tokens=4, act_dtype=dtype, weight_dtype=dtype, kv_dtype="bf16")
    return e.to_frame().set_index(["stage", "op"])["latency_s"]


def test_fp8_estimates_run_their_gemms_at_the_fp8_fraction(tmp_path):
    src = H100.source_file.model_dump(mode="json")
    src["id"] = "h100-no-fp8-fraction"
    src["kernel_efficiency"]["gemm_fraction_fp8"] = 0.0
    f = tmp_path / "h100.yaml"
    f.write_text(json.dumps(src))  # JSON is YAML
    now, flat = _ops("h100-sxm", "fp8"), _ops(str(f), "fp8")
    lin = [k for k in now.index if k[0] == "prefill" and "/mlp/" in k[1]]
    ratio = now[lin].to_numpy() / flat[lin].to_numpy()
    # compute-bound 2048-row GEMMs: up to 0.803 / 0.7087 = 1.133 slower; never faster
    assert (ratio >= 1.0 - 1e-12).all() and ratio.max() > 1.1 and ratio.max() < 0.803 / 0.7087 + 1e-6
    a, b = _ops("h100-sxm", "bf16"), _ops(str(f), "bf16")  # bf16 math: the same figures
    assert np.allclose(a.to_numpy(), b.to_numpy(), rtol=1e-12)
