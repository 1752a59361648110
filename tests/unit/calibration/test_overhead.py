"""The per-kernel framework cost (costmodel.calibration.overhead), by hand: a probe step
predicted at T0 with L = 0 and counting N kernels gives L = (measured - T0) / N."""

from __future__ import annotations

import pytest

from costmodel.calibration import overhead
from costmodel.calibration.microbench import PROBE_PROMPT, probe_spec


def test_per_kernel_cost_recovers_a_known_overhead(gpu):
    f = gpu.source_file
    spec = probe_spec()
    t0 = overhead._step_s(spec, f, 0.0, "bf16", PROBE_PROMPT)
    t40 = overhead._step_s(spec, f, 40.0, "bf16", PROBE_PROMPT)
    per_kernel, kernels = overhead.per_kernel_s(spec, f, "bf16", PROBE_PROMPT, t40, 1e-6)
    assert per_kernel == pytest.approx(40e-6, rel=1e-6)
    assert kernels == pytest.approx((t40 - t0) / 40e-6, rel=1e-6)
    assert 40 < kernels < 200  # 4 layers of norm, q, k, v, rope, attention, o, adds, MLP


def test_per_kernel_cost_never_below_the_launch(gpu):
    per_kernel, _ = overhead.per_kernel_s(probe_spec(), gpu.source_file, "bf16", PROBE_PROMPT,
                                          1e-9, 5e-6)
    assert per_kernel == 5e-6
