"""Gemma 3 config.json parsing: layer kinds from layer_types or sliding_window_pattern, and
one ConfigError line naming each field that changes cost and is not modelled."""

from __future__ import annotations

import copy
import json

import pytest

from costmodel.loading.config_fields import ConfigError
from costmodel.loading.from_config import spec_from_config
from tests.helpers import ROOT

CFG = json.loads((ROOT / "costmodel/zoo_configs/gemma-3-4b.json").read_text())


def _with(text=None, vision=None, **top):
    c = copy.deepcopy(CFG)
    c["text_config"].update(text or {})
    c["vision_config"].update(vision or {})
    c.update(top)
    return c


def test_pattern_and_layer_types():
    s = spec_from_config(_with({"sliding_window_pattern": 2, "num_hidden_layers": 4}))
    assert s.llm.layer_types == ("sliding", "full", "sliding", "full")
    lt = ["full_attention", "sliding_attention"] * 2
    s = spec_from_config(_with({"layer_types": lt, "num_hidden_layers": 4}))
    assert s.llm.layer_types == ("full", "sliding", "full", "sliding")
    assert spec_from_config(_with({"layer_types": ["full_attention"] * 34})).llm.sliding_window \
        is None


@pytest.mark.parametrize("cfg,field", [
    (_with({"final_logit_softcapping": 30.0}), "text_config.final_logit_softcapping"),
    (_with({"attn_logit_softcapping": 50.0}), "text_config.attn_logit_softcapping"),
    (_with({"use_bidirectional_attention": True}), "text_config.use_bidirectional_attention"),
    (_with({"hidden_activation": "silu"}), "text_config.hidden_activation"),
    (_with({"layer_types": ["chunked_attention"] * 34}), "text_config.layer_types"),
    (_with({"num_experts": 8}), "text_config.num_experts"),
    (_with(vision={"vision_use_head": True}), "vision_config.vision_use_head"),
    (_with(mm_tokens_per_image=200), "mm_tokens_per_image"),
    (_with(architectures=["Gemma3ForCausalLM"]), "architectures"),
])
def test_refused_fields_are_named(cfg, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        spec_from_config(cfg)


def test_vision_head_default_is_refused():
    c = _with()
    del c["vision_config"]["vision_use_head"]  # SiglipVisionConfig's default is True
    with pytest.raises(ConfigError, match="vision_use_head"):
        spec_from_config(c)


def test_text_only_gemma3():
    s = spec_from_config({**CFG["text_config"], "model_type": "gemma3_text",
                          "architectures": ["Gemma3ForCausalLM"]})
    assert not s.is_vlm and s.llm.num_layers == 34 and s.llm.tie_embeddings
