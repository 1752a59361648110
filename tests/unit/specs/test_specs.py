"""Spec validation and exact parameter counts (closed forms vs published figures)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from costmodel.specs.model import LLMSpec, ModelSpec, ProjectorSpec, VisionSpec
from tests.helpers import CLIP_L336, LLAMA2_7B, LLAVA15_7B


def test_llama2_7b_params_exact():
    # Published: 6,738,415,616 (Touvron et al. 2023; the HF checkpoint's tensor sizes).
    assert LLAMA2_7B.num_params() == 6_738_415_616


def test_llava15_7b_components():
    # CLIP ViT-L/14-336 vision model (CLIPVisionModel incl. pre/post LayerNorm): 303,507,456;
    # projector Linear(1024,4096)+Linear(4096,4096) with biases: 20,979,712.
    c = LLAVA15_7B.param_counts()
    assert c["vision"] == 303_507_456
    assert c["projector"] == 20_979_712
    assert c["total"] == 7_062_902_784


def test_llama3_8b_params_exact():
    llama3 = LLMSpec(hidden_size=4096, num_layers=32, num_heads=32, num_kv_heads=8,
                     intermediate_size=14336, vocab_size=128256)
    assert llama3.num_params() == 8_030_261_248


@pytest.mark.parametrize("field, kwargs, needle", [
    ("num_heads", dict(num_heads=30), "num_heads: 30 does not divide hidden_size"),
    ("num_kv_heads", dict(num_kv_heads=5), "num_kv_heads: 5 does not divide num_heads"),
    ("hidden_size", dict(hidden_size=0), "greater than 0"),
])
def test_llm_validators_name_the_field(field, kwargs, needle):
    base = dict(hidden_size=4096, num_layers=32, num_heads=32, num_kv_heads=32,
                intermediate_size=11008, vocab_size=32000)
    with pytest.raises(ValidationError) as ei:
        LLMSpec(**{**base, **kwargs})
    assert needle in str(ei.value) and field in str(ei.value)


def test_head_dim_override_allows_non_dividing_heads():
    m = LLMSpec(hidden_size=3072, num_layers=2, num_heads=24, num_kv_heads=8, head_dim=256,
                intermediate_size=8, vocab_size=10)
    assert m.q_dim == 24 * 256 and m.kv_dim == 8 * 256


def test_vision_validators():
    with pytest.raises(ValidationError, match="patch_size"):
        VisionSpec(num_layers=2, hidden_size=64, num_heads=4, intermediate_size=8,
                   patch_size=14, image_size=10)
    with pytest.raises(ValidationError, match="feature_layer"):
        VisionSpec(num_layers=2, hidden_size=64, num_heads=4, intermediate_size=8,
                   patch_size=14, image_size=28, feature_layer=5)


def test_projector_dims_must_match():
    with pytest.raises(ValidationError, match="projector.output_dim"):
        ModelSpec(name="x", llm=LLAMA2_7B, vision=CLIP_L336,
                  projector=ProjectorSpec(kind="linear", input_dim=1024, output_dim=5120))


def test_specs_are_frozen_and_strict():
    with pytest.raises(ValidationError):
        LLAMA2_7B.hidden_size = 1  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs"):
        LLMSpec(hidden_size=64, num_layers=1, num_heads=4, num_kv_heads=4, intermediate_size=8,
                vocab_size=10, bogus=1)


def test_patch_merger_params():
    # Qwen2-VL-7B merger: LayerNorm(1280) + Linear(5120,5120) + Linear(5120,3584), biases.
    pm = ProjectorSpec(kind="patch_merger", input_dim=1280, output_dim=3584, merge_size=2)
    assert pm.num_params() == 2 * 1280 + 5120 * 5120 + 5120 + 5120 * 3584 + 3584


def test_the_renamed_attention_memory_fraction_names_its_replacement():
    from costmodel.specs.hardware import AttentionKernelFile

    with pytest.raises(ValidationError, match="replaced by attention_io_flop_per_byte"):
        AttentionKernelFile(attention_fraction=0.6, attention_memory_fraction=0.4)
    assert AttentionKernelFile(attention_fraction=0.6,
                               attention_io_flop_per_byte=400).attention_io_flop_per_byte == 400


def test_model_and_hardware_reprs_are_one_line():
    """A notebook cell that ends in a spec or a profile shows one line, not pydantic's repr of
    every nested field (1.5 kB for a model, 11 kB for a profile with its curves)."""
    import costmodel

    m = costmodel.load_model("llava-1.5-7b")
    assert repr(m) == ("<ModelSpec llava-1.5-7b: VLM (fixed token scheme), "
                       f"{m.param_counts()['total'] / 1e9:.2f}B parameters, LLM 32 layers x 4096>")
    assert repr(costmodel.load_model("llama-3-8b")).startswith("<ModelSpec llama-3-8b: text-only")
    hw = costmodel.load_hardware("h100-sxm", sets=("memory_bandwidth_GBps=x1.5",))
    text = repr(hw)
    assert "\n" not in text and len(text) < 300
    assert text.startswith("<HardwareProfile h100-sxm*: NVIDIA H100") and "what-if: " in text
    assert hw.changes[0] in text and str(hw) == text and str(m) == repr(m)
