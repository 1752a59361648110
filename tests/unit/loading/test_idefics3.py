"""Idefics3 / SmolVLM config.json -> ModelSpec: fields read, exact counts, refusals."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from costmodel.loading.config_fields import ConfigError
from costmodel.loading.from_config import spec_from_config
from costmodel.loading.load import load_model

ZOO_DIR = Path(__file__).resolve().parents[3] / "costmodel" / "zoo_configs"
# SmolVLM-256M-Instruct's text shape (SmolLM2-135M); the rest of its config.json is the 500M's
# (SOURCES.md): its safetensors hold 256,484,928 parameters.
SMOL_256M_TEXT = dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                      num_attention_heads=9, num_key_value_heads=3)


def _cfg() -> dict:
    return json.loads((ZOO_DIR / "smolvlm-500m.json").read_text())


def test_smolvlm_500m_fields():
    s = load_model("smolvlm-500m")
    v, pj, ts, m = s.vision, s.projector, s.token_scheme, s.llm
    assert (v.num_layers, v.hidden_size, v.num_heads, v.intermediate_size) == (12, 768, 12, 3072)
    assert (v.image_size, v.patch_size, v.cls_token, v.patch_bias) == (512, 16, False, True)
    assert v.post_norm and v.post_norm_applied and v.mlp_act == "gelu_tanh"
    assert (pj.kind, pj.merge_size, pj.merged_dim, pj.output_dim, pj.bias) == (
        "pixel_shuffle_linear", 4, 12288, 960, False)
    assert (ts.kind, ts.resize_longest_edge, ts.default_image_size) == ("splits", 2048, (512, 512))
    assert (m.hidden_size, m.num_layers, m.num_heads, m.num_kv_heads, m.head_dim) == (
        960, 32, 15, 5, 64)
    assert not m.tie_embeddings and m.vocab_size == 49280


def test_hand_counted_components():
    s = load_model("smolvlm-500m").param_counts()
    # SigLIP-B/16 layer: q,k,v,o 4*768^2 + 4*768; fc1/fc2 2*768*3072 + 3072 + 768; 2 LayerNorms
    layer = 4 * 768**2 + 4 * 768 + 2 * 768 * 3072 + 3072 + 768 + 4 * 768
    # conv 3*16*16*768 + 768; 1024 positions x 768; post_layernorm 2*768; 12 layers
    assert s["vision"] == 3 * 256 * 768 + 768 + 1024 * 768 + 2 * 768 + 12 * layer == 86_433_024
    assert s["projector"] == 768 * 16 * 960 == 11_796_480  # one Linear(12288, 960), no bias


def test_256m_shape_gives_its_published_total():
    cfg = _cfg()
    cfg["text_config"].update(SMOL_256M_TEXT)
    assert spec_from_config(cfg).param_counts()["total"] == 256_484_928


def test_class_defaults_fill_missing_fields():
    # Idefics3VisionConfig defaults: 1152 wide, 12 layers, 224 px, patch 32 (a 7x7 grid that
    # scale_factor 2 cannot shuffle: refused), so image_size is given
    s = spec_from_config({"model_type": "idefics3", "vision_config": {"image_size": 256}})
    assert (s.vision.hidden_size, s.vision.num_layers, s.vision.patch_size) == (1152, 12, 32)
    assert s.projector.merge_size == 2 and s.token_scheme.resize_longest_edge is None
    assert not s.llm.tie_embeddings


@pytest.mark.parametrize(("path", "value", "needle"), [
    (("architectures",), ["LlavaForConditionalGeneration"], "architectures"),
    (("text_config", "model_type"), "qwen2", "text_config.model_type"),
    (("scale_factor",), 3, "scale_factor 3"),
    (("vision_config", "max_image_size"), {"longest_edge": 384}, "max_image_size"),
    (("vision_config", "size"), {"shortest_edge": 384}, "vision_config.size"),
    (("vision_config", "image_size"), [512, 512], "vision_config.image_size"),
    (("vision_config", "hidden_act"), "relu", "hidden_act"),
    (("text_config", "num_local_experts"), 8, "num_local_experts"),
])
def test_refusals_name_the_field(path, value, needle):
    cfg = copy.deepcopy(_cfg())
    node = cfg
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ConfigError) as e:
        spec_from_config(cfg)
    assert needle in str(e.value) and "\n" not in str(e.value)


torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers", minversion="5.23")


@pytest.mark.parametrize("text", [{}, SMOL_256M_TEXT])
def test_components_equal_transformers_meta_build(text):
    cfg = _cfg()
    cfg["text_config"].update(text)
    c = transformers.Idefics3Config.from_dict(cfg)
    with torch.device("meta"):
        m = transformers.Idefics3ForConditionalGeneration(c)

    def n(mod) -> int:
        return sum(p.numel() for p in mod.parameters())

    got = spec_from_config(cfg).param_counts()
    assert got["vision"] == n(m.model.vision_model)
    assert got["projector"] == n(m.model.connector)
    assert got["llm"] == n(m.model.text_model) + n(m.lm_head)  # lm_head untied
    assert got["total"] == n(m)
