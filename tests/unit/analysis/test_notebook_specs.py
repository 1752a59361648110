"""A token-compression researcher's notebook session with their own objects: `load_hardware`
given a loaded profile derives a what-if from it; a model or device of the wrong type, an empty
model name, a spec edited with model_copy or built by hand with a bad value, a nested key the
Workload does not know and a bad sweep axis are one CostmodelError line naming the field and
the fix; engine ids in any case; a warning names the user's line, not the library's; a sweep
keeps the workload's batch; `costmodel.sweep` is reached after `import costmodel` alone."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
from pydantic import ValidationError

import costmodel
import costmodel.sweep
from costmodel import CostmodelError


def test_load_hardware_derives_a_what_if_from_a_loaded_profile():
    """load_hardware(profile, sets=[...]) raised 'TypeError: expected str, bytes or
    os.PathLike object, not HardwareProfile'; it is the same what-if as from the id."""
    h100 = costmodel.load_hardware("h100-sxm")
    by_id = costmodel.load_hardware("h100-sxm", sets=["memory_bandwidth_GBps=6700"])
    mine = costmodel.load_hardware(h100, sets=["memory_bandwidth_GBps=6700"])
    assert mine.memory_bytes_per_s == 6700e9 == by_id.memory_bytes_per_s
    assert (mine.id, mine.changes) == (by_id.id, by_id.changes) == (
        "h100-sxm*", ("memory_bandwidth_GBps 3350 -> 6700",))
    assert costmodel.load_hardware(h100) is h100  # no sets: the profile as given
    e = costmodel.estimate("llava-1.5-7b", mine, engine="ideal")
    assert e.tpot_s == costmodel.estimate("llava-1.5-7b", by_id, engine="ideal").tpot_s


def test_a_what_if_of_a_what_if_lists_both_changes():
    fast = costmodel.load_hardware("a100-80gb", sets=["memory_bandwidth_GBps=x2"])
    both = costmodel.load_hardware(fast, sets="peak_tflops.bf16=x2")
    assert both.id == "a100-80gb*"
    assert both.memory_bytes_per_s == 2 * 2039e9
    assert both.peak_flops_per_s(costmodel.DType.bf16) == 2 * 312e12
    assert both.changes == ("memory_bandwidth_GBps 2039 -> 4078", "peak_tflops.bf16 312 -> 624")


def test_a_bad_set_on_a_profile_names_it():
    with pytest.raises(CostmodelError, match=r"^--set: unknown key 'mem_bw'"):
        costmodel.load_hardware(costmodel.load_hardware("l4"), sets=["mem_bw=2"])


@pytest.mark.parametrize(("call", "says"), [
    (lambda: costmodel.load_hardware(3), r"^hardware: got int; give a bundled id"),
    (lambda: costmodel.load_model(None), r"^model: got NoneType; give a zoo id"),
    (lambda: costmodel.load_model(7), r"^model: got int; give a zoo id"),
])
def test_a_wrong_type_to_a_loader_is_one_line(call, says):
    with pytest.raises(CostmodelError, match=says):
        call()


def _llm(**update):
    spec = costmodel.load_model("llava-1.5-7b")
    return spec.model_copy(update={"llm": spec.llm.model_copy(update=update)})


@pytest.mark.parametrize(("spec", "says"), [
    # priced before as if 5 KV heads could split 32 query heads
    (lambda: _llm(num_kv_heads=5), r"^model\.llm: num_kv_heads: 5 does not divide num_heads 32"),
    # an IndexError and a TypeError from inside the core before
    (lambda: _llm(num_layers=0), r"^model\.llm\.num_layers: Input should be greater than 0"),
    (lambda: _llm(num_layers=16.5), r"^model\.llm\.num_layers: Input should be a valid integer"),
])
def test_a_model_spec_edited_with_model_copy_is_checked(spec, says):
    """pydantic's model_copy(update=...) does not validate: the API checks a spec it is given."""
    for call in (lambda s: costmodel.estimate(s, "a100-80gb"),
                 lambda s: costmodel.sweep.sweep(s, "a100-80gb", [64])):
        with pytest.raises(CostmodelError, match=says) as e:
            call(spec())
        assert "model_copy(update=...) does not check the fields" in str(e.value)


def test_a_hardware_profile_edited_with_model_copy_is_checked():
    """A negative bandwidth gave a TPOT of 1e21 s, 0 a NaN and numpy's RuntimeWarnings."""
    h100 = costmodel.load_hardware("h100-sxm")
    for bad in (-1.0, 0.0, float("inf")):
        hw = h100.model_copy(update={"memory_bytes_per_s": bad})
        with pytest.raises(CostmodelError, match=r"^hardware\.memory_bytes_per_s: .* must be a "
                                                 r"finite number > 0"):
            costmodel.estimate("llava-1.5-7b", hw)


