"""The Python API's arguments (costmodel/analysis/arguments.py): ids, paths (str or
pathlib.Path) and specs alike in `estimate` and `sweep`; bad arguments and workload fields
refused with one CostmodelError line naming the field and the fix, not a traceback from inside."""

from __future__ import annotations

from pathlib import Path

import pytest

import costmodel
from costmodel import CostmodelError, Workload
from costmodel.sweep import sweep
from tests.helpers import ROOT

CONFIG = ROOT / "costmodel" / "zoo_configs" / "llava-1.5-7b.json"
PROFILE = ROOT / "hardware_profiles" / "a100-80gb.yaml"


def test_paths_ids_and_specs_give_the_same_estimate():
    by_id = costmodel.estimate("llava-1.5-7b", "a100-80gb")
    for model, hw in [(CONFIG, PROFILE), (str(CONFIG), str(PROFILE)),
                      (costmodel.load_model(CONFIG), costmodel.load_hardware(PROFILE))]:
        assert costmodel.estimate(model, hw).ttft_s == by_id.ttft_s


@pytest.mark.parametrize(("args", "says"), [
    ((None, "a100-80gb"), "model: got NoneType; give a zoo id"),
    (("llava-1.5-7b", 80), "hardware: got int; give a bundled id"),
])
def test_a_wrong_argument_type_is_one_line(args, says):
    with pytest.raises(CostmodelError, match=says):
        costmodel.estimate(*args)


@pytest.mark.parametrize(("fields", "says"), [
    ({"visual_token": 64}, r"^visual_token: not a Workload field; did you mean visual_tokens\?$"),
    ({"tp": 2}, r"^tp: not a Workload field; from Python use parallel=\{'tp': 2\}$"),
    ({"keep": 0.1}, r"^keep: not a Workload field; from Python use compression=Compression"),
    ({"kv_keep": 0.25}, r"from Python use compression=CompressionPlan\(kv=KVCompression"),
    ({"dtype": "fp16"}, r"from Python use act_dtype="),
    ({"frame_size": (448, 448)},
     r"^frame_size: not a Workload field; use image_size=\(W, H\): the frame size of a video$"),
    ({"batch": 0}, r"^batch: Input should be greater than 0$"),
    ({"act_dtype": "bfloat16"}, r"^act_dtype: Input should be 'fp32'"),
])
def test_bad_workload_fields_are_one_costmodel_error(fields, says):
    for call in (lambda: costmodel.estimate("llava-1.5-7b", "a100-80gb", **fields),
                 lambda: sweep("llava-1.5-7b", "a100-80gb", [64], **fields)):
        with pytest.raises(CostmodelError, match=says) as e:
            call()
        assert "\n" not in str(e.value)


def test_sweep_takes_ids_paths_and_single_items_as_estimate_does():
    specs = sweep([costmodel.load_model("llava-1.5-7b")], [costmodel.load_hardware("a100-80gb")],
                  [64, 576])
    for models, hardware in [("llava-1.5-7b", "a100-80gb"), (["llava-1.5-7b"], ["a100-80gb"]),
                             (CONFIG, PROFILE)]:
        df = sweep(models, hardware, [64, 576])
        assert df.ttft_s.tolist() == specs.ttft_s.tolist()


def test_sweep_fields_replace_those_of_the_workload():
    """sweep(workload=w, text_tokens=...) used the workload and dropped the keyword silently."""
    w = Workload(text_tokens=32, output_tokens=16)
    both = sweep("llava-1.5-7b", "a100-80gb", [64], workload=w, text_tokens=999)
    alone = sweep("llava-1.5-7b", "a100-80gb", [64], text_tokens=999, output_tokens=16)
    assert set(both.text_tokens) == {999} and set(both.output_tokens) == {16}
    assert both.ttft_s.tolist() == alone.ttft_s.tolist()


@pytest.mark.parametrize("sets", [["memory_bandwidth_GBps=x1.5"], "memory_bandwidth_GBps=x1.5",
                                  ("memory_bandwidth_GBps=x1.5",)])
def test_load_hardware_takes_one_or_several_overrides(sets):
    hw, base = costmodel.load_hardware(Path(PROFILE), sets=sets), costmodel.load_hardware(PROFILE)
    assert hw.id == "a100-80gb*" and len(hw.changes) == 1
    assert hw.memory_bytes_per_s == pytest.approx(1.5 * base.memory_bytes_per_s, rel=1e-12)


