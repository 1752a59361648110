"""Gemma 3 config.json -> ModelSpec: `gemma3` (Gemma3ForConditionalGeneration: SigLIP +
Gemma3MultiModalProjector + Gemma3TextModel) and `gemma3_text` (Gemma3ForCausalLM).

Defaults are transformers' config classes (5.23.0, models/gemma3/configuration_gemma3.py:
Gemma3TextConfig, Gemma3Config; siglip SiglipVisionConfig). What changes cost is modelled:
interleaved sliding-window / full layers (`layer_types`, else `sliding_window_pattern`, default
6: every 6th layer full), `sliding_window`, GeGLU MLP, q/k norms, four norms per layer, the
sqrt(hidden) embedding scale, tied embeddings, head_dim, the 4x4 average pool to
`mm_tokens_per_image`, q/k/v and o_proj biases with `attention_bias`. Refused with one
ConfigError line naming the field: logit soft-capping (`final_logit_softcapping`,
`attn_logit_softcapping`), `use_bidirectional_attention`, another `hidden_activation`, a SigLIP
head (`vision_use_head`), experts, layer types other than full / sliding.
`query_pre_attn_scalar` and `rope_scaling` / `rope_parameters` change values, not cost.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ValidationError

from costmodel.errors import one_line
from costmodel.loading.hf_config import (
    ConfigError,
    _get,
    _vit_from_config,
    check_experts,
)
from costmodel.specs.model import LLMSpec, ModelSpec, ProjectorSpec, TokenScheme, VisionSpec

Cfg = dict[str, Any]

# Gemma3TextConfig's class defaults for the fields read here.
TEXT_DEFAULTS: Cfg = dict(vocab_size=262_208, hidden_size=2304, intermediate_size=9216,
                          num_hidden_layers=26, num_attention_heads=8, num_key_value_heads=4,
                          head_dim=256, hidden_activation="gelu_pytorch_tanh",
                          max_position_embeddings=131_072, sliding_window=4096,
                          sliding_window_pattern=6, attention_bias=False)
MM_TOKENS_DEFAULT = 256  # Gemma3Config.mm_tokens_per_image
ARCHS = {"gemma3": "Gemma3ForConditionalGeneration", "gemma3_text": "Gemma3ForCausalLM"}
_KINDS = {"full_attention": "full", "sliding_attention": "sliding"}
_REFUSED = (("final_logit_softcapping", "tanh soft-capping of the logits"),
            ("attn_logit_softcapping", "tanh soft-capping of the attention scores"),
            ("use_bidirectional_attention", "bidirectional attention"))


def _check(tc: Cfg, where: str) -> None:
    check_experts(tc, where)
    for key, what in _REFUSED:
        if tc.get(key):
            raise ConfigError(f"config.json: {where}{key} = {tc[key]}: {what} is not modelled; "
                              f"set it to null / false")
    act = tc.get("hidden_activation") or TEXT_DEFAULTS["hidden_activation"]
    if act != "gelu_pytorch_tanh":
        raise ConfigError(f"config.json: {where}hidden_activation '{act}' is not modelled "
                          "(Gemma 3 MLPs are costed as GeGLU with gelu_pytorch_tanh)")


def layer_types(tc: Cfg, layers: int, where: str) -> tuple[Literal["full", "sliding"], ...]:
    """Gemma3TextConfig.__post_init__: `layer_types`, else layer i is full when
    (i + 1) % sliding_window_pattern == 0 and sliding otherwise."""
    given = tc.get("layer_types")
    if given is None:
        pattern = _get(tc, TEXT_DEFAULTS, "sliding_window_pattern", where)
        given = ["sliding_attention" if (i + 1) % pattern else "full_attention"
                 for i in range(layers)]
    bad = [t for t in given if t not in _KINDS]
    if bad:
        raise ConfigError(f"config.json: {where}layer_types has '{bad[0]}' layers: only "
                          "full_attention and sliding_attention are modelled")
    return tuple(_KINDS[t] for t in given)  # type: ignore[misc]


def gemma3_llm(tc: Cfg, tie: bool, where: str = "") -> LLMSpec:
    """The Gemma3TextModel of a text config (`where` prefixes field names in errors)."""
    _check(tc, where)
    d = TEXT_DEFAULTS
    layers = _get(tc, d, "num_hidden_layers", where)
    kinds = layer_types(tc, layers, where)
    window = _get(tc, d, "sliding_window", where) if "sliding" in kinds else None
    # Gemma3Attention: bias=config.attention_bias on q_proj, k_proj, v_proj and o_proj
    # (models/gemma3/modeling_gemma3.py, Gemma3Attention.__init__)
    bias = bool(_get(tc, d, "attention_bias", where))
    try:
        return LLMSpec(
            hidden_size=_get(tc, d, "hidden_size", where), num_layers=layers,
            num_heads=_get(tc, d, "num_attention_heads", where),
            num_kv_heads=_get(tc, d, "num_key_value_heads", where),
            head_dim=_get(tc, d, "head_dim", where),
            intermediate_size=_get(tc, d, "intermediate_size", where), mlp_kind="geglu",
            vocab_size=_get(tc, d, "vocab_size", where), tie_embeddings=tie,
            max_position_embeddings=_get(tc, d, "max_position_embeddings", where),
            layer_types=kinds, sliding_window=window, qk_norm=True, sandwich_norm=True,
            embed_scale=True, qkv_bias=bias, o_bias=bias,
        )
    except ValidationError as e:
        raise ConfigError(f"{where}{one_line(e)}") from None


def _vision(vc: Cfg) -> VisionSpec:
    if vc.get("model_type", "siglip_vision_model") != "siglip_vision_model":
        raise ConfigError(f"config.json: vision_config.model_type '{vc.get('model_type')}' is "
                          "not supported for gemma3; use siglip_vision_model")
    if vc.get("vision_use_head", True):  # SiglipVisionConfig default True; Gemma 3 sets false
        raise ConfigError("config.json: vision_config.vision_use_head: the SigLIP attention-"
                          "pooling head is not modelled for gemma3; set it to false")
    vit = _vit_from_config(vc, -1)  # Gemma3Model.get_image_features: last_hidden_state
    return vit.model_copy(update={"post_norm_applied": True})


def _projector(cfg: Cfg, vit: VisionSpec, hidden: int) -> ProjectorSpec:
    """Gemma3MultiModalProjector: kernel = (image_size // patch) // int(sqrt(mm_tokens))."""
    tokens = _get(cfg, {"mm_tokens_per_image": MM_TOKENS_DEFAULT}, "mm_tokens_per_image")
    side, per_side = vit.image_size // vit.patch_size, int(tokens**0.5)
    if per_side * per_side != tokens or side % per_side:
        raise ConfigError(f"config.json: mm_tokens_per_image {tokens} is not a square whose side "
                          f"divides the {side} x {side} patch grid")
    return ProjectorSpec(kind="avgpool_norm_linear", input_dim=vit.hidden_size, output_dim=hidden,
                         merge_size=side // per_side, bias=False)


def gemma3_spec(cfg: Cfg, name: str) -> ModelSpec:
    """A `gemma3` or `gemma3_text` config.json as a ModelSpec."""
    kind = str(cfg.get("model_type"))
    archs = cfg.get("architectures") or []
    if any(a != ARCHS[kind] for a in archs):
        raise ConfigError(f"config.json: architectures {archs} is not modelled for model_type "
                          f"'{kind}'; use a transformers config.json whose architectures is "
                          f"{ARCHS[kind]}")
    if kind == "gemma3_text":
        return ModelSpec(name=name, llm=gemma3_llm(cfg, bool(cfg.get("tie_word_embeddings", True))))
    check_experts(cfg)
    tie = bool(cfg.get("tie_word_embeddings", True))  # Gemma3Config default
    llm = gemma3_llm(cfg.get("text_config") or {}, tie, "text_config.")
    vit = _vision(cfg.get("vision_config") or {})
    proj = _projector(cfg, vit, llm.hidden_size)
    scheme = TokenScheme(kind="fixed")  # pan-and-scan off: Gemma3Processor's default
    return ModelSpec(name=name, llm=llm, vision=vit, projector=proj, token_scheme=scheme)

