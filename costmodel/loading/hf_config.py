"""Hugging Face config.json (already parsed into a dict) -> ModelSpec. No network, no I/O.

Supported `model_type`s: llava, llava_next, llava_onevision, qwen2_vl, llama, mistral, qwen2.
Fields a published config omits take the transformers defaults of that config class
(LlamaConfig, MistralConfig, Qwen2Config, CLIPVisionConfig, SiglipVisionConfig), listed below.
"""

from __future__ import annotations

from typing import Any

from costmodel.specs.model import LLMSpec, MlpAct, ModelSpec, ProjectorSpec, TokenScheme, VisionSpec

Cfg = dict[str, Any]

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


class ConfigError(ValueError):
    """A config.json this loader cannot turn into a spec (names the field)."""


def _get(cfg: Cfg, defaults: Cfg, key: str) -> Any:
    if key in cfg and cfg[key] is not None:
        return cfg[key]
    if key in defaults:
        return defaults[key]
    raise ConfigError(f"config.json: missing field '{key}'")


def llm_from_config(cfg: Cfg) -> LLMSpec:
    kind = cfg.get("model_type", "llama")
    if kind not in TEXT_DEFAULTS:
        raise ConfigError(
            f"config.json: text model_type '{kind}' is not supported; use one of "
            f"{', '.join(TEXT_DEFAULTS)}"
        )
    d = TEXT_DEFAULTS[kind]
    heads = _get(cfg, d, "num_attention_heads")
    act = _get(cfg, d, "hidden_act")
    return LLMSpec(
        hidden_size=_get(cfg, d, "hidden_size"),
        num_layers=_get(cfg, d, "num_hidden_layers"),
        num_heads=heads,
        num_kv_heads=cfg.get("num_key_value_heads") or d.get("num_key_value_heads", heads),
        head_dim=cfg.get("head_dim"),
        intermediate_size=_get(cfg, d, "intermediate_size"),
        mlp_kind="swiglu" if act == "silu" else "gelu",
        vocab_size=_get(cfg, d, "vocab_size"),
        tie_embeddings=bool(_get(cfg, d, "tie_word_embeddings")),
        qkv_bias=bool(cfg.get("attention_bias", _QKV_BIAS.get(kind, False))),
    )


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
        mlp_act=_ACT.get(_get(vc, d, "hidden_act"), "gelu"),
    )


def _feature_layer(cfg: Cfg) -> int:
    fl = cfg.get("vision_feature_layer", -2)
    if isinstance(fl, list):
        raise ConfigError("config.json: vision_feature_layer lists several layers; not supported")
    return int(fl)


def _llava(cfg: Cfg, name: str) -> ModelSpec:
    llm = llm_from_config(cfg.get("text_config") or {"model_type": "llama"})
    if "vocab_size" in cfg and "vocab_size" not in (cfg.get("text_config") or {}):
        llm = llm.model_copy(update={"vocab_size": cfg["vocab_size"]})
    vit = _vit_from_config(cfg.get("vision_config") or {}, _feature_layer(cfg))
    proj = ProjectorSpec(kind="mlp2x_gelu", input_dim=vit.hidden_size, output_dim=llm.hidden_size,
                         bias=cfg.get("multimodal_projector_bias", True))
    kind = cfg.get("model_type")
    if kind == "llava":
        scheme = TokenScheme(kind="fixed")
    else:
        pins = tuple(tuple(p) for p in cfg.get("image_grid_pinpoints") or ())
        if not pins:
            raise ConfigError("config.json: image_grid_pinpoints is missing for an anyres model")
        biggest = max(pins, key=lambda p: p[0] * p[1])
        scheme = TokenScheme(kind="anyres", grid_pinpoints=pins, newline_token=True,
                             default_image_size=(biggest[1], biggest[0]) if len(pins) <= 5
                             else (vit.image_size * 2, vit.image_size * 2))
    if vit.cls_token is False and cfg.get("vision_feature_select_strategy") == "default":
        raise ConfigError("config.json: 'default' feature selection drops a CLS token this ViT lacks")
    return ModelSpec(name=name, llm=llm, vision=vit, projector=proj, token_scheme=scheme)


def _qwen2_vl(cfg: Cfg, name: str) -> ModelSpec:
    text = dict(cfg.get("text_config") or cfg)
    text["model_type"] = "qwen2"
    llm = llm_from_config(text)
    vc = cfg.get("vision_config") or {}
    try:
        dim, depth = vc["embed_dim"], vc["depth"]
        vit = VisionSpec(
            num_layers=depth, hidden_size=dim, num_heads=vc["num_heads"],
            intermediate_size=int(dim * vc.get("mlp_ratio", 4)), patch_size=vc["patch_size"],
            image_size=vc["patch_size"] * vc.get("spatial_merge_size", 2),
            in_channels=vc.get("in_chans", vc.get("in_channels", 3)),
            temporal_patch_size=vc.get("temporal_patch_size", 2), cls_token=False,
            patch_bias=False, learned_pos_embedding=False, rope2d=True, pre_norm=False,
            post_norm=False, feature_layer=-1, mlp_act=_ACT.get(vc.get("hidden_act", "quick_gelu"), "gelu"),
        )
    except KeyError as e:
        raise ConfigError(f"config.json: vision_config is missing '{e.args[0]}'") from None
    proj = ProjectorSpec(kind="patch_merger", input_dim=vit.hidden_size, output_dim=llm.hidden_size,
                         merge_size=vc.get("spatial_merge_size", 2))
    scheme = TokenScheme(kind="dynamic", min_pixels=56 * 56, max_pixels=12845056,
                         default_image_size=(672, 672))
    return ModelSpec(name=name, llm=llm, vision=vit, projector=proj, token_scheme=scheme)


def spec_from_config(cfg: Cfg, name: str = "model") -> ModelSpec:
    """Turn a parsed config.json into a ModelSpec (ConfigError if unsupported)."""
    if not isinstance(cfg, dict):
        raise ConfigError("config.json: expected a JSON object at the top level")
    kind = cfg.get("model_type")
    if kind in ("llava", "llava_next", "llava_onevision"):
        return _llava(cfg, name)
    if kind == "qwen2_vl":
        return _qwen2_vl(cfg, name)
    if kind in TEXT_DEFAULTS:
        return ModelSpec(name=name, llm=llm_from_config(cfg))
    supported = "llava, llava_next, llava_onevision, qwen2_vl, " + ", ".join(TEXT_DEFAULTS)
    raise ConfigError(f"config.json: model_type '{kind}' is not supported; supported: {supported}")
