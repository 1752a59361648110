"""Hugging Face config.json (already parsed into a dict) -> ModelSpec. No network, no I/O.

Supported `model_type`s: llava, llava_next, llava_onevision, qwen2_vl, llama, mistral, qwen2
here (builtin_spec); the other families have their own modules, which build on this one's
helpers, and loading/from_config.spec_from_config dispatches to them first.
Fields a published config omits take the transformers defaults of that config class
(LlamaConfig, MistralConfig, Qwen2Config, CLIPVisionConfig, SiglipVisionConfig), listed below.

Nothing that changes cost is silently ignored: other configs with mixture-of-experts fields,
layer types other than full / sliding attention (loading/windows.py, which models Mistral's and
Qwen2's sliding windows), an MLP this loader does not build (`hidden_act` other than silu,
`mlp_bias`), a LLaVA projector activation other than gelu or feature strategy other than
default / full ("full" on a CLIP ViT for LLaVA-NeXT / OneVision: _FULL_REFUSED), or an
`architectures` class other than transformers' own for its model_type is refused with one
ConfigError line naming the field; so is a field of the wrong type (config_fields.check_shape,
_get, _flag, _whole). Honoured as transformers builds them: Llama's `attention_bias` (q, k, v
and o_proj biases, attention_biases) and LLaVA-1.5's "full" strategy on a CLIP ViT (the CLS row
kept: 577 visual tokens an image, VisionSpec.feature_keeps_cls). Not read: `rope_scaling`
(values, not cost) and `torch_dtype` (the workload's dtypes decide); `quantization_config` is
read by loading/quantization.py (docs/methodology.md, "Config fields that are refused").
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError

from costmodel.errors import one_line
from costmodel.loading.config_fields import (  # re-exported: the family loaders import them here
    Cfg,
    ConfigError,
    _flag,
    _get,
    _whole,
)
from costmodel.loading.windows import llm_windows
from costmodel.specs.model import LLMSpec, MlpAct, ModelSpec, ProjectorSpec, TokenScheme, VisionSpec

# transformers config-class defaults for the fields we read (configuration_<model>.py).
TEXT_DEFAULTS: dict[str, Cfg] = {
    "llama": dict(vocab_size=32000, hidden_size=4096, intermediate_size=11008,
                  num_hidden_layers=32, num_attention_heads=32, hidden_act="silu",
                  tie_word_embeddings=False, attention_bias=False),
    "mistral": dict(vocab_size=32000, hidden_size=4096, intermediate_size=14336,
                    num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                    hidden_act="silu", tie_word_embeddings=False),
    "qwen2": dict(vocab_size=151936, hidden_size=4096, intermediate_size=22016,
                  num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32,
                  hidden_act="silu", tie_word_embeddings=False),
}
VISION_DEFAULTS: dict[str, Cfg] = {
    "clip_vision_model": dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                              num_attention_heads=12, image_size=224, patch_size=32,
                              num_channels=3, hidden_act="quick_gelu"),
    "siglip_vision_model": dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                num_attention_heads=12, image_size=224, patch_size=16,
                                num_channels=3, hidden_act="gelu_pytorch_tanh"),
}
_ACT: dict[str, MlpAct] = {"quick_gelu": "quick_gelu", "gelu": "gelu", "gelu_pytorch_tanh": "gelu_tanh",
                           "gelu_new": "gelu_tanh"}
_QKV_BIAS = {"qwen2": True}


def _act(vc: Cfg, d: Cfg, where: str = "vision_config.") -> str:
    act = _get(vc, d, "hidden_act") if d else vc.get("hidden_act", "quick_gelu")
    if act not in _ACT:
        raise ConfigError(f"config.json: {where}hidden_act '{act}' is not one of "
                          f"{', '.join(_ACT)}")
    return _ACT[act]


def _missing(cfg: Cfg, d: Cfg, keys: tuple[str, ...], where: str) -> str:
    """' (...)' naming the fields a failed spec took from transformers' defaults."""
    used = [f"{where}{k}={d[k]}" for k in keys if cfg.get(k) is None and k in d]
    return (f" (not in config.json, transformers' default used: {', '.join(used)}; write "
            "them)") if used else ""