def test_a_valid_edit_gives_the_numbers_of_the_same_what_if():
    """An edit that is valid prices as the what-if does; a whole number given as text is read
    as the number (pydantic's own reading) rather than failing inside numpy."""
    h100 = costmodel.load_hardware("h100-sxm")
    edited = h100.model_copy(update={"memory_bytes_per_s": 6700e9})
    what_if = costmodel.load_hardware("h100-sxm", sets=["memory_bandwidth_GBps=6700"])
    assert (costmodel.estimate("llava-1.5-7b", edited, engine="ideal").tpot_s
            == costmodel.estimate("llava-1.5-7b", what_if, engine="ideal").tpot_s)
    half = costmodel.estimate(_llm(num_layers="16"), "a100-80gb", engine="ideal")
    assert half.model.llm.num_layers == 16
    assert half.ttft_s == costmodel.estimate(_llm(num_layers=16), "a100-80gb",
                                             engine="ideal").ttft_s


def _warned_here(call) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        call()
    assert seen
    return seen


@pytest.mark.parametrize("call", [
    lambda: costmodel.estimate("llava-1.5-7b", "a100-80gb", visual_tokens=5000),
    lambda: costmodel.sweep.sweep("llava-1.5-7b", "a100-80gb", [64, 5000]),
    lambda: costmodel.compare_compression("llava-1.5-7b", "a100-80gb", keep=0.5,
                                          visual_tokens=5000),
    lambda: costmodel.compare("llava-1.5-7b", ["a100-80gb", "llm-viewer-a100"],
                                engine="vllm"),
])
def test_a_warning_points_at_the_callers_line(call):
    """A ContextWarning (or compare's UnlikeDevicesWarning) named a line inside the package
    (analysis/estimate.py:277 for every estimate), not the notebook cell that asked; Python's
    'default' filter also shows a warning once per location."""
    for w in _warned_here(call):
        assert w.filename == __file__, (w.filename, str(w.message)[:80])


def test_a_sweep_keeps_the_workloads_batch_unless_given_one():
    """sweep(..., workload=Workload(batch=4)) swept batch 1: the batch argument's default
    (1,) replaced the workload's batch without a word."""
    w = costmodel.Workload(batch=4, text_tokens=100)
    df = costmodel.sweep.sweep("llava-1.5-7b", "a100-80gb", [64, 576], workload=w)
    assert set(df.batch) == {4} and set(df.text_tokens) == {100}
    row = df[(df.stage == "prefill") & (df.visual_tokens == 576)].iloc[0]
    assert row.ttft_s == costmodel.estimate("llava-1.5-7b", "a100-80gb", w,
                                            visual_tokens=576).ttft_s
    assert set(costmodel.sweep.sweep("llava-1.5-7b", "a100-80gb", [64], batch=[2, 8],
                                     workload=w).batch) == {2, 8}
    assert set(costmodel.sweep.sweep("llava-1.5-7b", "a100-80gb", [64]).batch) == {1}


@pytest.mark.parametrize(("build", "says"), [
    (lambda: costmodel.LLMSpec(hidden_size=2048, num_layers=16, num_heads=16, num_kv_heads=5,
                               intermediate_size=5632, vocab_size=32000),
     r"^num_kv_heads: 5 does not divide num_heads 16$"),
    (lambda: costmodel.ModelSpec(
        name="mine", llm=costmodel.LLMSpec(hidden_size=2048, num_layers=16, num_heads=16,
                                           num_kv_heads=4, intermediate_size=5632,
                                           vocab_size=32000),
        vision=costmodel.load_model("llava-1.5-7b").vision,
        projector=costmodel.load_model("llava-1.5-7b").projector),
     r"^projector\.output_dim: 4096 != llm\.hidden_size 2048$"),
    (lambda: costmodel.ProjectorSpec(kind="mlp2x_gelu", input_dim=0, output_dim=8),
     r"^input_dim: Input should be greater than 0$"),
    (lambda: costmodel.VisionSpec(num_layers=2, hidden_size=64, num_heads=5,
                                  intermediate_size=128, patch_size=14, image_size=336),
     r"num_heads"),
])
def test_a_spec_built_by_hand_refuses_in_one_line(build, says):
    """The specs costmodel exports printed pydantic's multi-line dump with a URL and were no
    CostmodelError, unlike Workload and Compression."""
    with pytest.raises(CostmodelError, match=says) as e:
        build()
    assert isinstance(e.value, ValidationError) and e.value.errors()
    assert "\n" not in str(e.value) and "pydantic" not in str(e.value)


