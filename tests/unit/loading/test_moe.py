"""Mixture-of-experts configs (costmodel/loading/moe.py): the fields read, the transformers
defaults used, and one ConfigError line naming each field that is not modelled."""

from __future__ import annotations

import pytest

from costmodel.loading.from_config import spec_from_config
from tests.helpers import config_refused, zoo_config

MIXTRAL = zoo_config("mixtral-8x7b")
QWEN3_MOE = zoo_config("qwen3-30b-a3b")


def test_mixtral_fields():
    m = spec_from_config(MIXTRAL).llm
    assert m.moe is not None and not m.qk_norm and not m.qkv_bias
    assert (m.moe.num_experts, m.moe.experts_per_token, m.moe.expert_intermediate_size) == \
        (8, 2, 14336)
    assert m.moe.norm_topk_prob  # MixtralTopKRouter always renormalises
    assert m.moe.shared_expert_intermediate_size == 0 and m.head_dim == 128


def test_qwen3_moe_fields():
    m = spec_from_config(QWEN3_MOE).llm
    assert m.moe is not None and m.qk_norm and not m.qkv_bias  # Qwen2's bias is not used
    assert (m.moe.num_experts, m.moe.experts_per_token, m.moe.expert_intermediate_size) == \
        (128, 8, 768)
    assert m.head_dim == 128 and m.q_dim == 4096 != m.hidden_size  # head_dim from config.json
    assert m.moe.norm_topk_prob and m.max_position_embeddings == 40960


def test_qwen3_moe_defaults_are_qwen3moeconfig_not_qwen2config():
    """Fields a config omits take Qwen3MoeConfig's defaults (transformers 5.23), not Qwen2's."""
    keep = ("model_type", "num_hidden_layers", "head_dim")
    m = spec_from_config({k: QWEN3_MOE[k] for k in keep}).llm
    assert (m.hidden_size, m.num_kv_heads, m.vocab_size, m.qkv_bias) == (2048, 4, 151936, False)
    assert m.moe is not None and (m.moe.num_experts, m.moe.experts_per_token) == (128, 8)
    assert (m.moe.expert_intermediate_size, m.moe.norm_topk_prob) == (768, False)


def test_mixtral_without_sliding_window_uses_mixtralconfig_default():
    # MixtralConfig.sliding_window defaults to None (MistralConfig's to 4096): full attention.
    assert "sliding_window" not in MIXTRAL
    assert spec_from_config(MIXTRAL).llm.moe is not None
    assert spec_from_config(MIXTRAL).llm.layer_types == ()


def test_mixtral_sliding_window_is_modelled():
    """A Mixtral config with a window (MistralConfig semantics: every layer) costs sliding
    layers (loading/windows.py), not a refusal."""
    m = spec_from_config({**MIXTRAL, "sliding_window": 4096}).llm
    assert m.moe is not None and m.sliding_window == 4096
    assert set(m.layer_types) == {"sliding"} and len(m.layer_types) == m.num_layers


@pytest.mark.parametrize(("cfg", "start"), [
    ({**QWEN3_MOE, "decoder_sparse_step": 2}, "config.json: decoder_sparse_step = 2: dense layers"),
    ({**QWEN3_MOE, "mlp_only_layers": [0, 3]}, "config.json: mlp_only_layers = [0, 3]: dense"),
    ({**QWEN3_MOE, "use_sliding_window": True}, "config.json: use_sliding_window: a sliding"),
    ({**QWEN3_MOE, "output_router_logits": True}, "config.json: output_router_logits = true"),
    ({**MIXTRAL, "architectures": ["MistralForCausalLM"]}, "config.json: architectures "),
    ({**MIXTRAL, "num_experts_per_tok": 9}, "config.json: moe.experts_per_token: 9 exceeds"),
    ({**QWEN3_MOE, "shared_expert_intermediate_size": 512},
     "config.json: shared_expert_intermediate_size = 512: mixture-of-experts"),
    ({**MIXTRAL, "hidden_act": "gelu"}, "config.json: hidden_act 'gelu' is not modelled"),
])
def test_unmodelled_fieldsconfig_refused(cfg, start):
    assert config_refused(cfg).startswith(start)


def test_qwen2_moe_shared_expert_and_bias_defaults():
    """Qwen2MoeConfig defaults (transformers 5.23): qkv_bias true, a 5632-wide shared expert
    with its sigmoid gate, 60 experts of 1408, top-4."""
    m = spec_from_config({"model_type": "qwen2_moe"}).llm
    assert m.qkv_bias and not m.qk_norm and m.moe is not None
    assert (m.moe.num_experts, m.moe.experts_per_token, m.moe.expert_intermediate_size) == \
        (60, 4, 1408)
    assert (m.moe.shared_expert_intermediate_size, m.moe.shared_expert_gate) == (5632, True)
    assert not spec_from_config({"model_type": "qwen2_moe", "qkv_bias": False}).llm.qkv_bias
    assert config_refused({"model_type": "qwen2_moe", "use_sliding_window": True}).startswith(
        "config.json: use_sliding_window: ")
