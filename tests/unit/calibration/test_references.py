"""Calibration robustness without torch: the reference checks
(costmodel.calibration.references), the robust timer's retries (costmodel.calibration.timing,
on a fake clock), the bound split of the fit and the bandwidth peak (profile_writer)."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.calibration import timing
from costmodel.calibration.microbench import Sample
from costmodel.calibration.profile_writer import fit_samples, measured_peaks
from costmodel.calibration.references import (
    DRIFT_LIMIT,
    Reference,
    drifted,
    problems,
    reference_ops,
)
from costmodel.core.ops import linear
from costmodel.units import DType

OPS = reference_ops("cpu", 4.0)
GEMM_FLOPS = 2.0 * 2048**3


def _refs(add=(0.010, 0.011), copy=(0.007, 0.007), gemm=(0.15, 0.15)) -> list[Reference]:
    return [Reference("add", OPS["add"], *add), Reference("copy", OPS["copy"], *copy),
            Reference("gemm", OPS["gemm"], *gemm)]


def test_a_consistent_profile_passes():
    assert problems(_refs(), {"add": 0.0105, "copy": 0.0075}, GEMM_FLOPS / 0.14, True) == []


def test_bandwidth_nine_times_too_slow_is_refused():
    """The issue's profile: 2.42 GB/s written where a plain add moved 22 GB/s."""
    found = problems(_refs(), {"add": 0.095, "copy": 0.007}, GEMM_FLOPS / 0.15, True, 2.42e9)
    assert len(found) == 2 and "reference add" in found[0] and "25%" in found[0]
    assert "reference copy" in found[1]


def test_a_slow_copy_alone_is_not_refused():
    """The copy is checked one-sided: a copy slower than the bandwidth figure passes, and so
    does a bandwidth below one fast copy measurement but not below the slower one."""
    refs = _refs(copy=(0.012, 0.010))
    assert problems(refs, {"add": 0.0105, "copy": 0.007}, GEMM_FLOPS / 0.15, True, 22e9) == []
    fast = _refs(copy=(0.0055, 0.0075))  # 24.4 and 17.9 GB/s for 128 MiB moved
    assert problems(fast, {"add": 0.0105, "copy": 0.007}, GEMM_FLOPS / 0.15, True, 15e9) == []
    assert problems(fast, {"add": 0.0105, "copy": 0.007}, GEMM_FLOPS / 0.15, True, 14e9)


def test_prediction_inside_the_measured_range_passes():
    # the two measurements span 10..14 ms; 13.5 ms lies inside, 18 ms is 29% above 14
    refs = _refs(add=(0.010, 0.014))
    assert problems(refs, {"add": 0.0135, "copy": 0.007}, GEMM_FLOPS / 0.15, True) == []
    assert problems(refs, {"add": 0.018, "copy": 0.007}, GEMM_FLOPS / 0.15, True)


@pytest.mark.parametrize("peak_s, measured, bad", [
    (0.15, True, False),  # peak = the reference's rate
    (0.20, True, True),  # peak 33% below the GEMM's rate: every GEMM priced too slow
    (0.07, True, True),  # measured peak 2.1x a plain GEMM's rate: a mistimed sample
    (0.07, False, False),  # a datasheet peak (--base) may lie far above
])
def test_peak_check(peak_s, measured, bad):
    found = problems(_refs(), {"add": 0.0105, "copy": 0.007}, GEMM_FLOPS / peak_s, measured)
    assert bool(found) == bad


def test_drift_is_reported_not_refused():
    refs = _refs(add=(0.010, 0.010 * (1 + DRIFT_LIMIT) * 1.1))
    assert problems(refs, {"add": 0.012, "copy": 0.007}, GEMM_FLOPS / 0.15, True) == []
    (warning,) = drifted(refs)
    assert "reference add" in warning and "busy" in warning
    assert drifted(_refs()) == []


class _Clock:
    """time.perf_counter stand-in: each call of the timed function advances it."""

    def __init__(self, durations):
        self.now, self.durations = 0.0, iter(durations)

    def perf_counter(self):
        return self.now

    def call(self):
        self.now += next(self.durations)


def _timer(monkeypatch, durations, repeats=4):
    clock = _Clock(durations)
    monkeypatch.setattr(timing.time, "perf_counter", clock.perf_counter)
    return timing.Timer(None, "cpu", repeats), clock


