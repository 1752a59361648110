"""config.json fields of the wrong type or shape, and fields transformers reads differently per
family, are refused in one ConfigError line naming the field (never a traceback, never read as
something else: "false" as true, "1280" repeated as text) or honoured as transformers does."""

from __future__ import annotations

import pytest

from costmodel.loading.from_config import spec_from_config
from tests.helpers import config_refused, zoo_config


def _with(mid: str, where: str | None, **fields: object) -> dict:
    cfg = zoo_config(mid)
    (cfg if where is None else cfg[where]).update(fields)
    return cfg


@pytest.mark.parametrize(("cfg", "field"), [
    (_with("llava-1.5-7b", None, text_config=[1]), "text_config: expected an object"),
    (_with("llava-1.5-7b", None, vision_config=[1]), "vision_config: expected an object"),
    (_with("qwen2-vl-7b", None, text_config=5), "text_config: expected an object"),
    (_with("llama-3-8b", None, model_type=["llama"]), "model_type: ['llama'] is not a string"),
    (_with("llama-3-8b", None, architectures="LlamaForCausalLM"), "architectures:"),
    (_with("llava-1.5-7b", None, vision_feature_layer="x"), "vision_feature_layer: 'x'"),
    (_with("llava-next-vicuna-7b", None, image_grid_pinpoints="x"), "image_grid_pinpoints"),
    (_with("llava-next-vicuna-7b", None, image_grid_pinpoints=[[336]]), "image_grid_pinpoints"),
    (_with("qwen2-vl-7b", "vision_config", embed_dim="1280"), "vision_config.embed_dim: '1280'"),
    (_with("qwen2-vl-7b", "vision_config", mlp_ratio="x"), "vision_config.mlp_ratio"),
    (_with("qwen2-vl-7b", None, use_sliding_window=True, max_window_layers="x"),
     "max_window_layers: 'x'"),
    (_with("qwen2-vl-7b", None, use_sliding_window="false"), "use_sliding_window: 'false'"),
    (_with("qwen2-vl-7b", None, layer_types=5), "layer_types: 5 is not a list"),
    (_with("llava-1.5-7b", "text_config", tie_word_embeddings="false"),
     "text_config.tie_word_embeddings: 'false' is not true or false"),
    (_with("llava-1.5-7b", None, multimodal_projector_bias="no"), "multimodal_projector_bias"),
    (_with("llava-1.5-7b", "text_config", head_dim="128"), "text_config.head_dim: '128'"),
])
def test_wrong_type_is_one_line_naming_the_field(cfg, field):
    assert field in config_refused(cfg)


@pytest.mark.parametrize(("cfg", "field"), [
    # LLaVA: an unknown strategy, another projector activation; "full" on a CLIP ViT where
    # transformers cannot pack the CLS row (LLaVA-NeXT / OneVision pack_image_features)
    (_with("llava-1.5-7b", None, vision_feature_select_strategy="bogus"), "'bogus' is not one"),
    (_with("llava-1.5-7b", None, projector_hidden_act="silu"), "projector_hidden_act 'silu'"),
    (_with("llava-next-vicuna-7b", None, vision_feature_select_strategy="full"),
     "'full' keeps the CLS token of a CLIP ViT, which transformers does not support for "
     "llava_next (LlavaNextModel.pack_image_features"),
    (_with("llama-3-8b", None, attention_bias="true"), "attention_bias: 'true' is not true or"),
])
def test_fields_that_change_cost_are_refused(cfg, field):
    assert field in config_refused(cfg)


@pytest.mark.parametrize(("mid", "where", "value"), [
    ("qwen2-vl-7b", None, False),  # Qwen2Attention: q/k/v bias=True whatever attention_bias says
    ("internvl3-2b", "text_config", False),
    ("mixtral-8x7b", None, True),  # MixtralAttention: no biases whatever attention_bias says
])
def test_attention_bias_ignored_where_transformers_ignores_it(mid, where, value):
    base = spec_from_config(zoo_config(mid)).param_counts()
    assert spec_from_config(_with(mid, where, attention_bias=value)).param_counts() == base


def test_qwen2_moe_qkv_bias_still_read():
    cfg = {"model_type": "qwen2_moe", "num_hidden_layers": 2}
    with_bias = spec_from_config(cfg).llm
    without = spec_from_config({**cfg, "qkv_bias": False}).llm
    assert with_bias.qkv_bias and not without.qkv_bias


def test_onevision_full_strategy_and_siglip_default_refused():
    assert spec_from_config(zoo_config("llava-onevision-0.5b")).is_vlm  # "full", no CLS: as before
    cfg = _with("llava-onevision-0.5b", None, vision_feature_select_strategy="default")
    assert "'default' feature selection drops a CLS token" in config_refused(cfg)
    # "full" on a CLIP tower: LlavaOnevisionModel.pack_image_features refuses the 577-row crop
    clip = _with("llava-onevision-0.5b", None, vision_config=zoo_config("llava-1.5-7b")["vision_config"])
    assert "for llava_onevision (LlavaOnevisionModel.pack_image_features" in config_refused(clip)


def test_a_billion_layers_is_refused_not_run():
    cfg = _with("llava-1.5-7b", "text_config", num_hidden_layers=10**9)
    with pytest.raises(Exception, match="less than or equal to 4096"):
        spec_from_config(cfg)
