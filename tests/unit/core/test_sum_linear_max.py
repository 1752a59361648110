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


def _plain(a1, b1, a2, b2, n):
    """The expressions sum_linear_max and _series had before they worked in place."""
    def series(a, b, lo, hi):
        return (hi - lo) * a + b * (hi * (hi - 1) - np.asarray(lo) * (np.asarray(lo) - 1)) / 2.0

    c, e = a1 - a2, b1 - b2 + 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        root = -c / e
    rising = e >= 0
    lo = np.where(rising, np.fmin(np.fmax(np.floor(root) + 1, 0.0), n), 0.0)
    hi = np.where(rising, n, np.fmin(np.fmax(np.ceil(root), 0.0), n))
    return series(a2, b2, 0.0, n) + series(c, e, lo, np.maximum(hi, lo))


def test_in_place_equals_the_plain_expressions_bit_for_bit():
    """Device rows [4, K] against a step count [1, K] (a sweep's shapes), with zeros of both
    signs, flat and crossing lines: the same bits (-0.0 included), inputs left as they were."""
    rng = np.random.default_rng(1)
    pick = np.array([0.0, -0.0, 1.0, -1.0, 0.5, 3.0, -2.5])
    a1, b1, a2, b2 = (rng.choice(pick, (4, 300)) * rng.choice([1.0, 1e-3, 7.0], (4, 300))
                      for _ in range(4))
    n = rng.integers(0, 50, (1, 300)).astype(float)
    before = [x.copy() for x in (a1, b1, a2, b2, n)]
    got, want = sum_linear_max(a1, b1, a2, b2, n), _plain(a1, b1, a2, b2, n)
    assert got.shape == want.shape == (4, 300)
    assert got.tobytes() == want.tobytes()
    for x, y in zip((a1, b1, a2, b2, n), before, strict=True):
        assert x.tobytes() == y.tobytes()


def test_scalars_give_the_plain_expressions_sum():
    """0-d inputs (host_overlap.decode_s passes them) take the same path over one element."""
    args = [np.array(v) for v in (3.0, -1.0, 1.0, -0.0, 5.0)]
    got = sum_linear_max(*args)
    assert np.ndim(got) == 0 and float(got) == float(_plain(*args)) == 8.0


def test_a_subnormal_slope_difference_counts_as_flat_without_a_warning():
    """-c / e overflows for a subnormal e (hypothesis found it): the infinity it gives counts
    every step (c > 0) or none (c < 0), as e == 0 does, and numpy's overflow warning is not
    raised from inside the core."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        over = [np.array([v]) for v in (1.0, 5e-324, 0.0, 0.0, 10.0)]
        under = [np.array([v]) for v in (-1.0, 5e-324, 0.0, 0.0, 10.0)]
        assert sum_linear_max(*over)[0] == 10.0
        assert sum_linear_max(*under)[0] == 0.0