def test_timer_keeps_the_median_of_a_quiet_measurement(monkeypatch):
    # 2 probe calls of 1 s (one call per batch: 1 s > MIN_BATCH_S), then 4 batches
    t, clock = _timer(monkeypatch, [1.0, 1.0, 1.0, 1.1, 1.0, 1.0])
    got = t.timing(clock.call)
    assert got.seconds == pytest.approx(1.0)
    assert not got.noisy and t.noisy_count() == 0


def test_timer_retries_a_wide_measurement_and_keeps_the_quietest(monkeypatch):
    wide = [1.0, 3.0, 1.0, 3.0]  # spread (p75 - p25) / median = 1.0
    quiet = [1.0, 1.0, 1.02, 1.0]
    t, clock = _timer(monkeypatch, [1.0, 1.0] + wide + quiet)
    got = t.timing(clock.call)
    assert got.seconds == pytest.approx(1.0) and got.spread < timing.SPREAD_LIMIT


def test_timer_counts_a_measurement_that_stays_wide(monkeypatch):
    wide = [1.0, 3.0, 1.0, 3.0]
    t, clock = _timer(monkeypatch, [1.0, 1.0] + wide * (1 + timing.RETRIES))
    assert t.timing(clock.call).noisy and t.noisy_count() == 1 and t.worst_spread() == 1.0


def test_fit_keys_linear_by_intensity_and_gemvs_by_width(gpu):
    """my-gpu: 300 TFLOP/s bf16, 2000 GB/s. A 4096-row GEMM (compute-bound, ~1365 FLOP/byte)
    fits `linear` over intensity; 1-row GEMVs (memory-bound) fit `linear_memory` over their
    input width k."""
    gemv = linear("g", "d", np.asarray([1.0]), 4096, 4096, False, 2.0, 2.0)
    gemm = linear("g", "p", np.asarray([4096.0]), 4096, 4096, False, 2.0, 2.0)
    bare_gemv = (4096 * 4096 + 2 * 4096) * 2.0 / 2000e9
    bare_gemm = 2.0 * 4096**3 / 300e12
    narrow = linear("g", "d", np.asarray([1.0]), 512, 4096, False, 2.0, 2.0)
    bare_narrow = (512 * 4096 + 512 + 4096) * 2.0 / 2000e9
    curves = fit_samples([Sample("linear", gemv, bare_gemv / 0.5),
                          Sample("linear", narrow, bare_narrow / 0.25),
                          Sample("linear", gemm, bare_gemm / 0.8)], gpu, DType.bf16, 0.0)
    assert curves["linear"] == {"flop_per_byte": [pytest.approx(
        float(gemm.matmul_flops[0] / gemm.bytes[0]), rel=1e-3)], "efficiency": [0.8]}
    assert curves["linear_memory"] == {"gemm_k": [512.0, 4096.0], "efficiency": [0.25, 0.5]}


def test_fit_splits_attention_by_bound(gpu):
    """Decode attention (one query over 4096 cached keys: memory-bound) gets
    `attention_memory`; causal prefill attention over 4096 tokens (compute-bound) `attention`."""
    from costmodel.core.ops import AttnShape, attention

    one = np.asarray([1.0])
    dec = AttnShape(seqs=one, q=one, k=one * 4096, heads=32, kv_heads=8, head_dim=128,
                    causal=False, kv_from_cache=True)
    pre = AttnShape(seqs=one, q=one * 4096, k=one * 4096, heads=32, kv_heads=8, head_dim=128,
                    causal=True, kv_from_cache=False)
    ops = [attention("a", "d", dec, 2.0, 2.0, True)[0], attention("a", "p", pre, 2.0, 2.0, True)[0]]
    curves = fit_samples([Sample("attention", op, 1e-3) for op in ops], gpu, DType.bf16, 0.0)
    assert set(curves) == {"attention", "attention_memory"}


def test_bandwidth_peak_is_the_stream_add():
    """The issue: a fresh-output add of the same size (page faults: 5x slower) was written as
    the bandwidth; the figure is now the stream add's, passed explicitly."""
    got = measured_peaks(22.3e9, {"fp32": 1.3e11})
    assert got["memory_bandwidth_GBps"] == 22.3 and got["peak_tflops"] == {"fp32": 0.13}