# transformers' model class for each model_type (`architectures` in config.json).
ARCHITECTURES = {
    "llava": "LlavaForConditionalGeneration", "llava_next": "LlavaNextForConditionalGeneration",
    "llava_onevision": "LlavaOnevisionForConditionalGeneration",
    "qwen2_vl": "Qwen2VLForConditionalGeneration", "llama": "LlamaForCausalLM",
    "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM",
}
# Mixture-of-experts fields of transformers configs (Mixtral, Qwen2/3-MoE, DeepSeek-V2/V3, ...).
MOE_FIELDS = ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts",
              "moe_intermediate_size", "num_experts_per_tok", "n_shared_experts",
              "shared_expert_intermediate_size")


def check_architectures(cfg: Cfg, kind: str, where: str = "") -> None:
    """Refuse an `architectures` class that is not transformers' class for this model_type
    (e.g. the original LLaVA code base's LlavaLlamaForCausalLM, whose vision tower is not in
    config.json). An absent `architectures` follows the model_type."""
    archs = cfg.get("architectures") or []
    want = ARCHITECTURES[kind]
    if any(a != want for a in archs):
        raise ConfigError(f"config.json: {where}architectures {archs} is not modelled for model_type "
                          f"'{kind}'; use a transformers config.json whose architectures is {want}")


def check_experts(cfg: Cfg, where: str = "") -> None:
    """Refuse mixture-of-experts fields outside the MoE model_types (loading/moe.py): costing
    the config as its dense shape would be wrong (Mixtral-8x7B has 46.7B parameters, not 7.24B)."""
    for key in MOE_FIELDS:
        if cfg.get(key):
            raise ConfigError(f"config.json: {where}{key} = {cfg[key]}: mixture-of-experts layers are "
                              "modelled for model_type mixtral, qwen3_moe and qwen2_moe only (this "
                              "config would be costed as dense)")


def check_mlp(cfg: Cfg, kind: str, where: str = "") -> None:
    """Llama / Mistral / Qwen2 MLPs are gate/up/down with no biases: refuse what is not that."""
    act = cfg.get("hidden_act") or TEXT_DEFAULTS[kind]["hidden_act"]
    if act != "silu":
        raise ConfigError(f"config.json: {where}hidden_act '{act}' is not modelled ({kind} MLPs are "
                          "costed as SwiGLU); use a config with hidden_act silu")
    if cfg.get("mlp_bias"):
        raise ConfigError(f"config.json: {where}mlp_bias = true is not modelled (MLP biases); "
                          "use a config without MLP biases")


def llm_from_config(cfg: Cfg, where: str = "") -> LLMSpec:
    """The decoder of a text config (`where` prefixes field names in errors: 'text_config.')."""
    kind = cfg.get("model_type", "llama")
    check_experts(cfg, where)
    if kind not in TEXT_DEFAULTS:
        raise ConfigError(
            f"config.json: {where}model_type '{kind}' is not supported; use one of "
            f"{', '.join(TEXT_DEFAULTS)}"
        )
    check_architectures(cfg, kind, where)
    check_mlp(cfg, kind, where)
    d = TEXT_DEFAULTS[kind]
    heads = _get(cfg, d, "num_attention_heads", where)
    windows = llm_windows(cfg, kind, _get(cfg, d, "num_hidden_layers", where), where)
    fields = dict(
        hidden_size=_get(cfg, d, "hidden_size", where),
        num_layers=_get(cfg, d, "num_hidden_layers", where),
        num_heads=heads,
        num_kv_heads=_get(cfg, {"num_key_value_heads": d.get("num_key_value_heads", heads)},
                          "num_key_value_heads", where),
        head_dim=_head_dim(cfg, where),
        intermediate_size=_get(cfg, d, "intermediate_size", where),
        mlp_kind="swiglu",
        vocab_size=_get(cfg, d, "vocab_size", where),
        tie_embeddings=bool(_get(cfg, d, "tie_word_embeddings", where)),
        **attention_biases(cfg, kind, where),
        max_position_embeddings=_get(cfg, {"max_position_embeddings": 0},
                                     "max_position_embeddings", where) or None,
        **windows,
    )
    try:
        return LLMSpec(**fields)
    except ValidationError as e:
        keys = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                "vocab_size")
        raise ConfigError(f"{where}{one_line(e)}{_missing(cfg, d, keys, where)}") from None


