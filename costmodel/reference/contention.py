"""The contention rule shared by `costmodel profile` (costmodel.reference.timing) and
`costmodel calibrate` (costmodel.calibration.timing); no torch here.

Another process sharing the cores shows as a wide spread between repeated timings of one
thing: spread = (75th - 25th percentile) / median (dimensionless). A measurement whose spread
exceeds SPREAD_LIMIT is taken again, at most RETRIES more times, and the try with the smallest
spread kept; one still above the limit is reported as noisy, never dropped or hidden.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SPREAD_LIMIT = 0.15  # spread above which a measurement is taken again
RETRIES = 2  # extra tries of a measurement whose spread is above SPREAD_LIMIT


def spread(times: Sequence[float]) -> float:
    """(p75 - p25) / median of repeated timings of one thing (dimensionless)."""
    q1, med, q3 = np.percentile(np.asarray(times, float), [25, 50, 75])
    return float(q3 - q1) / float(med)


def row_noisy(row: dict) -> bool:
    """A `costmodel profile` row (median_s, p25_s, p75_s; numbers or CSV strings) whose spread
    stayed above SPREAD_LIMIT after its retries."""
    med, q1, q3 = (float(row[k]) for k in ("median_s", "p25_s", "p75_s"))
    return (q3 - q1) / med > SPREAD_LIMIT
