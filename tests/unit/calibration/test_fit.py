"""Efficiency-curve fitting (costmodel.calibration.fit): a known curve comes back, a constant
efficiency fits as a constant."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel.calibration.fit import fit_curve


def test_fit_recovers_a_known_curve():
    t = np.logspace(-6, -3, 200)
    true_eff = np.interp(np.log10(t), [-6, -3], [0.2, 0.8])
    knots, eff = fit_curve(t, t / true_eff)
    assert np.allclose(eff, np.interp(np.log10(knots), [-6, -3], [0.2, 0.8]), atol=0.02)


@settings(max_examples=30, deadline=None)
@given(e=st.floats(0.05, 1.0), seed=st.integers(0, 1000))
def test_fit_of_constant_efficiency_is_constant(e, seed):
    t = 10 ** np.random.default_rng(seed).uniform(-7, -2, 50)
    _, eff = fit_curve(t, t / e)
    assert np.allclose(eff, e, rtol=1e-9)


def test_a_calibrated_profile_is_priced_by_its_curves_not_the_bases_kernel_figures():
    """calibrated_file (calibrate --device --base and --from-vidur) keeps the base's datasheet
    figures but not its fitted kernel figures: on an engine that runs measured kernels those
    would replace the curves' times (core/roofline.op_times)."""
    from costmodel.calibration.profile_writer import KERNEL_FIGURES, calibrated_file
    from costmodel.core.roofline import Rates
    from costmodel.loading.load import load_engine, load_hardware
    from costmodel.specs.hardware import HardwareProfile
    from costmodel.units import DType

    base = load_hardware("a100-80gb")
    curves = {"linear": {"roofline_us": [1.0, 100.0], "efficiency": [0.3, 0.6]}}
    f = calibrated_file(base.source_file, "a100-test", curves, 0.0, "a test fit", "")
    vllm = load_engine("vllm")
    assert Rates.from_profiles([base], DType.bf16, vllm).kernels is not None  # can fail
    assert Rates.from_profiles([HardwareProfile.from_file(f)], DType.bf16, vllm).kernels is None
    assert not set(KERNEL_FIGURES) & (set(f.model_dump(exclude_none=True)) | set(f.sources))
    assert f.peak_tflops == base.source_file.peak_tflops and f.sm_count is None