def _head_dim(cfg: Cfg, where: str) -> int | None:
    """head_dim when set (null / absent: hidden_size / heads)."""
    value = cfg.get("head_dim")
    return None if value is None else _whole(value, f"{where}head_dim")


def attention_biases(cfg: Cfg, kind: str, where: str = "") -> dict[str, bool]:
    """qkv_bias and o_bias as transformers builds the attention: Qwen2Attention always biases
    q/k/v and never o_proj, MistralAttention never (both ignore `attention_bias`);
    LlamaAttention biases q_proj, k_proj, v_proj and o_proj with `attention_bias`
    (models/llama/modeling_llama.py, LlamaAttention.__init__: bias=config.attention_bias on all
    four; Gemma3Attention, Qwen3MoeAttention and Qwen3VLTextAttention read it the same way)."""
    if kind != "llama":
        return {"qkv_bias": _QKV_BIAS.get(kind, False), "o_bias": False}
    bias = _flag(cfg, "attention_bias", False, where)
    return {"qkv_bias": bias, "o_bias": bias}


def _vit_from_config(vc: Cfg, feature_layer: int) -> VisionSpec:
    kind = vc.get("model_type", "clip_vision_model")
    if kind not in VISION_DEFAULTS:
        raise ConfigError(f"config.json: vision_config.model_type '{kind}' is not supported")
    d = VISION_DEFAULTS[kind]
    clip = kind == "clip_vision_model"
    return VisionSpec(
        num_layers=_get(vc, d, "num_hidden_layers"), hidden_size=_get(vc, d, "hidden_size"),
        num_heads=_get(vc, d, "num_attention_heads"),
        intermediate_size=_get(vc, d, "intermediate_size"),
        patch_size=_get(vc, d, "patch_size"), image_size=_get(vc, d, "image_size"),
        in_channels=_get(vc, d, "num_channels"), cls_token=clip, patch_bias=not clip,
        pre_norm=clip, post_norm=True, feature_layer=feature_layer,
        mlp_act=_act(vc, d),
    )


def _feature_layer(cfg: Cfg) -> int:
    fl = cfg.get("vision_feature_layer", -2)
    if isinstance(fl, list):
        raise ConfigError("config.json: vision_feature_layer lists several layers; not supported")
    return _whole(fl, "vision_feature_layer")


# LlavaConfig's projector_hidden_act (default gelu) and vision_feature_select_strategy
# (default "default": drop the CLS token; "full" keeps every ViT output row).
_PROJECTOR_ACT = "gelu"
_STRATEGIES = ("default", "full")
# Why "full" on a ViT with a CLS token is refused for the anyres families: transformers 5.23
# cannot pack a 577th row per crop.
_FULL_REFUSED = {
    "llava_next": "LlavaNextModel.pack_image_features views each tile's features as a "
                  "(image_size / patch)^2 grid, which a CLS row breaks",
    "llava_onevision": "LlavaOnevisionModel.pack_image_features refuses a base crop whose "
                       "features are not (image_size / patch)^2, and apply_pooling reshapes "
                       "video frames to that square grid",
}


