"""The exact decode sum for piecewise-affine operators. A decode operator's FLOPs and bytes
are affine in the step between knee steps where a min() in its keys switches (a sliding
window, a rolling KV cache, a sparse top-k: core/decode_caps.decode_knees). The steps
0..N-2 are cut at every knee that falls inside, per point (the knees are arrays over the
grid), into segments on which every operator is affine; each segment is summed in closed
form from the operators at its first and last step, and the segments are added.
Points where no knee falls inside keep the one-segment sum bit for bit.
Formula: docs/methodology.md, "Exact decode sum, rolling KV cache and sparse decode attention".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from costmodel.core.ops import Arr, Op


@dataclass(frozen=True)
class Segment:
    """Steps first..last (`count` of them, 0 for an empty one); the ops at both ends."""

    count: Arr
    span: Arr  # last - first, at least 1 (the closed form's divisor)
    ops_first: list[Op]
    ops_last: list[Op]


@dataclass(frozen=True)
class Segments:
    inside: Arr  # bool per point: some knee falls strictly inside the steps
    parts: tuple[Segment, ...]


def _inside(t: Arr, last: Arr) -> Arr:
    """A knee t (keys affine up to step floor(t), different after) changes the sum's shape
    when 0 < t and floor(t) < last, with at least three steps (two are always affine)."""
    return (t > 0) & (np.floor(t) < last) & (last >= 2)


def segments(knees: list[Arr], n_steps: Arr,
             ops_at: Callable[[Arr], list[Op]]) -> Segments | None:
    """The segments of steps 0..n_steps-1 cut at the knees inside (None: none anywhere).
    ops_at(step array) -> the decode operators at that step, per point."""
    last = np.asarray(n_steps, dtype=float) - 1.0
    cuts: list[Arr] = []
    inside = np.zeros_like(last, dtype=bool)
    for t in knees:
        on = _inside(t, last)
        if not np.any(on):
            continue
        cut = np.where(on, np.floor(t), last)  # an outside knee cuts at the end: empty after
        if any(c.shape == cut.shape and np.array_equal(c, cut) for c in cuts):
            continue
        cuts.append(cut)
        inside = inside | on
    if not cuts:
        return None
    ends = list(np.sort(np.stack(np.broadcast_arrays(*cuts)), axis=0)) + [last + 0 * cuts[0]]
    parts, first = [], 0.0 * ends[0]
    for end in ends:
        count = np.maximum(end - first + 1.0, 0.0)
        a, b = np.clip(first, 0.0, np.maximum(last, 0.0)), np.clip(end, 0.0, None)
        b = np.maximum(b, a)
        parts.append(Segment(count, np.maximum(b - a, 1.0), ops_at(a), ops_at(b)))
        first = end + 1.0
    return Segments(inside, tuple(parts))


def combine(today: Any, parts: list[Any], inside: Arr) -> Any:
    """An OpCost-like dataclass: the sum of the segments' costs where a knee is inside,
    `today` (the one-segment sum) elsewhere, field by field."""
    vals = {}
    for f in dataclasses.fields(today):
        if f.name == "op":
            continue
        total = sum(getattr(p, f.name) for p in parts)
        vals[f.name] = np.where(inside, total, getattr(today, f.name))
    return dataclasses.replace(today, **vals)
