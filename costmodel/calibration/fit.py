"""Fit an efficiency curve from (bare roofline time, measured time) pairs. Pure numpy.

Implied efficiency of one measurement = roofline_s / measured_s (the fraction of the roofline
the kernel achieved). The curve (see costmodel.core.roofline) is piecewise-linear in
log10(roofline_s): points are binned by `per_decade` bins per decade of roofline time; each
bin with at least `min_points` points gives one knot at the median log10(roofline_s) of its
points and the median implied efficiency, clipped to [1e-4, 1]. Medians, not means, so a few
noisy timings do not move the curve.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from costmodel.core.ops import Arr

MIN_EFF = 1e-4


def implied_efficiency(roofline_s: Arr, measured_s: Arr) -> Arr:
    return np.asarray(roofline_s, dtype=float) / np.asarray(measured_s, dtype=float)


def fit_curve(roofline_s: Arr, measured_s: Arr, per_decade: int = 4,
              min_points: int = 1, key: Arr | None = None) -> tuple[list[float], list[float]]:
    """(knots in seconds, efficiency per knot). Raises ValueError if nothing can be fitted.
    `key`: bin and place knots by these values (e.g. arithmetic intensity in FLOP/byte)
    instead of by the roofline time; the efficiency is still roofline_s / measured_s."""
    t = np.asarray(roofline_s, dtype=float)
    m = np.asarray(measured_s, dtype=float)
    k = t if key is None else np.asarray(key, dtype=float)
    ok = (t > 0) & (m > 0) & (k > 0) & np.isfinite(t) & np.isfinite(m) & np.isfinite(k)
    x, eff = np.log10(k[ok]), implied_efficiency(t[ok], m[ok])
    if x.size == 0:
        raise ValueError("no positive (roofline, measured) pairs to fit")
    bins = np.floor(x * per_decade)
    knots, values = [], []
    for b in np.unique(bins):
        sel = bins == b
        if sel.sum() >= min_points or x.size < min_points:
            knots.append(float(10 ** np.median(x[sel])))
            values.append(float(np.clip(np.median(eff[sel]), MIN_EFF, 1.0)))
    return knots, values


def ape(predicted: ArrayLike, measured: ArrayLike) -> Arr:
    """Absolute percentage error, in percent: 100 * |predicted - measured| / measured."""
    p, m = np.asarray(predicted, dtype=float), np.asarray(measured, dtype=float)
    return 100.0 * np.abs(p - m) / m
