"""Robust timing of one kernel for `costmodel calibrate` (torch; imported only by that command).

The statistic (stated once, here): a kernel is timed in `repeats` batches of back-to-back
calls, each batch at least MIN_BATCH_S long (so a short kernel is not timed at the clock's
resolution); the time per call is the **median over batches** of batch time / calls, the same
statistic `costmodel profile` reports for the model it validates against.

Contention: the spread of a measurement is (75th - 25th percentile) / median over its
batches; another process sharing the cores shows as a wide spread, so a measurement whose
spread exceeds SPREAD_LIMIT is taken again (up to RETRIES times) and the try with the
smallest spread is kept; if every try is wide, the measurement is kept but counted as noisy,
and `costmodel calibrate` reports how many were (it never writes them silently). The rule
(SPREAD_LIMIT, RETRIES, `spread`) is defined once, in costmodel.reference.contention, which
`costmodel profile` times the model under too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from costmodel.reference.contention import RETRIES, SPREAD_LIMIT, spread

MIN_BATCH_S = 2e-3  # shortest timed batch of back-to-back calls (s)
MAX_CALLS = 1000  # most calls in one batch


@dataclass(frozen=True)
class Timing:
    seconds: float  # median over batches of the time per call (s)
    spread: float  # (p75 - p25) / median over batches

    @property
    def noisy(self) -> bool:
        return self.spread > SPREAD_LIMIT


@dataclass
class Timer:
    """Times callables on one device; remembers every measurement's spread."""

    torch: Any
    device: str
    repeats: int
    timings: list[Timing] = field(default_factory=list)

    def _sync(self) -> None:
        if self.device == "cuda":
            self.torch.cuda.synchronize()

    def _calls(self, fn: Callable[[], Any]) -> int:
        """Calls per batch: enough for a batch to last MIN_BATCH_S (one warm-up call first)."""
        fn()
        self._sync()
        t0 = time.perf_counter()
        fn()
        self._sync()
        one = max(time.perf_counter() - t0, 1e-7)
        return int(min(max(MIN_BATCH_S / one, 1), MAX_CALLS))

    def _once(self, fn: Callable[[], Any], calls: int) -> Timing:
        times = []
        for _ in range(self.repeats):
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
            self._sync()
            times.append((time.perf_counter() - t0) / calls)
        return Timing(float(np.median(times)), spread(times))

    def timing(self, fn: Callable[[], Any], calls: int | None = None) -> Timing:
        """The module's statistic for `fn`, retried while its spread is above the limit."""
        calls = calls or self._calls(fn)
        best = self._once(fn, calls)
        for _ in range(RETRIES):
            if not best.noisy:
                break
            again = self._once(fn, calls)
            best = again if again.spread < best.spread else best
        self.timings.append(best)
        return best

    def per_call_s(self, fn: Callable[[], Any], calls: int | None = None) -> float:
        return self.timing(fn, calls).seconds

    def noisy_count(self) -> int:
        return sum(t.noisy for t in self.timings)

    def worst_spread(self) -> float:
        return max((t.spread for t in self.timings), default=0.0)
