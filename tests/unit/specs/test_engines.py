"""Inference engines: YAML files with sourced figures, launches by stage and fused class, the
bound beside the expected latency (costmodel/specs/engine.py, docs/methodology.md). The
--engine option and `engines list|show`: tests/cli/test_engines_cmd.py."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel.analysis.estimate import estimate
from costmodel.errors import CostmodelError
from costmodel.loading.load import engine_ids, load_engine, load_hardware, load_model
from tests.helpers import REQUIRED_ENGINES as REQUIRED


def test_required_engines_ship_with_sourced_figures():
    assert REQUIRED <= set(engine_ids())
    for name in engine_ids():
        e = load_engine(name)
        assert e.id == name
        assert all(v.strip() for v in e.source_file.sources.values())


def test_an_unsourced_figure_is_refused_in_one_line(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("id: mine\nname: mine\nkernels: measured\nlaunch_per_kernel: true\n"
                 "step_overhead_us: 50\nsources: {kernels: x}\n")
    with pytest.raises(CostmodelError, match="sources: no source for") as e:
        load_engine(str(f))
    assert "\n" not in str(e.value)


def test_a_users_engine_file_works_where_a_name_does(tmp_path):
    src = load_engine("vllm").source_file.model_dump(mode="json")
    src.update(id="my-vllm", step_overhead_us=src["step_overhead_us"] + 1000.0)
    f = tmp_path / "my.yaml"
    f.write_text(json.dumps(src))  # JSON is YAML
    kw = dict(visual_tokens=576, output_tokens=11)
    mine, base = (estimate("llava-1.5-7b", "a100-80gb", engine=e, **kw) for e in (str(f), "vllm"))
    assert mine.tpot_s - base.tpot_s == pytest.approx(1e-3, rel=1e-9)
    assert mine.stages["decode"].latency_s - base.stages["decode"].latency_s == pytest.approx(
        10 * 1e-3, rel=1e-9)


@pytest.mark.parametrize(("engine", "field"), [
    ("hf-eager", "host_overlap"), ("hf-eager", "kv_append"), ("hf-eager", "gqa_expand"),
    ("trtllm", "prefill_attention_dtype"), ("trtllm-0.6", "decode_max_group"),
    ("vllm", "fused_gemms"), ("llama.cpp", "int4_format"), ("vllm", "launch_per_kernel"),
    ("vllm-0.6", "prefill_chunk_tokens"), ("vllm-0.6", "prefill_chunk_over_tokens"),
    ("vllm-0.6", "prefill_chunk_attention_block"), ("hf-eager", "packed_attention"),
    ("llama.cpp", "packed_attention"), ("llama.cpp", "vision_graph")])
def test_a_rule_set_off_its_default_needs_a_source(tmp_path, engine, field):  # noqa: ANN001
    src = load_engine(engine).source_file.model_dump(mode="json")
    del src["sources"][field]
    f = tmp_path / "t.yaml"
    f.write_text(json.dumps(src))  # JSON is YAML
    with pytest.raises(CostmodelError, match=f"no source for {field}") as e:
        load_engine(str(f))
    assert "\n" not in str(e.value)


def test_launches_by_stage_and_class():
    hf, vllm, trt = (load_engine(n) for n in ("hf-eager", "vllm", "trtllm"))
    assert hf.launches("prefill", "norm") == hf.launches("decode", "linear") == 1.0
    assert vllm.launches("prefill", "linear") == 1.0 and vllm.launches("decode", "linear") == 0.0
    assert vllm.launches("prefill", "norm") == 0.0  # fused_add_rms_norm
    assert trt.launches("prefill", "linear") == 0.0


def test_ideal_engine_is_the_bound():
    e = estimate("llava-1.5-7b", "a100-80gb", engine="ideal")
    assert (e.ttft_s, e.tpot_s, e.e2e_latency_s) == (e.bound.ttft_s, e.bound.tpot_s,
                                                      e.bound.e2e_latency_s)
    assert all(s.latency_s == s.bound_latency_s for s in e.stages.values())


@settings(max_examples=25, deadline=None)
@given(engine=st.sampled_from(sorted(REQUIRED)), visual=st.integers(0, 3000),
       batch=st.integers(1, 64), out=st.integers(1, 300),
       hw=st.sampled_from(["a100-80gb", "h100-sxm", "l4", "jetson-agx-orin-64gb"]))
def test_expected_is_never_faster_than_the_bound(engine, visual, batch, out, hw):
    e = estimate(SPEC, HW[hw], visual_tokens=visual, batch=batch, output_tokens=out,
                 engine=engine)
    assert e.ttft_s >= e.bound.ttft_s * (1 - 1e-12)
    assert e.tpot_s >= e.bound.tpot_s * (1 - 1e-12)
    for s in e.stages.values():
        assert s.latency_s >= s.bound_latency_s * (1 - 1e-12)


SPEC = load_model("llava-1.5-7b")
HW = {h: load_hardware(h) for h in ("a100-80gb", "h100-sxm", "l4", "jetson-agx-orin-64gb")}


def test_llm_viewer_is_the_ideal_engine():
    e = estimate("llava-1.5-7b", "llm-viewer-a100", convention="llm-viewer")
    assert e.prepared.engine.id == "ideal" and e.ttft_s == e.bound.ttft_s
    with pytest.raises(CostmodelError, match="engine: llm-viewer computes the roofline bound"):
        estimate("llava-1.5-7b", "llm-viewer-a100", convention="llm-viewer", engine="vllm")


def test_an_unknown_figure_set_is_refused(tmp_path):
    """kernel_figures naming a set no device carries is a typo, not a silent fallback."""
    src = load_engine("vllm").source_file.model_dump(mode="json")
    src.update(id="typo", kernel_figures="vlm")
    f = tmp_path / "typo.yaml"
    f.write_text(json.dumps(src))  # JSON is YAML
    with pytest.raises(CostmodelError, match="kernel_figures: engine typo names the figure set "
                       "'vlm', which no device here carries") as e:
        estimate(load_model("llava-1.5-7b"), load_hardware("a100-80gb"), engine=str(f))
    assert "\n" not in str(e.value)
    # a device with no per-engine sets takes the pooled figures, as documented
    estimate(load_model("llava-1.5-7b"), load_hardware("a100-80gb-vidur"), engine=str(f))


def test_an_engine_without_flashattention_says_why(tmp_path):  # noqa: ANN001
    # flash_attention true is the default; an engine that turns it off needs a source
    src = load_engine("vllm").source_file.model_dump(mode="json")
    src["flash_attention"] = False
    f = tmp_path / "t.yaml"
    f.write_text(json.dumps(src))
    with pytest.raises(CostmodelError, match="no source for flash_attention"):
        load_engine(str(f))
    src["sources"]["flash_attention"] = "the engine's attention is unfused (its docs)"
    f.write_text(json.dumps(src))
    assert load_engine(str(f)).source_file.flash_attention is False


def test_the_engine_option_help_names_every_bundled_engine():
    from costmodel.cli.options import ENGINE
    from costmodel.loading.load import engine_ids

    text = ENGINE.help.replace("\n", " ")
    assert all(f"{e}," in text or f"{e} (" in text for e in engine_ids()), text
