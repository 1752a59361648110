"""What-if hardware: --set overrides, `base:` inheritance, and their one-line errors (--set on
the command line: tests/cli/test_whatif_set.py)."""

from __future__ import annotations

import pytest

from costmodel.errors import CostmodelError, UnknownName
from costmodel.loading.load import hardware_data, load_hardware
from costmodel.loading.whatif import apply_overrides, merge
from costmodel.units import DType
from tests.helpers import MY_GPU_YAML


def test_absolute_and_multiplier_overrides():
    h = load_hardware("h100-sxm", ("memory_bandwidth_GBps=6700", "peak_tflops.bf16=x1.5"))
    base = load_hardware("h100-sxm")
    assert h.memory_bytes_per_s == 6700e9
    assert h.peak_flops_per_s(DType.bf16) == pytest.approx(1.5 * base.peak_flops_per_s(DType.bf16))
    assert h.peak_flops_per_s(DType.fp16) == base.peak_flops_per_s(DType.fp16)  # untouched
    assert h.id == "h100-sxm*" and base.id == "h100-sxm" and base.changes == ()
    assert h.changes == ("memory_bandwidth_GBps 3350 -> 6700", "peak_tflops.bf16 989.4 -> 1484.1")
    assert "what-if override" in h.source_file.sources["memory_bandwidth_GBps"]


def test_group_multiplier_scales_every_present_peak():
    base = load_hardware("a100-80gb")
    h = load_hardware("a100-80gb", ("peak_tflops=x2",))
    assert set(h.peak_flops_per_s_by_dtype) == set(base.peak_flops_per_s_by_dtype)
    for dt, v in base.peak_flops_per_s_by_dtype.items():
        assert h.peak_flops_per_s_by_dtype[dt] == pytest.approx(2 * v)


def test_overrides_apply_in_order_and_null_removes():
    data, _, _ = hardware_data("h100-sxm")
    out = apply_overrides(data, ("tdp_W=500", "tdp_W=x2", "peak_tflops.fp8=null",
                                 "efficiency.memory=0.8"))
    assert out["tdp_W"] == 1000.0 and out["peak_tflops"]["fp8"] is None
    assert out["efficiency"]["memory"] == 0.8
    assert data["tdp_W"] == 700  # the input is not modified


@pytest.mark.parametrize("item, needle", [
    ("bandwidth=10", "unknown key 'bandwidth'; valid keys: memory_GB, memory_bandwidth_GBps"),
    ("peak_tflops.bf17=1", "unknown key 'peak_tflops.bf17'"),
    ("memory_GB", "is not KEY=VALUE"),
    ("memory_GB=lots", "'lots' is not a number"),
    ("peak_tflops.int4=x2", "no value to multiply"),
    ("memory_GB=null", "every profile needs memory_GB; give a value"),
])
def test_bad_override_one_line(item, needle):
    data, _, _ = hardware_data("h100-sxm")
    with pytest.raises(CostmodelError, match=None) as e:
        apply_overrides(data, (item,))
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_multiplier_scales_a_figure_the_yaml_leaves_at_its_default():
    """h100-sxm.yaml gives no `efficiency:`; `hardware show` prints compute 1.0, and x0.8 was
    refused as 'the profile has no value to multiply'."""
    h = load_hardware("h100-sxm", ("efficiency.compute=x0.8", "efficiency.memory=*0.5"))
    assert h.compute_efficiency == 0.8
    assert h.changes == ("efficiency.compute 1 -> 0.8", "efficiency.memory 1 -> 0.5")


@pytest.mark.parametrize("item", ["interconnect.latency_us=x2", "kernel_launch_overhead_us=x2"])
def test_multiplier_of_a_zero_figure_is_refused_not_a_silent_no_op(item):
    data, _, _ = hardware_data("h100-sxm")
    with pytest.raises(CostmodelError) as e:
        apply_overrides(data, (item,))
    key = item.split("=")[0]
    assert str(e.value) == (f"--set {key}: the profile's value is 0, which a multiplier leaves "
                            f"at 0; give an absolute value, e.g. {key}=5")


def test_sm_count_is_a_what_if_and_kernel_figures_need_it(tmp_path):
    """sm_count (the kernel model's waves) was not a --set key; and a profile with
    kernel_efficiency but no sm_count silently dropped to the bare roofline."""
    h = load_hardware("h100-sxm", ("sm_count=148",))
    assert h.sm_count == 148 and h.changes == ("sm_count 132 -> 148",)
    assert h.kernel_params is not None
    with pytest.raises(CostmodelError, match="kernel_efficiency: needs sm_count"):
        load_hardware("h100-sxm", ("sm_count=null",))
    f = tmp_path / "nosm.yaml"
    f.write_text("base: h100-sxm\nid: nosm\nsm_count: null\n")
    with pytest.raises(CostmodelError) as e:
        load_hardware(str(f))
    assert str(e.value).startswith(f"{f}: kernel_efficiency: needs sm_count")


