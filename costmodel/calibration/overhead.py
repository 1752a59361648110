"""The per-kernel framework cost of eager PyTorch on a device, from one measured decode step of
a model whose arithmetic is negligible (costmodel.calibration.microbench.probe_spec).

In an eager model every operator costmodel counts carries more than a kernel launch: the
Python module call, dispatch, the views and reshapes around it, the KV-cache write, the RoPE
tables. On the development CPU a 1-thread decode step of an 8-layer, hidden-512 model took
33 ms, of which the profiler's operator self times covered 26: about 1 ms per layer happens
in Python between kernels. A one-element add (`launch_overhead_s`, ~4-8 us) measures only
the launch. So the profile's `kernel_launch_overhead_us`, which the `torch-eager` engine
charges once per counted kernel, is

    L = (measured probe step - predicted probe step at L = 0) / kernels counted in that step

in seconds per kernel, and at least the one-element add's launch. The predicted step is
affine in L (each counted kernel adds L), so kernels = (T(1 us) - T(0)) / 1 us, both from the
calibrated profile itself. Pure numpy over the core: no torch here.
"""

from __future__ import annotations

import numpy as np

from costmodel.specs.hardware import HardwareFile, HardwareProfile
from costmodel.specs.model import ModelSpec

PROBE_ENGINE = "torch-eager"


def _step_s(spec: ModelSpec, f: HardwareFile, launch_us: float, act_dtype: str,
            prompt: int) -> float:
    from costmodel.analysis.prepare import prepare
    from costmodel.core.evaluate import evaluate
    from costmodel.specs.workload import Workload

    trial = {**f.sources, "kernel_launch_overhead_us": "a trial value of calibrate's fit"}
    hw = HardwareProfile.from_file(f.model_copy(update={"kernel_launch_overhead_us": launch_us,
                                                        "sources": trial}))
    w = Workload(act_dtype=act_dtype, engine=PROBE_ENGINE, output_tokens=2)
    cols = {"batch": np.ones(1), "visual_tokens": np.zeros(1),
            "text_tokens": np.asarray([float(prompt)])}
    return float(np.ravel(evaluate(spec, prepare(spec, [hw], w, columns=cols)).tpot_s)[0])


def per_kernel_s(spec: ModelSpec, f: HardwareFile, act_dtype: str, prompt: int,
                 measured_step_s: float, floor_s: float) -> tuple[float, float]:
    """(L in seconds, kernels counted in one decode step of `spec`) (module docstring)."""
    t0 = _step_s(spec, f, 0.0, act_dtype, prompt)
    kernels = (_step_s(spec, f, 1.0, act_dtype, prompt) - t0) / 1e-6
    return max((measured_step_s - t0) / kernels, floor_s), kernels
