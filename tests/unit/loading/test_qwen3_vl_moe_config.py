"""Qwen3-VL-MoE configs (costmodel/loading/qwen3_vl_moe.py): the fields read, the
Qwen3VLMoeTextConfig defaults used, and one ConfigError line naming each field that changes
cost and is not modelled."""

from __future__ import annotations

import copy

import pytest

from costmodel.loading.from_config import spec_from_config
from tests.helpers import config_refused, zoo_config

CFG = zoo_config("qwen3-vl-30b-a3b")
DENSE = zoo_config("qwen3-vl-8b")


def _with(**text: object) -> dict:
    cfg = copy.deepcopy(CFG)
    cfg["text_config"].update(text)
    return cfg


def test_fields():
    s = spec_from_config(CFG)
    m = s.llm
    assert m.moe is not None and m.qk_norm and not m.qkv_bias and not m.tie_embeddings
    assert (m.moe.num_experts, m.moe.experts_per_token, m.moe.expert_intermediate_size) == \
        (128, 8, 768)
    assert m.moe.norm_topk_prob and m.moe.shared_expert_intermediate_size == 0
    assert (m.hidden_size, m.num_layers, m.num_heads, m.num_kv_heads, m.head_dim) == \
        (2048, 48, 32, 4, 128)
    assert m.layer_types == () and m.max_position_embeddings == 262144


def test_vision_is_qwen3_vls():
    # The same ViT, merger and DeepStack mergers as Qwen3-VL-8B; only the output width (the
    # LLM's hidden size) differs.
    moe, dense = spec_from_config(CFG), spec_from_config(DENSE)
    assert moe.vision == dense.vision and moe.token_scheme == dense.token_scheme
    assert moe.projector is not None and dense.projector is not None
    assert moe.projector.model_copy(update={"output_dim": 4096}) == dense.projector
    assert moe.projector.deepstack == 3


def test_defaults_are_qwen3vlmoetextconfig():
    """Omitted text fields take Qwen3VLMoeTextConfig's defaults (not Qwen3VLTextConfig's):
    hidden 2048, 24 layers, 16 heads and 16 KV heads (head_dim 128 = 2048 / 16), 60 experts,
    top-4, expert width 1408; the router renormalises (no norm_topk_prob field)."""
    m = spec_from_config({"model_type": "qwen3_vl_moe",
                          "vision_config": {"out_hidden_size": 2048}}).llm
    assert (m.hidden_size, m.num_layers, m.num_heads, m.num_kv_heads, m.head_dim) == \
        (2048, 24, 16, 16, 128)
    assert m.moe is not None and (m.moe.num_experts, m.moe.experts_per_token) == (60, 4)
    assert m.moe.expert_intermediate_size == 1408 and m.moe.norm_topk_prob
    assert not m.tie_embeddings  # Qwen3VLMoeConfig's own default (false) decides


def test_norm_topk_prob_false_is_still_renormalised():
    # Qwen3VLMoeTextTopKRouter divides by the top-k sum whatever the config says.
    m = spec_from_config(_with(norm_topk_prob=False)).llm
    assert m.moe is not None and m.moe.norm_topk_prob


def test_num_local_experts_is_read():
    cfg = copy.deepcopy(CFG)
    cfg["text_config"]["num_local_experts"] = cfg["text_config"].pop("num_experts")
    assert spec_from_config(cfg).llm.moe == spec_from_config(CFG).llm.moe


@pytest.mark.parametrize(("text", "field"), [
    (dict(decoder_sparse_step=2), "text_config.decoder_sparse_step"),
    (dict(mlp_only_layers=[0, 5]), "text_config.mlp_only_layers"),
    (dict(num_experts=0), "text_config.num_experts"),
    (dict(output_router_logits=True), "text_config.output_router_logits"),
    (dict(shared_expert_intermediate_size=768), "text_config.shared_expert_intermediate_size"),
    (dict(hidden_act="gelu"), "text_config.hidden_act"),
    (dict(num_experts_per_tok=200), "text_config.num_experts_per_tok"),
    (dict(layer_types=["sliding_attention"] * 48), "text_config.layer_types"),
])
def test_unmodelled_fieldsconfig_refused(text, field):
    assert field in config_refused(_with(**text))


def test_wrong_architectureconfig_refused():
    cfg = copy.deepcopy(CFG)
    cfg["architectures"] = ["Qwen3VLForConditionalGeneration"]
    assert "architectures" in config_refused(cfg)


def test_out_hidden_size_must_match():
    cfg = copy.deepcopy(CFG)
    cfg["vision_config"]["out_hidden_size"] = 4096
    assert "out_hidden_size" in config_refused(cfg)
