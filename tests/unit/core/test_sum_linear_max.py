"""roofline.sum_linear_max, the closed form every decode total goes through, against the
step loop it replaces: sum over j = 0..n-1 of max(a1 + b1*j, a2 + b2*j), including the flat
and crossing cases and a slope of -0.0 (which must count as flat, not as falling)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from costmodel.core.roofline import sum_linear_max

VALUE = st.one_of(st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5]),
                  st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False))


def _loop(a1: float, b1: float, a2: float, b2: float, n: int) -> float:
    j = np.arange(n, dtype=float)
    return float(np.maximum(a1 + b1 * j, a2 + b2 * j).sum())


@given(VALUE, VALUE, VALUE, VALUE, st.integers(0, 60))
def test_closed_form_equals_the_loop(a1, b1, a2, b2, n):
    got = float(sum_linear_max(np.array([a1]), np.array([b1]), np.array([a2]),
                               np.array([b2]), np.array([float(n)]))[0])
    want = _loop(a1, b1, a2, b2, n)
    assert abs(got - want) <= 1e-9 * max(1.0, abs(want), abs(a1) * n, abs(b1) * n * n,
                                         abs(a2) * n, abs(b2) * n * n)


def test_by_hand():
    """x = 3 - j, y = 1 (n = 5): max = 3, 2, 1, 1, 1 -> 8; a flat x above y by 2 with a -0.0
    slope: every step is x (5 x 3 = 15), none is y."""
    args = [np.array([v]) for v in (3.0, -1.0, 1.0, 0.0, 5.0)]
    assert sum_linear_max(*args)[0] == 8.0
    flat = [np.array([v]) for v in (3.0, -0.0, 1.0, 0.0, 5.0)]
    assert sum_linear_max(*flat)[0] == 15.0
