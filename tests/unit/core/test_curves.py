"""Efficiency curves and execution mode in the roofline: hand-computed values, properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from costmodel.analysis.estimate import estimate
from costmodel.core.ops import linear, vector_op
from costmodel.core.roofline import Rates, op_times
from costmodel.specs.hardware import HardwareFile, HardwareProfile
from costmodel.units import DType
from tests.helpers import MY_GPU_YAML


def _profile(gpu: HardwareProfile, **update) -> HardwareProfile:
    data = gpu.source_file.model_dump()
    data.update(update)
    data["sources"] = {**data["sources"], **{k: "test figure" for k in update}}
    return HardwareProfile.from_file(HardwareFile.model_validate(data))


CURVE = {"linear": {"roofline_us": [1.0, 10.0], "efficiency": [0.5, 1.0]}}


def test_no_curve_is_the_bare_roofline(gpu):
    # my-gpu: 300 TFLOP/s bf16, 2000 GB/s. 2*64*1024*1024 FLOPs over 300e12 FLOP/s.
    op = linear("l", "prefill", np.asarray([64.0]), 1024, 1024, False, 2.0, 2.0)
    t = op_times(op, Rates.from_profiles([gpu], DType.bf16))
    assert t.compute_s[0] == pytest.approx(2 * 64 * 1024 * 1024 / 300e12)
    assert t.memory_s[0] == pytest.approx((1024 * 1024 + 2 * 64 * 1024) * 2 / 2000e9)


@pytest.mark.parametrize("bare_us, eff", [
    (1.0, 0.5),  # on the first knot
    (math.sqrt(10.0), 0.75),  # halfway in log10 between the knots
    (100.0, 1.0),  # above the last knot: the last efficiency holds
    (0.1, 0.05),  # below the first knot: latency stays at the first knot's (2 us)
])
def test_curve_interpolates_in_log_roofline_time(gpu, bare_us, eff):
    hw = _profile(gpu, efficiency_curves=CURVE)
    # memory-bound op whose bare time is bare_us: weights d x d in bf16 at 2000 GB/s, 1 row
    d = math.sqrt(bare_us * 1e-6 * 2000e9 / 2.0)
    op = linear("l", "decode", np.asarray([1.0]), 1, 1, False, 2.0, 2.0)
    op = type(op)(**{**op.__dict__, "weight_bytes": np.asarray([2.0 * d * d]),
                     "act_read_bytes": np.zeros(1), "act_write_bytes": np.zeros(1)})
    bare = op_times(op, Rates.from_profiles([gpu], DType.bf16)).memory_s[0]
    got = op_times(op, Rates.from_profiles([hw], DType.bf16)).memory_s[0]
    assert bare == pytest.approx(bare_us * 1e-6)
    assert got == pytest.approx(bare / eff)


def test_curve_applies_per_class_only(gpu):
    hw = _profile(gpu, efficiency_curves=CURVE)
    add = vector_op("a", "prefill", "elementwise", np.asarray([1e6]), 1.0, 2.0, 2.0)
    assert op_times(add, Rates.from_profiles([hw], DType.bf16)).memory_s[0] == pytest.approx(
        op_times(add, Rates.from_profiles([gpu], DType.bf16)).memory_s[0])


def test_mixed_devices_vectorised_equals_one_by_one(gpu):
    other = _profile(gpu, efficiency_curves={
        "linear": {"roofline_us": [0.5, 3.0, 50.0], "efficiency": [0.2, 0.6, 0.9]}})
    curved = _profile(gpu, efficiency_curves=CURVE)
    devs = [gpu, curved, other, curved]
    rows = np.asarray([1.0, 16.0, 256.0, 4096.0])
    op = linear("l", "prefill", rows, 4096, 4096, False, 2.0, 2.0)
    together = op_times(op, Rates.from_profiles(devs, DType.bf16))
    for i, h in enumerate(devs):
        one = linear("l", "prefill", rows[i:i + 1], 4096, 4096, False, 2.0, 2.0)
        alone = op_times(one, Rates.from_profiles([h], DType.bf16))
        assert together.compute_s[i] == pytest.approx(alone.compute_s[0])
        assert together.memory_s[i] == pytest.approx(alone.memory_s[0])


@pytest.mark.parametrize("bad, field", [
    ({"roofline_us": [1.0, 1.0], "efficiency": [0.5, 0.6]}, "roofline_us"),
    ({"roofline_us": [1.0, 2.0], "efficiency": [0.5, 1.5]}, "efficiency"),
    ({"roofline_us": [1.0, 2.0], "efficiency": [0.5]}, "efficiency"),
])
def test_bad_curve_names_the_field(gpu, bad, field):
    with pytest.raises(ValidationError, match=field):
        _profile(gpu, efficiency_curves={"linear": bad})


def test_engine_launch_overhead_per_kernel(llama2, gpu):
    """torch-eager pays the device's launch overhead once per kernel instance; a CUDA-graph
    engine pays none; hf-eager's launches (with its host overhead per kernel on top) overlap
    the device (host_overlap: async): the prefill takes the longer of the two; the bound pays
    no launches."""
    hw = _profile(gpu, kernel_launch_overhead_us=10.0)
    kw = dict(visual_tokens=0, text_tokens=128, output_tokens=1)
    eager = estimate(llama2, hw, engine="torch-eager", **kw)
    graph = estimate(llama2, hw, engine="torch-cuda-graph", **kw)
    kernels = sum(c.op.count for c in eager.evaluation.op_costs if c.op.stage == "prefill")
    assert eager.ttft_s - graph.ttft_s == pytest.approx(kernels * 10e-6)
    assert graph.ttft_s == pytest.approx(estimate(llama2, gpu, engine="torch-eager", **kw).ttft_s)
    hf = estimate(llama2, hw, engine="hf-eager", **kw)
    host = hf.prepared.engine.host_overhead_per_kernel_s
    launches = kernels * (10e-6 + host)
    assert hf.stages["prefill"].launch_s == pytest.approx(launches)
    assert hf.stages["prefill"].device_s == pytest.approx(graph.ttft_s)
    assert hf.ttft_s == pytest.approx(max(graph.ttft_s, launches))
    # my-gpu has efficiencies 1 and no curves: without launches the engine is at the bound
    assert eager.bound.ttft_s == graph.bound.ttft_s == hf.bound.ttft_s == graph.ttft_s < eager.ttft_s
    assert eager.to_dict()["engine"] == "torch-eager"


def test_test_profile_unchanged():
    assert "efficiency_curves" not in MY_GPU_YAML.read_text()


MEM_CURVES = {"linear": {"roofline_us": [1.0], "efficiency": [1.0]},
              "linear_memory": {"roofline_us": [1.0], "efficiency": [0.25]}}


def test_memory_bound_linear_takes_the_memory_curve(gpu):
    """A decode GEMV (memory-bound: 1 row) is priced by `linear_memory`, a 4096-row GEMM
    (compute-bound on my-gpu) by `linear`; both bare times are far above the 1 us knot."""
    hw = _profile(gpu, efficiency_curves=MEM_CURVES)
    gemv = linear("l", "decode", np.asarray([1.0]), 4096, 4096, False, 2.0, 2.0)
    gemm = linear("l", "prefill", np.asarray([4096.0]), 4096, 4096, False, 2.0, 2.0)
    bare, r = Rates.from_profiles([gpu], DType.bf16), Rates.from_profiles([hw], DType.bf16)
    assert op_times(gemv, r).memory_s[0] == pytest.approx(op_times(gemv, bare).memory_s[0] / 0.25)
    assert op_times(gemm, r).compute_s[0] == pytest.approx(op_times(gemm, bare).compute_s[0])


def test_device_without_memory_curve_keeps_its_linear_curve(gpu):
    """Mixing a device with `linear_memory` and one without it changes nothing for the latter:
    its memory-bound GEMVs still take its own `linear` curve."""
    with_mem = _profile(gpu, id="a", efficiency_curves=MEM_CURVES)
    plain = _profile(gpu, id="b", efficiency_curves=CURVE)
    gemv = linear("l", "decode", np.asarray([1.0]), 4096, 4096, False, 2.0, 2.0)
    both = op_times(gemv, Rates.from_profiles([with_mem, plain], DType.bf16)).memory_s
    alone = op_times(gemv, Rates.from_profiles([plain], DType.bf16)).memory_s
    assert both[1] == pytest.approx(alone[0])
    assert both[0] == pytest.approx(4 * op_times(gemv, Rates.from_profiles(
        [gpu], DType.bf16)).memory_s[0])


INTENSITY = {"linear": {"flop_per_byte": [1.0, 100.0], "efficiency": [0.4, 0.8]}}


@pytest.mark.parametrize("rows, eff", [
    (1.0, 0.4),  # a GEMV: intensity ~1 FLOP/byte (bf16), at the first knot
    (4096.0, 0.8),  # far above the last knot: clamped
])
def test_intensity_curve_prices_by_flop_per_byte(gpu, rows, eff):
    hw = _profile(gpu, efficiency_curves=INTENSITY)
    op = linear("l", "p", np.asarray([rows]), 4096, 4096, False, 2.0, 2.0)
    bare = op_times(op, Rates.from_profiles([gpu], DType.bf16))
    got = op_times(op, Rates.from_profiles([hw], DType.bf16))
    intensity = float(op.matmul_flops[0] / op.bytes[0])
    want = float(np.interp(np.log10(intensity), [0.0, 2.0], [0.4, 0.8]))
    assert want == pytest.approx(eff, abs=0.01)
    assert got.memory_s[0] == pytest.approx(bare.memory_s[0] / want)
    assert got.compute_s[0] == pytest.approx(bare.compute_s[0] / want)


def test_intensity_curve_per_device_falls_back_to_time_curve(gpu):
    """Mixed devices: one priced by intensity, one by its roofline-time curve."""
    by_i = _profile(gpu, id="a", efficiency_curves=INTENSITY)
    by_t = _profile(gpu, id="b", efficiency_curves=CURVE)
    op = linear("l", "p", np.asarray([64.0]), 4096, 4096, False, 2.0, 2.0)
    both = op_times(op, Rates.from_profiles([by_i, by_t], DType.bf16)).compute_s
    assert both[0] == pytest.approx(op_times(op, Rates.from_profiles([by_i], DType.bf16))
                                    .compute_s[0])
    assert both[1] == pytest.approx(op_times(op, Rates.from_profiles([by_t], DType.bf16))
                                    .compute_s[0])


@pytest.mark.parametrize("curve, field", [
    ({"efficiency": [0.5]}, "roofline_us, flop_per_byte"),
    ({"roofline_us": [1.0], "flop_per_byte": [1.0], "efficiency": [0.5]},
     "roofline_us, flop_per_byte"),
    ({"flop_per_byte": [2.0, 1.0], "efficiency": [0.5, 0.6]}, "flop_per_byte"),
])
def test_curve_key_errors_name_the_field(gpu, curve, field):
    with pytest.raises(ValidationError, match=field):
        _profile(gpu, efficiency_curves={"linear": curve})


def test_memory_bound_gemm_priced_by_input_width(gpu):
    """`linear_memory` over `gemm_k`: a GEMV with k = 1000 (between knots 500 and 2000, halfway
    in log10) gets efficiency 0.45; a compute-bound GEMM keeps the intensity curve."""
    curves = {**INTENSITY,
              "linear_memory": {"gemm_k": [500.0, 2000.0], "efficiency": [0.3, 0.6]}}
    hw = _profile(gpu, efficiency_curves=curves)
    gemv = linear("l", "d", np.asarray([1.0]), 1000, 4096, False, 2.0, 2.0)
    bare = op_times(gemv, Rates.from_profiles([gpu], DType.bf16)).memory_s[0]
    got = op_times(gemv, Rates.from_profiles([hw], DType.bf16)).memory_s[0]
    assert gemv.gemm_k == 1000.0
    assert got == pytest.approx(bare / 0.45)
    gemm = linear("l", "p", np.asarray([4096.0]), 1000, 4096, False, 2.0, 2.0)
    only_intensity = _profile(gpu, efficiency_curves=INTENSITY)
    assert op_times(gemm, Rates.from_profiles([hw], DType.bf16)).compute_s[0] == pytest.approx(
        op_times(gemm, Rates.from_profiles([only_intensity], DType.bf16)).compute_s[0])


def test_width_curve_skips_linear_ops_without_k(gpu):
    """A memory-bound `linear` op not built by `linear()` (gemm_k 0: e.g. a compression
    method's similarity pass) keeps the intensity curve's efficiency."""
    curves = {**INTENSITY,
              "linear_memory": {"gemm_k": [500.0, 2000.0], "efficiency": [0.3, 0.6]}}
    hw = _profile(gpu, efficiency_curves=curves)
    only_intensity = _profile(gpu, efficiency_curves=INTENSITY)
    gemv = linear("l", "d", np.asarray([1.0]), 1000, 4096, False, 2.0, 2.0)
    no_k = type(gemv)(**{**gemv.__dict__, "gemm_k": 0.0})
    assert op_times(no_k, Rates.from_profiles([hw], DType.bf16)).memory_s[0] == pytest.approx(
        op_times(no_k, Rates.from_profiles([only_intensity], DType.bf16)).memory_s[0])
