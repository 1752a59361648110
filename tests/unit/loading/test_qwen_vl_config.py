"""The qwen2_5_vl / qwen3_vl loader: flat and nested configs, refusals naming the field."""

from __future__ import annotations

import copy

import pytest

from costmodel.loading.from_config import spec_from_config
from tests.helpers import config_refused, zoo_config


def test_nested_text_config_equals_flat():
    # transformers 5.x re-saves a Qwen2.5-VL config with the text fields under text_config.
    flat = zoo_config("qwen2.5-vl-7b")
    nested = {k: v for k, v in flat.items() if k in ("architectures", "model_type", "vision_config",
                                                     "tie_word_embeddings")}
    nested["text_config"] = {k: v for k, v in flat.items() if k not in nested}
    assert spec_from_config(nested, "x").param_counts() == spec_from_config(flat, "x").param_counts()


def test_missing_vision_fields_take_class_defaults():
    cfg = zoo_config("qwen2.5-vl-3b")
    for key in ("window_size", "fullatt_block_indexes", "depth"):
        del cfg["vision_config"][key]
    v = spec_from_config(cfg).vision
    assert (v.window_size, v.fullatt_blocks, v.num_layers) == (112, (7, 15, 23, 31), 32)


@pytest.mark.parametrize(("mid", "where", "update", "field"), [
    ("qwen3-vl-8b", "text_config", {"num_experts": 128}, "text_config.num_experts = 128"),
    ("qwen3-vl-8b", "text_config", {"hidden_act": "gelu"}, "text_config.hidden_act"),
    ("qwen3-vl-8b", "vision_config", {"deepstack_visual_indexes": [8, 27]},
     "vision_config.deepstack_visual_indexes"),
    ("qwen3-vl-8b", "vision_config", {"out_hidden_size": 2048}, "vision_config.out_hidden_size"),
    ("qwen2.5-vl-3b", "vision_config", {"hidden_act": "gelu"}, "vision_config.hidden_act"),
    ("qwen2.5-vl-3b", "vision_config", {"fullatt_block_indexes": [7, 32]},
     "vision_config.fullatt_block_indexes"),
    ("qwen2.5-vl-3b", None, {"architectures": ["Qwen2VLForConditionalGeneration"]},
     "architectures"),
])
def test_refusals_name_the_field(mid, where, update, field):
    cfg = copy.deepcopy(zoo_config(mid))
    (cfg[where] if where else cfg).update(update)
    assert field in config_refused(cfg)


def test_qwen2_5_sliding_window_is_modelled():
    """use_sliding_window (Qwen2 semantics: layers >= max_window_layers) is costed as sliding
    layers (loading/windows.py), not refused."""
    cfg = {**zoo_config("qwen2.5-vl-3b"), "use_sliding_window": True, "max_window_layers": 10}
    m = spec_from_config(cfg).llm
    assert m.layer_types[:10] == ("full",) * 10 and set(m.layer_types[10:]) == {"sliding"}
    assert m.sliding_window == cfg.get("sliding_window", 4096)