def test_a_spec_built_by_hand_is_priced():
    base = costmodel.load_model("llava-1.5-7b")
    mine = costmodel.ModelSpec(
        name="mine", llm=costmodel.LLMSpec(hidden_size=2048, num_layers=16, num_heads=16,
                                           num_kv_heads=4, intermediate_size=5632,
                                           vocab_size=32000),
        vision=base.vision, projector=base.projector.model_copy(update={"output_dim": 2048}))
    e = costmodel.estimate(mine, "a100-80gb")
    # 2 (K, V) x 16 layers x 4 KV heads x 128 x 2 bytes x (576 + 64 + 127) tokens
    assert e.memory.kv_cache_bytes == 2 * 16 * 4 * 128 * 2 * 767


def test_an_engine_id_is_read_in_any_case_as_device_and_model_ids_are():
    """estimate('LLaVA-1.5-7B', 'A100-80GB') worked, engine='VLLM' did not ('unknown'), and
    on a case-insensitive file system it would have: the id was a file name as given."""
    upper = costmodel.estimate("LLaVA-1.5-7B", "A100-80GB", engine="VLLM")
    lower = costmodel.estimate("llava-1.5-7b", "a100-80gb", engine="vllm")
    assert upper.prepared.engine.id == "vllm" and upper.tpot_s == lower.tpot_s
    with pytest.raises(CostmodelError, match=r"^engine: vllm appears twice"):
        costmodel.compare("llava-1.5-7b", ["a100-80gb"], engine=["vllm", "VLLM"])


def test_an_empty_model_name_is_refused_as_empty():
    """'' read as the working folder: 'MODEL: the folder  holds no config.json' (or the
    config.json that folder happened to hold)."""
    for empty in ("", "  "):
        with pytest.raises(CostmodelError, match=r"^model: empty; give a zoo id"):
            costmodel.estimate(empty, "a100-80gb")


@pytest.mark.parametrize(("fields", "says"), [
    ({"parallel": {"TP": 2}}, r"^parallel\.TP: Extra inputs are not permitted; did you mean tp\?$"),
    ({"parallel": {"mb": 2}},
     r"^parallel\.mb: Extra inputs are not permitted; valid keys here: tp, pp, ep, microbatches$"),
    ({"compression": {"where": "projector", "keep": 0.5}},
     r"^compression\.keep: .*; valid keys here: where, keep_ratio, keep_tokens, layer"),
])
def test_a_nested_key_it_does_not_know_gets_the_valid_keys(fields, says):
    """'parallel.TP: Extra inputs are not permitted' named the key but not the fix."""
    with pytest.raises(CostmodelError, match=says):
        costmodel.estimate("llava-1.5-7b", "a100-80gb", **fields)


def test_costmodel_sweep_is_reached_after_import_costmodel_alone():
    """`import costmodel; costmodel.sweep.sweep(...)` (the public path the package docstring
    and README name) was 'AttributeError: module costmodel has no attribute sweep' in a
    fresh interpreter, unless costmodel.sweep had been imported; still no pandas at import."""
    code = ("import sys, costmodel; assert 'pandas' not in sys.modules; "
            "assert 'matplotlib' not in sys.modules; "
            "df = costmodel.sweep.sweep('llava-1.5-7b', 'a100-80gb', [64]); "
            "print(len(df), callable(costmodel.plots.sweep_figure))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stderr[-400:]
    assert out.stdout.split() == ["4", "True"]


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"batch": "8"}, r"^batch: '8' is not a whole number .*, e\.g\. 8, \[1, 8\] or range\(1, 65\)$"),
    ({"batch": 2.5}, r"^batch: 2\.5 is not a whole number .*, e\.g\. 8, \[1, 8\]"),
])
def test_a_bad_batch_axis_reads_as_a_batch(kwargs, says):
    """'batch: 8 is not a whole number ..., e.g. [64, 576] or range(0, 2881, 64)': the text '8'
    printed as the number 8, and the example was the visual tokens'."""
    with pytest.raises(CostmodelError, match=says):
        costmodel.sweep.sweep("llava-1.5-7b", "a100-80gb", [64], **kwargs)


def test_a_valid_spec_object_is_passed_on_as_it_is():
    """The check hands on the caller's object where it changes nothing, so the core's caches
    (keyed by the spec) hold across calls; a value it converts gives the converted copy."""
    from costmodel.analysis.arguments import checked

    spec, hw = costmodel.load_model("llava-1.5-7b"), costmodel.load_hardware("a100-80gb")
    assert checked(spec, "model") is spec and checked(hw, "hardware") is hw
    text = spec.model_copy(update={"llm": spec.llm.model_copy(update={"num_layers": "32"})})
    assert checked(text, "model") is not text
    assert checked(text, "model").llm.num_layers == 32
