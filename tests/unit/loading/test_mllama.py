"""Llama-3.2-Vision (mllama) loads from its own config.json with the exact parameter counts of
the real transformers class built on the meta device, and refuses what it does not model."""

from __future__ import annotations

import json

import pytest

from costmodel.loading.config_fields import ConfigError
from costmodel.loading.from_config import spec_from_config
from costmodel.loading.load import load_model

ZOO = "llama-3.2-11b-vision"


def _cfg() -> dict:
    from importlib.resources import files
    return json.loads((files("costmodel") / "zoo_configs" / f"{ZOO}.json").read_text())


def _meta_counts(cfg: dict) -> dict[str, int]:
    torch = pytest.importorskip("torch")
    from transformers import MllamaConfig, MllamaForConditionalGeneration

    conf = MllamaConfig(**{k: v for k, v in cfg.items() if k != "architectures"})
    with torch.device("meta"):
        m = MllamaForConditionalGeneration(conf)

    def n(mod: object) -> int:
        return sum(p.numel() for p in mod.parameters())  # type: ignore[attr-defined]

    return {"vision": n(m.model.vision_model), "projector": n(m.model.multi_modal_projector),
            "llm": n(m.model.language_model) + n(m.lm_head), "total": n(m)}


def test_param_counts_equal_the_real_class():
    assert load_model(ZOO).param_counts() == _meta_counts(_cfg())


def test_published_size():
    # Model card (meta-llama/Llama-3.2-11B-Vision-Instruct): "11B (10.6)" parameters, i.e.
    # 10.6e9 <= n < 10.7e9; the five bf16 safetensors shards are 4.99 + 4.97 + 4.92 + 5.00 +
    # 1.47 = 21.35 GB = 2 bytes x 10.67e9 (SOURCES.md).
    n = load_model(ZOO).param_counts()["total"]
    assert 10.6e9 <= n < 10.7e9
    assert abs(2 * n - 21.35e9) < 0.01e9


def test_shrunken_config_counts():
    cfg = _cfg()
    cfg["text_config"].update(hidden_size=64, intermediate_size=96, num_hidden_layers=5,
                              num_attention_heads=4, num_key_value_heads=2, vocab_size=300,
                              cross_attention_layers=[1, 4], bos_token_id=1, eos_token_id=2,
                              pad_token_id=0)
    cfg["vision_config"].update(hidden_size=32, intermediate_size=48, num_hidden_layers=4,
                                num_global_layers=2, attention_heads=4, image_size=28,
                                patch_size=7, intermediate_layers_indices=[0, 2],
                                vision_output_dim=96)
    assert spec_from_config(cfg, "tiny").param_counts() == _meta_counts(cfg)


def test_spec_fields():
    m = load_model(ZOO)
    assert m.llm.cross_attention_layers == (3, 8, 13, 18, 23, 28, 33, 38)
    v = m.cross_vision
    assert v is not None and m.vision is None and m.projector is None
    assert (v.tokens_per_tile, v.padded_tokens_per_tile, v.image_size) == (1601, 1608, 560)
    assert v.vision_output_dim == 1280 * 6


@pytest.mark.parametrize("where, key, value, field", [
    ("vision_config", "hidden_act", "quick_gelu", "vision_config.hidden_act"),
    ("text_config", "hidden_act", "gelu", "text_config.hidden_act"),
    ("text_config", "num_local_experts", 8, "text_config.num_local_experts"),
    ("vision_config", "vision_output_dim", 4096, "vision_config.vision_output_dim"),
    ("vision_config", "supported_aspect_ratios", [[1, 5]], "vision_config.supported_aspect_ratios"),
    ("text_config", "cross_attention_layers", [3, 40], "cross_attention_layers"),
])
def test_refusals_name_the_field(where, key, value, field):
    cfg = _cfg()
    cfg[where][key] = value
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        spec_from_config(cfg, "bad")


def test_other_architecture_refused():
    cfg = _cfg()
    cfg["architectures"] = ["MllamaForCausalLM"]
    with pytest.raises(ConfigError, match="architectures"):
        spec_from_config(cfg, "bad")
