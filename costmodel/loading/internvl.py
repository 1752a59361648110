"""InternVL (transformers `InternVLConfig`, model_type "internvl") config.json -> ModelSpec.

Fields a config omits take the transformers 5.23.0 class defaults (`configuration_internvl.py`:
InternVLConfig, InternVLVisionConfig), listed in VISION_DEFAULTS / TOP_DEFAULTS below. The model
(`modeling_internvl.py`): InternViT encoder (CLS token, learned position table of
(448/14)^2 + 1 rows, pre-norm blocks with layer scale, q/k/v biases from `attention_bias`,
optional q/k RMSNorm, `norm_type` layer_norm | rms_norm, no final norm while
`use_mean_pooling`), the CLS row dropped ('default' strategy), pixel shuffle by
1/downsample_ratio, then LayerNorm + Linear + GELU + Linear into the LLM (qwen2 or llama
text_config). Image tiling: costmodel/core/tiles.py.

Refused, one line naming the field: vision_feature_layer other than -1, a strategy other than
'default', use_mask_token, use_mean_pooling false, a projector activation other than gelu,
non-square image or patch sizes, and an image_seq_length that differs from the tokens a tile
gives (the processor would insert a different count than the model produces).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ValidationError

from costmodel.errors import one_line
from costmodel.loading.hf_config import ConfigError, _act, _get, llm_from_config
from costmodel.specs.model import ModelSpec, ProjectorSpec, TokenScheme, VisionSpec

Cfg = dict[str, Any]
ARCHITECTURE = "InternVLForConditionalGeneration"
VISION_DEFAULTS: Cfg = dict(
    hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
    attention_bias=False, use_qk_norm=False, hidden_act="gelu", norm_type="layer_norm",
    image_size=448, patch_size=14, num_channels=3, use_mask_token=False,
    use_absolute_position_embeddings=True, use_mean_pooling=True,
)
TOP_DEFAULTS: Cfg = dict(downsample_ratio=0.5, projector_hidden_act="gelu",
                         vision_feature_layer=-1, vision_feature_select_strategy="default",
                         image_seq_length=256)
# InternVLProcessor: crop_to_patches True; GotOcr2 image processor min_patches 1, max_patches 12;
# "<img>" + tokens + "</img>" (2 text tokens per image).
MIN_TILES, MAX_TILES, IMAGE_TEXT_TOKENS = 1, 12, 2
_NORMS: dict[str, Literal["layernorm", "rmsnorm"]] = {"layer_norm": "layernorm",
                                                     "rms_norm": "rmsnorm"}


def _square(vc: Cfg, key: str) -> int:
    """image_size / patch_size: an int or a square [n, n] (InternVLVisionConfig takes both)."""
    value = vc.get(key)
    value = VISION_DEFAULTS[key] if value is None else value
    if isinstance(value, (list, tuple)):
        if len(value) != 2 or value[0] != value[1]:
            raise ConfigError(f"config.json: vision_config.{key} {list(value)} is not square; "
                              "only square sizes are modelled")
        value = value[0]
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"config.json: vision_config.{key}: {value!r} is not a whole number")
    return value


def _refuse(cfg: Cfg, where: str, key: str, want: Any, d: Cfg) -> None:
    value = cfg.get(key, d[key])
    if value != want:
        raise ConfigError(f"config.json: {where}{key} = {value!r} is not modelled for InternVL; "
                          f"use {want!r}")


def internvit_from_config(vc: Cfg) -> VisionSpec:
    """InternViT (InternVLVisionConfig) -> VisionSpec."""
    d, w = VISION_DEFAULTS, "vision_config."
    for key, want in (("use_mask_token", False), ("use_mean_pooling", True)):
        _refuse(vc, w, key, want, d)
    norm = vc.get("norm_type") or d["norm_type"]
    if norm not in _NORMS:
        raise ConfigError(f"config.json: vision_config.norm_type '{norm}' is not one of "
                          f"{', '.join(_NORMS)}")
    try:
        return VisionSpec(
            num_layers=_get(vc, d, "num_hidden_layers", w), hidden_size=_get(vc, d, "hidden_size", w),
            num_heads=_get(vc, d, "num_attention_heads", w),
            intermediate_size=_get(vc, d, "intermediate_size", w),
            patch_size=_square(vc, "patch_size"), image_size=_square(vc, "image_size"),
            in_channels=_get(vc, d, "num_channels", w), cls_token=True, patch_bias=True,
            learned_pos_embedding=bool(_get(vc, d, "use_absolute_position_embeddings", w)),
            pre_norm=False, post_norm=False, feature_layer=-1, mlp_act=_act(vc, d),
            qkv_bias=bool(_get(vc, d, "attention_bias", w)), layer_scale=True,
            qk_norm=bool(_get(vc, d, "use_qk_norm", w)), norm_kind=_NORMS[norm],
        )
    except ValidationError as e:
        raise ConfigError(f"vision_config.{one_line(e)}") from None


def _merge(cfg: Cfg, vit: VisionSpec) -> int:
    """1/downsample_ratio, a whole number dividing the patch grid (pixel_shuffle's check)."""
    raw: Any = cfg.get("downsample_ratio", TOP_DEFAULTS["downsample_ratio"])
    ok = isinstance(raw, (int, float)) and not isinstance(raw, bool) and raw > 0
    ratio = float(raw) if ok else 0.0
    m = round(1 / ratio) if ok else 0
    side = vit.image_size // vit.patch_size
    if m < 1 or abs(m * ratio - 1) > 1e-12 or side % m:
        raise ConfigError(f"config.json: downsample_ratio {raw!r} must be 1/m for a whole m "
                          f"dividing the {side}x{side} patch grid (InternVL uses 0.5)")
    return m


def _tied(cfg: Cfg, text: Cfg) -> bool:
    """Whether lm_head shares the embedding matrix (docs/methodology.md, "InternVL lm_head").

    A top-level tie_word_embeddings decides (transformers 5 reads it; the zoo files carry
    false). Without it, text_config's decides, default false: transformers 4.52, which wrote the
    -hf files, tied from the text config, and the -hf checkpoints store a separate lm_head
    (InternVL3-2B-hf model.safetensors 4.18 GB = 2 B x 2,088,957,440 untied parameters).
    """
    if "tie_word_embeddings" in cfg:
        return bool(cfg["tie_word_embeddings"])
    return bool(text.get("tie_word_embeddings", False))


def internvl(cfg: Cfg, name: str) -> ModelSpec:
    """An InternVLForConditionalGeneration config.json -> ModelSpec."""
    archs = cfg.get("architectures") or []
    if any(a != ARCHITECTURE for a in archs):
        raise ConfigError(f"config.json: architectures {archs} is not modelled for model_type "
                          f"'internvl'; use a transformers config.json whose architectures is "
                          f"{ARCHITECTURE} (the -hf checkpoints)")
    for key, want in (("vision_feature_layer", -1), ("vision_feature_select_strategy", "default"),
                      ("projector_hidden_act", "gelu")):
        _refuse(cfg, "", key, want, TOP_DEFAULTS)
    text = cfg.get("text_config") or {"model_type": "qwen2"}  # InternVLConfig's default
    llm = llm_from_config(text, "text_config.")
    llm = llm.model_copy(update={"tie_embeddings": _tied(cfg, text)})
    vit = internvit_from_config(cfg.get("vision_config") or {})
    m = _merge(cfg, vit)
    per_tile = vit.patches_per_image // (m * m)
    seq = cfg.get("image_seq_length", TOP_DEFAULTS["image_seq_length"])
    if seq != per_tile:
        raise ConfigError(f"config.json: image_seq_length {seq!r} differs from the {per_tile} "
                          "tokens a tile gives ((image_size/patch_size)^2 x downsample_ratio^2)")
    proj = ProjectorSpec(kind="pixel_shuffle_mlp", input_dim=vit.hidden_size,
                         output_dim=llm.hidden_size, merge_size=m, bias=True)
    scheme = TokenScheme(kind="tiles", min_tiles=MIN_TILES, max_tiles=MAX_TILES,
                         image_text_tokens=IMAGE_TEXT_TOKENS, video_rule="internvl")
    return ModelSpec(name=name, llm=llm, vision=vit, projector=proj, token_scheme=scheme)
