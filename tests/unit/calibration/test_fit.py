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