def test_image_size_takes_the_clis_wxh_text_as_a_tuple_does():
    """image_size='1280x720' is (1280, 720), in estimate, compare_compression and sweep (video
    frames) alike, parsed as the CLI's --image-size; bad text is one line naming image_size."""
    text = costmodel.estimate("qwen2.5-vl-7b", "a100-80gb", image_size="1280x720")
    pair = costmodel.estimate("qwen2.5-vl-7b", "a100-80gb", image_size=(1280, 720))
    assert text.workload == pair.workload and text.ttft_s == pair.ttft_s
    assert costmodel.compare_compression("qwen2.5-vl-7b", "a100-80gb", keep=0.5,
                                         image_size="1280X720").to_dict() == \
        costmodel.compare_compression("qwen2.5-vl-7b", "a100-80gb", keep=0.5,
                                      image_size=(1280, 720)).to_dict()
    df = sweep("qwen2-vl-7b", "a100-80gb", None, video_frames=[2, 4], image_size="448x448")
    assert df.ttft_s.tolist() == sweep("qwen2-vl-7b", "a100-80gb", None, video_frames=[2, 4],
                                       image_size=(448, 448)).ttft_s.tolist()
    for bad in ("1280", "1280x", "0x720", "1280x720x3", "big"):
        with pytest.raises(CostmodelError, match=r"^image_size: '.*' is not WIDTHxHEIGHT in "
                           r"pixels \(1\.\.65536 each\), e\.g\. '672x448' or \(672, 448\)$"):
            costmodel.estimate("qwen2.5-vl-7b", "a100-80gb", image_size=bad)


def test_image_size_text_takes_ascii_digits_only():
    """'²' passes str.isdigit() but is not a width: one CostmodelError line, not int()'s."""
    import pytest

    import costmodel

    with pytest.raises(costmodel.CostmodelError, match="image_size: '²x3' is not WIDTHxHEIGHT"):
        costmodel.estimate("qwen2.5-vl-7b", "a100-80gb", image_size="²x3")


def test_a_workload_takes_image_size_text():
    import pytest
    from pydantic import ValidationError

    import costmodel

    assert costmodel.Workload(image_size="1280x720").image_size == (1280, 720)
    with pytest.raises(ValidationError, match="image_size: '12x' is not WIDTHxHEIGHT"):
        costmodel.Workload(image_size="12x")


@pytest.mark.parametrize(("kwargs", "needle"), [
    (dict(visual_tokens=[]), "visual_tokens: [] is not a whole number"),
    (dict(visual_tokens=[1.5]), "visual_tokens: [1.5]"),  # was truncated to 1
    (dict(visual_tokens=[float("nan")]), "visual_tokens: [nan]"),
    (dict(visual_tokens="576"), "visual_tokens: '576' is not"),
    (dict(visual_tokens=[576], batch=()), "batch: () is not"),
    (dict(visual_tokens=None, video_frames=[]), "video_frames: []"),
])
def test_sweep_axes_refused_in_one_line(kwargs, needle):
    with pytest.raises(CostmodelError) as e:
        sweep("llava-1.5-7b", "a100-80gb", **kwargs)
    assert needle in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize(("models", "hardware", "needle"), [
    ([], "a100-80gb", "model: an empty list"), ("llava-1.5-7b", [], "hardware: an empty list")])
def test_sweep_of_nothing_refused(models, hardware, needle):
    with pytest.raises(CostmodelError, match=needle):
        sweep(models, hardware, [576])


def test_sweep_axis_takes_ranges_and_arrays():
    import numpy as np

    a = sweep("llava-1.5-7b", "a100-80gb", range(0, 577, 576))
    b = sweep("llava-1.5-7b", "a100-80gb", np.array([0.0, 576.0]), batch=np.int64(1))
    assert a.equals(b)


@pytest.mark.parametrize("call", [
    lambda: costmodel.estimate("llava-1.5-7b", "a100-80gb", engine=""),
    lambda: sweep("llava-1.5-7b", "a100-80gb", [576], engine=" ")])
def test_empty_engine_refused_not_defaulted(call):
    with pytest.raises(CostmodelError, match="engine: empty"):
        call()


@pytest.mark.parametrize("call", [
    lambda: costmodel.estimate("llava-1.5-7b", "a100-80gb", engine=["vllm", "trtllm"]),
    lambda: sweep("llava-1.5-7b", "a100-80gb", [576], engine=("vllm", "trtllm")),
    lambda: costmodel.compare_compression("llava-1.5-7b", "a100-80gb", keep=0.5,
                                          engine=["vllm"]),
    lambda: costmodel.Workload(engine=["vllm"])])
def test_several_engines_refused_with_the_way_to_compare_them(call):
    """A list of engines read 'engine: Input should be a valid string' (pydantic's), naming
    neither what was given nor how to compare engines from Python."""
    with pytest.raises(CostmodelError) as e:
        call()
    said = str(e.value)
    assert said.startswith("engine: got ") and "one engine" in said and "\n" not in said, said
