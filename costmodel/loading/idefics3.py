"""Idefics3 / SmolVLM (transformers `Idefics3Config`, model_type "idefics3") config.json -> ModelSpec.

Fields a config omits take the transformers 5.23.0 class defaults (`configuration_idefics3.py`:
Idefics3Config, Idefics3VisionConfig), listed in VISION_DEFAULTS / TOP_DEFAULTS below; the
text_config defaults to a llama config (Idefics3Config.sub_configs_defaults). The model
(`modeling_idefics3.py`): Idefics3VisionTransformer, a SigLIP encoder without CLS token (conv
patch embedding with bias, learned table of (image_size/patch)^2 positions, pre-norm blocks,
post_layernorm applied to the features), then Idefics3Connector: pixel shuffle by scale_factor
and one Linear(d * scale^2, text hidden) without bias, into a llama decoder (SmolLM2). lm_head
is tied to the embedding from the TOP-LEVEL tie_word_embeddings (default false), as for InternVL.

Image splitting (costmodel/core/idefics3_tokens.py) reads vision_config.size and
max_image_size where config.json carries them (SmolVLM's does, copying its preprocessor):
max_image_size["longest_edge"] must equal vision_config.image_size (the tile the encoder sees);
size["longest_edge"] absent = 4 x image_size (the Idefics3ImageProcessor / SmolVLM convention).

Refused, one line naming the field: a text_config model_type other than llama, a vision hidden
act this loader does not build, non-square or list image/patch sizes, a scale_factor that does
not divide the patch grid, and a max_image_size other than the encoder's image_size.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from costmodel.errors import one_line
from costmodel.loading.hf_config import ConfigError, _act, _get, check_experts, llm_from_config
from costmodel.specs.model import ModelSpec, ProjectorSpec, TokenScheme, VisionSpec

Cfg = dict[str, Any]
ARCHITECTURE = "Idefics3ForConditionalGeneration"
VISION_DEFAULTS: Cfg = dict(hidden_size=1152, intermediate_size=3072, num_hidden_layers=12,
                            num_attention_heads=16, num_channels=3, image_size=224, patch_size=32,
                            hidden_act="gelu_pytorch_tanh")
TOP_DEFAULTS: Cfg = dict(scale_factor=2, tie_word_embeddings=False)


def _longest(vc: Cfg, key: str) -> int | None:
    """vision_config[key]["longest_edge"] (the image processor's dicts SmolVLM copies in)."""
    value = vc.get(key)
    if value is None:
        return None
    edge = value.get("longest_edge") if isinstance(value, dict) else None
    if not isinstance(edge, int) or isinstance(edge, bool) or edge <= 0:
        raise ConfigError(f"config.json: vision_config.{key} {value!r} is not "
                          "{\"longest_edge\": N}; give a whole number of pixels")
    return edge


def vision_from_config(vc: Cfg) -> VisionSpec:
    """Idefics3VisionTransformer (Idefics3VisionConfig) -> VisionSpec."""
    d, w = VISION_DEFAULTS, "vision_config."
    for key in ("image_size", "patch_size"):
        if isinstance(vc.get(key), (list, tuple)):
            raise ConfigError(f"config.json: {w}{key} {vc[key]!r}: give one number (square "
                              "images and patches are modelled)")
    try:
        return VisionSpec(
            num_layers=_get(vc, d, "num_hidden_layers", w), hidden_size=_get(vc, d, "hidden_size", w),
            num_heads=_get(vc, d, "num_attention_heads", w),
            intermediate_size=_get(vc, d, "intermediate_size", w),
            patch_size=_get(vc, d, "patch_size", w), image_size=_get(vc, d, "image_size", w),
            in_channels=_get(vc, d, "num_channels", w), cls_token=False, patch_bias=True,
            learned_pos_embedding=True, pre_norm=False, post_norm=True, post_norm_applied=True,
            feature_layer=-1, mlp_act=_act(vc, d),
        )
    except ValidationError as e:
        raise ConfigError(f"{w}{one_line(e)}") from None


def _scale(cfg: Cfg, vit: VisionSpec) -> int:
    """scale_factor: a whole number dividing the patch grid (Idefics3Connector.pixel_shuffle)."""
    m = _get(cfg, TOP_DEFAULTS, "scale_factor")
    side = vit.image_size // vit.patch_size
    if m < 1 or side % m:
        raise ConfigError(f"config.json: scale_factor {m} must divide the {side}x{side} patch "
                          "grid (SmolVLM uses 3 or 4)")
    return int(m)


def _scheme(vc: Cfg, vit: VisionSpec) -> TokenScheme:
    tile = _longest(vc, "max_image_size")
    if tile is not None and tile != vit.image_size:
        raise ConfigError(f"config.json: vision_config.max_image_size longest_edge {tile} differs "
                          f"from image_size {vit.image_size}; only tiles of the encoder's size "
                          "are modelled")
    return TokenScheme(kind="splits", resize_longest_edge=_longest(vc, "size"),
                       default_image_size=(vit.image_size, vit.image_size))


def idefics3(cfg: Cfg, name: str) -> ModelSpec:
    """An Idefics3ForConditionalGeneration config.json -> ModelSpec."""
    archs = cfg.get("architectures") or []
    if any(a != ARCHITECTURE for a in archs):
        raise ConfigError(f"config.json: architectures {archs} is not modelled for model_type "
                          f"'idefics3'; use a transformers config.json whose architectures is "
                          f"{ARCHITECTURE}")
    check_experts(cfg)
    text = cfg.get("text_config") or {"model_type": "llama"}  # Idefics3Config's default
    if text.get("model_type", "llama") != "llama":
        raise ConfigError(f"config.json: text_config.model_type '{text.get('model_type')}' is "
                          "not modelled for idefics3; use llama")
    llm = llm_from_config({k: v for k, v in text.items() if k != "architectures"},
                          "text_config.")
    llm = llm.model_copy(update={"tie_embeddings": bool(
        _get(cfg, TOP_DEFAULTS, "tie_word_embeddings"))})
    vc = cfg.get("vision_config") or {}
    vit = vision_from_config(vc)
    proj = ProjectorSpec(kind="pixel_shuffle_linear", input_dim=vit.hidden_size,
                         output_dim=llm.hidden_size, merge_size=_scale(cfg, vit), bias=False)
    return ModelSpec(name=name, llm=llm, vision=vit, projector=proj,
                     token_scheme=_scheme(vc, vit))