def test_override_is_revalidated():
    with pytest.raises(CostmodelError, match="memory_GB"):
        load_hardware("h100-sxm", ("memory_GB=-5",))
    with pytest.raises(CostmodelError, match="efficiency.compute"):
        load_hardware("h100-sxm", ("efficiency.compute=1.5",))


def test_merge_is_nested_one_level():
    base = {"a": 1, "peak_tflops": {"bf16": 1.0, "fp32": 2.0}, "sources": {"x": "s"}}
    out = merge(base, {"peak_tflops": {"bf16": 3.0}, "sources": {"y": "t"}, "a": 5})
    assert out == {"a": 5, "peak_tflops": {"bf16": 3.0, "fp32": 2.0},
                   "sources": {"x": "s", "y": "t"}}
    assert base["peak_tflops"]["bf16"] == 1.0


def _write(path, text):
    path.write_text(text)
    return str(path)


def test_yaml_inherits_from_bundled_id(tmp_path):
    p = _write(tmp_path / "fast.yaml", "base: h100-sxm\nmemory_bandwidth_GBps: 6700\n"
               "peak_tflops:\n  bf16: 1500\nsources:\n  memory_bandwidth_GBps: a guess\n")
    h, base = load_hardware(p), load_hardware("h100-sxm")
    assert h.id == "h100-sxm*" and h.name == base.name
    assert h.memory_bytes_per_s == 6700e9 and h.peak_flops_per_s(DType.bf16) == 1500e12
    assert h.peak_flops_per_s(DType.fp32) == base.peak_flops_per_s(DType.fp32)  # merged, not replaced
    assert h.source_file.sources["memory_bandwidth_GBps"] == "a guess"
    assert h.source_file.sources["memory_GB"] == base.source_file.sources["memory_GB"]
    assert h.changes == ("memory_bandwidth_GBps 3350 -> 6700", "peak_tflops.bf16 989.4 -> 1500")


def test_yaml_inherits_from_relative_path_and_keeps_own_id(tmp_path):
    _write(tmp_path / "parent.yaml", MY_GPU_YAML.read_text())
    p = _write(tmp_path / "child.yaml", "base: parent.yaml\nid: my-gpu-2x\nmemory_GB: 160\n")
    h = load_hardware(p)
    assert h.id == "my-gpu-2x" and h.memory_bytes == 160e9
    assert h.changes == ("memory_GB 80 -> 160",)
    h2 = load_hardware(p, ("tdp_W=x0.5",))  # overrides on an inherited file
    assert h2.tdp_W == 200 and h2.changes == ("memory_GB 80 -> 160", "tdp_W 400 -> 200")
    # --set marks the what-if on a YAML's own id too (it stayed my-gpu-2x, while a YAML
    # without base: became ID* and a base: child without an id h100-sxm*)
    assert h2.id == "my-gpu-2x*"


def test_inheritance_errors(tmp_path):
    a = _write(tmp_path / "a.yaml", "base: b.yaml\n")
    _write(tmp_path / "b.yaml", "base: a.yaml\n")
    with pytest.raises(CostmodelError, match="loops back"):
        load_hardware(a)
    c = _write(tmp_path / "c.yaml", "base: h100-sxn\n")
    with pytest.raises(UnknownName, match=r"c\.yaml: base: unknown 'h100-sxn'; did you mean h100-sxm"):
        load_hardware(c)


def test_override_of_a_neutral_default_is_sourced_as_the_override():
    h = load_hardware("a100-80gb", ("efficiency.compute=0.8",))
    assert h.compute_efficiency == 0.8
    assert "what-if override" in h.source_file.sources["efficiency"]


def test_a_base_child_sources_what_it_sets_unless_it_says(tmp_path):
    # a child that changes a sourced figure: the base's source no longer describes it
    f = tmp_path / "hw.yaml"
    f.write_text("base: a100-80gb\nefficiency: {compute: 0.7}\nmemory_bandwidth_GBps: 1800\n"
                 "tdp_W: 300\nsources: {tdp_W: a power-capped card}\n")
    src = load_hardware(str(f)).source_file.sources
    assert src["efficiency"] == src["memory_bandwidth_GBps"] == (
        f"set in {f} over base a100-80gb")
    assert src["tdp_W"] == "a power-capped card"
    assert src["peak_tflops"] == load_hardware("a100-80gb").source_file.sources["peak_tflops"]