def _check_llava_top(cfg: Cfg, cls_token: bool) -> bool:
    """Whether the visual features keep the CLS row (vision_feature_select_strategy "full" on
    a ViT with one: transformers models/llava/modeling_llava.py, LlavaModel.get_image_features
    drops row 0 only for "default", so LLaVA-1.5's CLIP gives 577 visual tokens an image).
    Refused in one line: another projector activation, an unknown strategy, "full" with a CLS
    token for LLaVA-NeXT / OneVision (_FULL_REFUSED), "default" on a ViT without one."""
    act = cfg.get("projector_hidden_act") or _PROJECTOR_ACT
    if act != _PROJECTOR_ACT:
        raise ConfigError(f"config.json: projector_hidden_act '{str(act)[:40]}' is not modelled "
                          "(the projector is costed as Linear-GELU-Linear); use gelu")
    kind = cfg.get("model_type")
    strategy = cfg.get("vision_feature_select_strategy") or (
        "full" if kind == "llava_onevision" else "default")
    if strategy not in _STRATEGIES:
        raise ConfigError(f"config.json: vision_feature_select_strategy '{str(strategy)[:40]}' "
                          "is not one of default, full (as transformers' LlavaConfig requires)")
    if strategy == "full" and cls_token and kind in _FULL_REFUSED:
        raise ConfigError(f"config.json: vision_feature_select_strategy 'full' keeps the CLS "
                          f"token of a CLIP ViT, which transformers does not support for "
                          f"{kind} ({_FULL_REFUSED[str(kind)]}); use 'default'")
    if strategy == "default" and not cls_token:
        raise ConfigError("config.json: 'default' feature selection drops a CLS token this ViT "
                          "lacks")
    return strategy == "full" and cls_token


def _pinpoints(cfg: Cfg) -> tuple[tuple[int, int], ...]:
    """image_grid_pinpoints: [[height, width], ...] in pixels."""
    pins = cfg.get("image_grid_pinpoints") or ()
    if not pins:
        raise ConfigError("config.json: image_grid_pinpoints is missing for an anyres model")
    if not isinstance(pins, list) or any(not isinstance(p, list) or len(p) != 2 for p in pins):
        raise ConfigError(f"config.json: image_grid_pinpoints: {str(pins)[:60]} is not a list "
                          "of [height, width] pairs, e.g. [[336, 672], [672, 336]]")
    return tuple((_whole(h, "image_grid_pinpoints"), _whole(w, "image_grid_pinpoints"))
                 for h, w in pins)


def _anyres_max(cfg: Cfg) -> int:
    """N of LLaVA-OneVision's `vision_aspect_ratio` "anyres_max_N" (LlavaOnevisionConfig default
    "anyres_max_9"; transformers reads N with int(value.strip("anyres_max_")))."""
    value = cfg.get("vision_aspect_ratio") or "anyres_max_9"
    n = str(value).removeprefix("anyres_max_")
    if not n.isdigit() or int(n) == 0:
        raise ConfigError(f"config.json: vision_aspect_ratio '{value}' is not supported; "
                          "use anyres_max_N (N >= 1), as transformers' LLaVA-OneVision requires")
    return int(n)


def _llava(cfg: Cfg, name: str) -> ModelSpec:
    llm = llm_from_config(cfg.get("text_config") or {"model_type": "llama"}, "text_config.")
    if "vocab_size" in cfg and "vocab_size" not in (cfg.get("text_config") or {}):
        llm = llm.model_copy(update={"vocab_size": cfg["vocab_size"]})
    vit = _vit_from_config(cfg.get("vision_config") or {}, _feature_layer(cfg))
    if _check_llava_top(cfg, vit.cls_token):
        vit = vit.model_copy(update={"feature_keeps_cls": True})
    proj = ProjectorSpec(kind="mlp2x_gelu", input_dim=vit.hidden_size, output_dim=llm.hidden_size,
                         bias=_flag(cfg, "multimodal_projector_bias", True))
    kind = cfg.get("model_type")
    if kind == "llava":
        scheme = TokenScheme(kind="fixed")
    else:
        pins = _pinpoints(cfg)
        biggest = max(pins, key=lambda p: p[0] * p[1])
        scheme = TokenScheme(kind="anyres", grid_pinpoints=pins, newline_token=True,
                             anyres_max_patches=_anyres_max(cfg) if kind == "llava_onevision" else None,
                             single_image_anyres=kind == "llava_onevision",
                             video_rule="llava_onevision" if kind == "llava_onevision" else None,
                             default_image_size=(biggest[1], biggest[0]) if len(pins) <= 5
                             else (vit.image_size * 2, vit.image_size * 2))
    return ModelSpec(name=name, llm=llm, vision=vit, projector=proj, token_scheme=scheme)


