"""InternVL config.json -> ModelSpec: fields read, class defaults, refusals (one line each)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from costmodel.loading.config_fields import ConfigError
from costmodel.loading.from_config import spec_from_config
from costmodel.loading.load import load_model

ZOO_DIR = Path(__file__).resolve().parents[3] / "costmodel" / "zoo_configs"


def _cfg(mid: str = "internvl3-2b") -> dict:
    return json.loads((ZOO_DIR / f"{mid}.json").read_text())


def test_internvl3_2b_fields():
    s = load_model("internvl3-2b")
    v, pj, ts = s.vision, s.projector, s.token_scheme
    assert (v.num_layers, v.hidden_size, v.num_heads, v.intermediate_size) == (24, 1024, 16, 4096)
    assert (v.image_size, v.patch_size, v.cls_token, v.patch_bias) == (448, 14, True, True)
    assert v.layer_scale and v.qkv_bias and not v.qk_norm and v.norm_kind == "layernorm"
    assert not v.post_norm and v.executed_layers == 24 and v.mlp_act == "gelu"
    assert (pj.kind, pj.merge_size, pj.merged_dim, pj.output_dim) == ("pixel_shuffle_mlp", 2, 4096,
                                                                       1536)
    assert (ts.kind, ts.min_tiles, ts.max_tiles, ts.image_text_tokens) == ("tiles", 1, 12, 2)
    assert not s.llm.tie_embeddings and s.llm.qkv_bias and s.llm.vocab_size == 151674


def test_hand_counted_components():
    # InternViT-300M layer: q,k,v,o 4*1024^2 + biases 4*1024; MLP 2*1024*4096 + 4096 + 1024;
    # two LayerNorms 4*1024; lambda_1, lambda_2 2*1024 = 12,598,272.
    s = load_model("internvl3-2b")
    assert s.vision.layer_params() == 4 * 1024**2 + 4 * 1024 + 2 * 1024 * 4096 + 5120 + 6 * 1024
    # conv 3*14*14*1024 + 1024, CLS 1024, positions 1025*1024, 24 layers.
    assert s.param_counts()["vision"] == 588 * 1024 + 1024 + 1024 + 1025 * 1024 + 24 * 12_598_272
    # LayerNorm(4096) + Linear(4096, 1536) + Linear(1536, 1536).
    assert s.param_counts()["projector"] == 2 * 4096 + 4096 * 1536 + 1536 + 1536**2 + 1536


def test_top_level_flag_decides_lm_head_tying():
    cfg = _cfg()
    cfg["tie_word_embeddings"] = True
    cfg["text_config"]["tie_word_embeddings"] = False
    untied = spec_from_config(_cfg()).param_counts()["total"]
    assert untied - spec_from_config(cfg).param_counts()["total"] == 151674 * 1536


@pytest.mark.parametrize(("text_flag", "tied"), [(None, False), (False, False), (True, True)])
def test_without_top_level_flag_text_config_decides(text_flag, tied):
    # The converter's -hf files have no top-level key (transformers 4.52 read text_config,
    # Qwen2Config default false); the checkpoints store a separate lm_head.
    cfg = _cfg()
    del cfg["tie_word_embeddings"]
    if text_flag is not None:
        cfg["text_config"]["tie_word_embeddings"] = text_flag
    assert spec_from_config(cfg).llm.tie_embeddings is tied


def test_qk_norm_rms_norm_and_no_bias_count():
    cfg = _cfg()
    cfg["vision_config"].update(use_qk_norm=True, norm_type="rms_norm", attention_bias=False)
    v = spec_from_config(cfg).vision
    d = 1024
    base = load_model("internvl3-2b").vision.layer_params()
    assert v.layer_params() == base + 2 * d - 3 * d - 2 * d  # + q/k norms, - qkv bias, - LN bias


@pytest.mark.parametrize(("where", "key", "value", "match"), [
    ("", "vision_feature_layer", -2, "vision_feature_layer = -2 is not modelled"),
    ("", "vision_feature_select_strategy", "full", "vision_feature_select_strategy"),
    ("", "projector_hidden_act", "relu", "projector_hidden_act"),
    ("", "downsample_ratio", 0.3, "downsample_ratio 0.3 must be 1/m"),
    ("", "image_seq_length", 64, "image_seq_length 64 differs from the 256"),
    ("", "architectures", ["InternVLChatModel"], "architectures"),
    ("vision_config", "use_mask_token", True, "use_mask_token"),
    ("vision_config", "use_mean_pooling", False, "use_mean_pooling"),
    ("vision_config", "norm_type", "batch_norm", "norm_type 'batch_norm'"),
    ("vision_config", "image_size", [448, 336], "not square"),
    ("text_config", "num_experts", 8, "mixture-of-experts"),
])
def test_refusals_name_the_field(where, key, value, match):
    cfg = copy.deepcopy(_cfg())
    (cfg[where] if where else cfg)[key] = value
    with pytest.raises(ConfigError, match=match) as e:
        spec_from_config(cfg)
    assert "\n" not in str(e.value)
