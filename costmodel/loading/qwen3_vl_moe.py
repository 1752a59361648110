"""Qwen3-VL mixture of experts (model_type qwen3_vl_moe, transformers
`Qwen3VLMoeForConditionalGeneration`) config.json -> ModelSpec. No I/O.

The model is Qwen3-VL's vision tower, merger and DeepStack mergers (loading/qwen_vl.py, read
unchanged: `Qwen3VLMoeVisionConfig` has `Qwen3VLVisionConfig`'s fields and defaults) in front
of a Qwen3-MoE decoder: Qwen3-VL's attention (q/k RMSNorm per head; q/k/v and o_proj biases
only with `attention_bias`, Qwen3VLMoeTextAttention) with a
`Qwen3VLMoeTextSparseMoeBlock` in every layer (router Linear(h, E), softmax, top-k, the k
weights always renormalised by `Qwen3VLMoeTextTopKRouter`, E SwiGLU experts of width
`moe_intermediate_size`, no shared expert). The text config is read as the dense Qwen3-VL text
config (`_dense_text`, `Qwen3VLMoeTextConfig`'s transformers 5.23 defaults filled in, the MoE
fields removed) and the experts are added as an `MoESpec` (specs/moe.py, core/moe.py).

Refused with one ConfigError line (they change cost and are not modelled): dense layers among
the MoE layers (`decoder_sparse_step` != 1, a non-empty `mlp_only_layers`, `num_experts` 0),
the load-balancing loss in the forward (`output_router_logits` true), a non-SiLU MLP, other
families' expert fields (a shared expert), non-full `layer_types` (the dense reader's rule).
`norm_topk_prob` is not a Qwen3VLMoeTextConfig field (the router renormalises whatever it
says); `sliding_window` is reset to None by the config class (full causal attention on every
layer).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from costmodel.errors import one_line
from costmodel.loading.config_fields import ConfigError, _get
from costmodel.loading.qwen_vl import qwen_vl_from_config
from costmodel.specs.model import ModelSpec
from costmodel.specs.moe import MoESpec

Cfg = dict[str, Any]

ARCHITECTURE = "Qwen3VLMoeForConditionalGeneration"
# Qwen3VLMoeTextConfig defaults (transformers 5.23 configuration_qwen3_vl_moe.py); head_dim
# None = hidden_size // num_attention_heads (its __post_init__).
TEXT_DEFAULTS: Cfg = dict(
    vocab_size=151936, hidden_size=2048, intermediate_size=5632, num_hidden_layers=24,
    num_attention_heads=16, num_key_value_heads=16, hidden_act="silu",
    max_position_embeddings=128000, attention_bias=False, decoder_sparse_step=1,
    moe_intermediate_size=1408, num_experts_per_tok=4, num_experts=60,
)
# Read here, not by the dense Qwen3-VL text reader (it refuses expert fields).
_MOE_FIELDS = ("num_experts", "num_local_experts", "num_experts_per_tok",
               "moe_intermediate_size", "norm_topk_prob", "decoder_sparse_step",
               "mlp_only_layers", "output_router_logits", "router_aux_loss_coef")
# Expert fields of other MoE families: Qwen3VLMoe has no shared expert (and reads none of these).
_FOREIGN = ("shared_expert_intermediate_size", "n_shared_experts", "n_routed_experts",
            "moe_num_experts")
W = "text_config."


def _experts(tc: Cfg) -> int:
    """num_experts; Qwen3VLMoeTextConfig maps it to `num_local_experts` (attribute_map), so
    a re-saved config may carry that name instead."""
    key = "num_experts" if tc.get("num_experts") is not None else "num_local_experts"
    return int(_get(tc, {key: TEXT_DEFAULTS["num_experts"]}, key, W))


def _refuse_unmodelled(tc: Cfg) -> None:
    """Dense decoder layers among the MoE layers; the load-balancing loss in the forward."""
    step = _get(tc, TEXT_DEFAULTS, "decoder_sparse_step", W)
    if step != 1:
        raise ConfigError(f"config.json: {W}decoder_sparse_step = {step}: dense layers between "
                          "MoE layers are not modelled; use a config with decoder_sparse_step 1")
    if tc.get("mlp_only_layers"):
        raise ConfigError(f"config.json: {W}mlp_only_layers = {tc['mlp_only_layers']}: dense "
                          "layers among MoE layers are not modelled; use a config with []")
    if _experts(tc) <= 0:
        raise ConfigError(f"config.json: {W}num_experts = {_experts(tc)}: a Qwen3-VL-MoE config "
                          "without experts is dense; use model_type qwen3_vl")
    for key in _FOREIGN:
        if tc.get(key):
            raise ConfigError(f"config.json: {W}{key} = {tc[key]}: {ARCHITECTURE} has no such "
                              "experts (transformers does not read it); remove the field")
    if tc.get("output_router_logits"):
        raise ConfigError(f"config.json: {W}output_router_logits = true: the load-balancing loss "
                          "computed in the forward is not modelled; set it to false")


def _dense_text(tc: Cfg) -> Cfg:
    """The text config as the dense Qwen3-VL reader reads it: Qwen3VLMoeTextConfig's defaults
    filled in (they differ from Qwen3VLTextConfig's), head_dim resolved, MoE fields removed."""
    full = {**TEXT_DEFAULTS, **{k: v for k, v in tc.items() if v is not None}}
    if full.get("head_dim") is None:
        heads = _get(full, {}, "num_attention_heads", W)
        full["head_dim"] = _get(full, {}, "hidden_size", W) // max(heads, 1)
    return {k: v for k, v in full.items() if k not in _MOE_FIELDS}


def _moe(tc: Cfg) -> MoESpec:
    e, k = _experts(tc), _get(tc, TEXT_DEFAULTS, "num_experts_per_tok", W)
    if isinstance(k, int) and k > e:
        raise ConfigError(f"config.json: {W}num_experts_per_tok = {k} exceeds num_experts {e}")
    try:
        return MoESpec(num_experts=e, experts_per_token=k,
                       expert_intermediate_size=_get(tc, TEXT_DEFAULTS, "moe_intermediate_size",
                                                     W),
                       norm_topk_prob=True)  # Qwen3VLMoeTextTopKRouter always renormalises
    except ValidationError as e:
        raise ConfigError(f"config.json: {W}{one_line(e).removeprefix('moe.')}") from None


def qwen3_vl_moe_from_config(cfg: Cfg, name: str) -> ModelSpec:
    """A qwen3_vl_moe config.json -> ModelSpec: the Qwen3-VL spec of its dense view, with the
    experts on every decoder layer."""
    archs = cfg.get("architectures") or []
    if any(a != ARCHITECTURE for a in archs):
        raise ConfigError(f"config.json: architectures {archs} is not modelled for model_type "
                          f"'qwen3_vl_moe'; use a transformers config.json whose architectures "
                          f"is {ARCHITECTURE}")
    tc = cfg.get("text_config") or {}
    _refuse_unmodelled(tc)
    moe = _moe(tc)
    dense = {**cfg, "model_type": "qwen3_vl", "architectures": [],
             "text_config": _dense_text(tc)}
    spec = qwen_vl_from_config(dense, name)
    return spec.model_copy(update={"llm": spec.llm.model_copy(update={"moe": moe})})