# Qwen2-VL vision_config: the fields read with a default (Qwen2VLVisionConfig's); embed_dim,
# depth, num_heads and patch_size must be given.
_QWEN2_VL_VISION = dict(in_channels=3, in_chans=3, spatial_merge_size=2, temporal_patch_size=2)


def _qwen2_vl_vision_field(vc: Cfg) -> Callable[[str], int]:
    """A reader of one whole-number vision_config field (one line naming a missing or
    non-whole one)."""
    def field(key: str) -> int:
        if vc.get(key) is None and key not in _QWEN2_VL_VISION:
            raise ConfigError(f"config.json: vision_config is missing '{key}'")
        return _whole(_get(vc, _QWEN2_VL_VISION, key), f"vision_config.{key}")
    return field


def _qwen2_vl(cfg: Cfg, name: str) -> ModelSpec:
    nested = "text_config" in cfg
    text = {k: v for k, v in (cfg.get("text_config") or cfg).items() if k != "architectures"}
    text["model_type"] = "qwen2"
    text.setdefault("max_window_layers", 80)  # Qwen2VLConfig's default (Qwen2Config: 28)
    llm = llm_from_config(text, "text_config." if nested else "")
    vc = cfg.get("vision_config") or {}
    g = _qwen2_vl_vision_field(vc)
    dim, patch, merge = g("embed_dim"), g("patch_size"), g("spatial_merge_size")
    ratio = vc.get("mlp_ratio", 4)
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not ratio > 0:
        raise ConfigError(f"config.json: vision_config.mlp_ratio: {str(ratio)[:40]} is not a "
                          "number > 0; write one, e.g. 4")
    vit = VisionSpec(
        num_layers=g("depth"), hidden_size=dim, num_heads=g("num_heads"),
        intermediate_size=int(dim * ratio), patch_size=patch, image_size=patch * merge,
        in_channels=g("in_chans") if "in_chans" in vc else g("in_channels"),
        temporal_patch_size=g("temporal_patch_size"), cls_token=False,
        patch_bias=False, learned_pos_embedding=False, rope2d=True, packed_sequences=True, pre_norm=False,
        post_norm=False, feature_layer=-1, mlp_act=_act(vc, {}),
    )
    proj = ProjectorSpec(kind="patch_merger", input_dim=vit.hidden_size, output_dim=llm.hidden_size,
                         merge_size=merge)
    scheme = TokenScheme(kind="dynamic", min_pixels=56 * 56, max_pixels=12845056,
                         default_image_size=(672, 672))
    return ModelSpec(name=name, llm=llm, vision=vit, projector=proj, token_scheme=scheme)


def builtin_spec(cfg: Cfg, name: str = "model") -> ModelSpec:
    """The families parsed here (llava, llava_next, llava_onevision, qwen2_vl and the text
    decoders); loading/from_config.spec_from_config dispatches the others first."""
    if not isinstance(cfg, dict):
        raise ConfigError("config.json: expected a JSON object at the top level")
    kind = cfg.get("model_type")
    check_experts(cfg)
    if kind in ARCHITECTURES and kind not in TEXT_DEFAULTS:
        check_architectures(cfg, kind)
    if kind in ("llava", "llava_next", "llava_onevision"):
        return _llava(cfg, name)
    if kind == "qwen2_vl":
        return _qwen2_vl(cfg, name)
    if kind in TEXT_DEFAULTS:
        return ModelSpec(name=name, llm=llm_from_config(cfg))
    supported = ("llava, llava_next, llava_onevision, qwen2_vl, qwen2_5_vl, qwen3_vl, internvl, "
                 "mllama, gemma3, idefics3, mixtral, qwen3_moe, qwen2_moe, qwen3_vl_moe, "
                 + ", ".join(TEXT_DEFAULTS))
    raise ConfigError(f"config.json: model_type '{kind}' is not supported; supported: {supported}")
