"""Mixture-of-experts decoders from config.json: model_type mixtral, qwen3_moe and qwen2_moe.
No I/O.

The attention, embedding and norms are those of a dense family the loader already builds
(Mixtral = Mistral's, Qwen3-MoE = Qwen2's with q/k/v/o biases only from `attention_bias`
(default false), plus Qwen3's per-head q/k RMSNorm, Qwen2-MoE = Qwen2's, plus a gated shared
expert):
the config is read as that dense config (`_dense_view`, with the MoE config class's defaults
filled in) and the experts are added as an `MoESpec`. Defaults are the transformers 5.23 config
classes' (MixtralConfig, Qwen3MoeConfig, Qwen2MoeConfig). What changes cost and is not
modelled is refused with one ConfigError line naming the field: dense layers among MoE layers
(`decoder_sparse_step`, `mlp_only_layers`), a sliding window, router logits in the forward
(`output_router_logits`).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from costmodel.errors import one_line
from costmodel.loading.hf_config import ConfigError, _get, llm_from_config
from costmodel.specs.model import ModelSpec
from costmodel.specs.moe import MoESpec

Cfg = dict[str, Any]

# model_type -> (transformers class, dense model_type read for the rest, config-class defaults)
MOE_KINDS: dict[str, tuple[str, str, Cfg]] = {
    "mixtral": ("MixtralForCausalLM", "mistral", dict(
        vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
        num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=4096 * 32,
        tie_word_embeddings=False, sliding_window=None, num_local_experts=8,
        num_experts_per_tok=2)),
    "qwen3_moe": ("Qwen3MoeForCausalLM", "qwen2", dict(
        vocab_size=151936, hidden_size=2048, intermediate_size=6144, num_hidden_layers=24,
        num_attention_heads=32, num_key_value_heads=4, max_position_embeddings=32768,
        tie_word_embeddings=False, attention_bias=False, use_sliding_window=False,
        decoder_sparse_step=1, moe_intermediate_size=768, num_experts_per_tok=8,
        num_experts=128, norm_topk_prob=False)),
    "qwen2_moe": ("Qwen2MoeForCausalLM", "qwen2", dict(
        vocab_size=151936, hidden_size=2048, intermediate_size=5632, num_hidden_layers=24,
        num_attention_heads=16, num_key_value_heads=16, max_position_embeddings=32768,
        tie_word_embeddings=False, qkv_bias=True, use_sliding_window=False,
        decoder_sparse_step=1, moe_intermediate_size=1408, shared_expert_intermediate_size=5632,
        num_experts_per_tok=4, num_experts=60, norm_topk_prob=False)),
}
# Fields read here, not by the dense loader (it would refuse them as unmodelled experts).
_MOE_FIELDS = ("num_local_experts", "num_experts", "num_experts_per_tok", "moe_intermediate_size",
               "norm_topk_prob", "decoder_sparse_step", "mlp_only_layers", "use_sliding_window",
               "output_router_logits", "router_jitter_noise", "router_aux_loss_coef")


def _refuse_unmodelled(cfg: Cfg, d: Cfg, kind: str) -> None:
    """Dense layers among the MoE layers, a sliding window, router logits in the forward."""
    step = _get(cfg, d, "decoder_sparse_step") if "decoder_sparse_step" in d else 1
    if step != 1:
        raise ConfigError(f"config.json: decoder_sparse_step = {step}: dense layers between MoE "
                          "layers are not modelled; use a config with decoder_sparse_step 1")
    if cfg.get("mlp_only_layers"):
        raise ConfigError(f"config.json: mlp_only_layers = {cfg['mlp_only_layers']}: dense "
                          "layers among MoE layers are not modelled; use a config with []")
    if kind != "mixtral" and cfg.get("use_sliding_window"):
        raise ConfigError("config.json: use_sliding_window: a sliding window on every layer is "
                          "not modelled; set use_sliding_window to false to cost full attention")
    if cfg.get("output_router_logits"):
        raise ConfigError("config.json: output_router_logits = true: the load-balancing loss "
                          "computed in the forward is not modelled; set it to false")


def _dense_view(cfg: Cfg, kind: str) -> Cfg:
    """The config as its dense family's loader reads it: the MoE class's defaults filled in,
    the MoE fields removed, the dense model_type and class."""
    arch, dense, d = MOE_KINDS[kind]
    read = _MOE_FIELDS + (("shared_expert_intermediate_size", "qkv_bias") if kind == "qwen2_moe"
                          else ())
    full = {**d, **{k: v for k, v in cfg.items() if v is not None}}
    view = {k: v for k, v in full.items() if k not in read}
    view.update(model_type=dense, architectures=[], sliding_window=cfg.get("sliding_window"))
    if kind != "mixtral":  # Qwen MoE configs: a window only with use_sliding_window (refused)
        view.update(use_sliding_window=False)
    view.pop("attention_bias", None)  # the MoE classes' own biases: _attention_biases
    return view


def _attention_biases(cfg: Cfg, kind: str) -> dict[str, bool]:
    """q/k/v and o_proj biases: Qwen2MoeConfig `qkv_bias` (default true) on q/k/v, none on
    o_proj (Qwen2MoeAttention); MixtralAttention has none (`attention_bias` ignored, as
    transformers does); Qwen3MoeConfig `attention_bias` biases q, k, v and o_proj
    (models/qwen3_moe/modeling_qwen3_moe.py, Qwen3MoeAttention.__init__)."""
    d = MOE_KINDS[kind][2]
    if kind == "qwen2_moe":
        return {"qkv_bias": bool(_get(cfg, d, "qkv_bias")), "o_bias": False}
    bias = kind == "qwen3_moe" and bool(_get(cfg, d, "attention_bias"))
    return {"qkv_bias": bias, "o_bias": bias}


def moe_from_config(cfg: Cfg, kind: str) -> MoESpec:
    d = MOE_KINDS[kind][2]
    experts = "num_local_experts" if kind == "mixtral" else "num_experts"
    width = "intermediate_size" if kind == "mixtral" else "moe_intermediate_size"
    # Qwen2MoeSparseMoeBlock: a shared expert of this width scaled by sigmoid(Linear(h, 1))
    shared = _get(cfg, d, "shared_expert_intermediate_size") if kind == "qwen2_moe" else 0
    try:
        return MoESpec(num_experts=_get(cfg, d, experts),
                       experts_per_token=_get(cfg, d, "num_experts_per_tok"),
                       expert_intermediate_size=_get(cfg, d, width),
                       shared_expert_intermediate_size=shared, shared_expert_gate=bool(shared),
                       # MixtralTopKRouter always renormalises the top-k weights
                       norm_topk_prob=bool(cfg.get("norm_topk_prob", d.get("norm_topk_prob", True))))
    except ValidationError as e:
        raise ConfigError(f"config.json: {one_line(e)}") from None


def moe_spec_from_config(cfg: Cfg, name: str) -> ModelSpec:
    """A text-only mixtral / qwen3_moe config.json -> ModelSpec (ConfigError if unsupported)."""
    kind = cfg["model_type"]
    arch = MOE_KINDS[kind][0]
    if any(a != arch for a in cfg.get("architectures") or []):
        raise ConfigError(f"config.json: architectures {cfg['architectures']} is not modelled for "
                          f"model_type '{kind}'; use a transformers config.json whose "
                          f"architectures is {arch}")
    _refuse_unmodelled(cfg, MOE_KINDS[kind][2], kind)
    moe = moe_from_config(cfg, kind)
    llm = llm_from_config(_dense_view(cfg, kind))
    llm = llm.model_copy(update={"moe": moe, "qk_norm": kind == "qwen3_moe",
                                 **_attention_biases(cfg, kind)})
    return ModelSpec(name=name, llm=llm)
