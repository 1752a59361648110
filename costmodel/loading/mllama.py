"""Llama-3.2-Vision config.json (model_type mllama) -> ModelSpec. No network, no I/O.

Fields a config omits take transformers 5.23's class defaults (`MllamaTextConfig`,
`MllamaVisionConfig` in models/mllama/configuration_mllama.py), listed below. Anything that
changes cost and is not modelled is refused with one ConfigError line naming the field.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from costmodel.errors import one_line
from costmodel.loading.hf_config import ConfigError, _get, check_experts
from costmodel.specs.mllama import MllamaVisionSpec
from costmodel.specs.model import LLMSpec, ModelSpec

Cfg = dict[str, Any]
ARCHITECTURE = "MllamaForConditionalGeneration"
TEXT_DEFAULTS: Cfg = dict(vocab_size=128256, hidden_size=4096, hidden_act="silu",
                          num_hidden_layers=40, num_attention_heads=32, num_key_value_heads=8,
                          intermediate_size=14336, max_position_embeddings=131072,
                          tie_word_embeddings=False)
CROSS_LAYERS_DEFAULT = (3, 8, 13, 18, 23, 28, 33, 38)
VISION_DEFAULTS: Cfg = dict(hidden_size=1280, hidden_act="gelu", num_hidden_layers=32,
                            num_global_layers=8, attention_heads=16, num_channels=3,
                            intermediate_size=5120, vision_output_dim=7680, image_size=448,
                            patch_size=14, max_num_tiles=4)
INTERMEDIATE_DEFAULT = (3, 7, 15, 23, 30)
ASPECT_RATIOS_DEFAULT = ((1, 1), (1, 2), (1, 3), (1, 4), (2, 1), (2, 2), (3, 1), (4, 1))
# MllamaTextModel.embed_tokens = nn.Embedding(vocab_size + 8, hidden_size)
EXTRA_EMBEDDING_ROWS = 8


def _text(tc: Cfg) -> LLMSpec:
    w, d = "text_config.", TEXT_DEFAULTS
    check_experts(tc, w)
    if (act := tc.get("hidden_act") or d["hidden_act"]) != "silu":
        raise ConfigError(f"config.json: {w}hidden_act '{act}' is not modelled (MllamaTextMLP is "
                          "costed as SwiGLU); use hidden_act silu")
    layers = _get(tc, d, "num_hidden_layers", w)
    cross = tuple(tc.get("cross_attention_layers") or CROSS_LAYERS_DEFAULT)
    try:
        return LLMSpec(
            hidden_size=_get(tc, d, "hidden_size", w), num_layers=layers,
            num_heads=_get(tc, d, "num_attention_heads", w),
            num_kv_heads=_get(tc, d, "num_key_value_heads", w),
            intermediate_size=_get(tc, d, "intermediate_size", w), mlp_kind="swiglu",
            vocab_size=_get(tc, d, "vocab_size", w),
            tie_embeddings=bool(_get(tc, d, "tie_word_embeddings", w)),
            max_position_embeddings=_get(tc, d, "max_position_embeddings", w),
            cross_attention_layers=cross, extra_embedding_rows=EXTRA_EMBEDDING_ROWS,
        )
    except ValidationError as e:
        raise ConfigError(f"{w}{one_line(e)}") from None


def _ratios(vc: Cfg, tiles: int) -> tuple[tuple[int, int], ...]:
    ratios = tuple(tuple(r) for r in vc.get("supported_aspect_ratios") or ASPECT_RATIOS_DEFAULT)
    if any(len(r) != 2 or r[0] * r[1] > tiles or min(r) < 1 for r in ratios):
        raise ConfigError(f"config.json: vision_config.supported_aspect_ratios: every [w, h] "
                          f"must have 1 <= w x h <= max_num_tiles ({tiles})")
    return ratios


def _vision(vc: Cfg, text_hidden: int) -> MllamaVisionSpec:
    w, d = "vision_config.", VISION_DEFAULTS
    if (act := vc.get("hidden_act") or d["hidden_act"]) != "gelu":
        raise ConfigError(f"config.json: {w}hidden_act '{act}' is not modelled (the Mllama "
                          "vision MLP is costed with GELU); use hidden_act gelu")
    for key in ("image_size", "patch_size"):
        if isinstance(vc.get(key), list | tuple):
            raise ConfigError(f"config.json: {w}{key}: give one number (square tiles)")
    tiles = _get(vc, d, "max_num_tiles", w)
    ratios = _ratios(vc, tiles)
    heads = vc.get("attention_heads", vc.get("num_attention_heads"))
    try:
        return MllamaVisionSpec(
            hidden_size=_get(vc, d, "hidden_size", w), num_layers=_get(vc, d, "num_hidden_layers", w),
            num_global_layers=_get(vc, d, "num_global_layers", w),
            num_heads=_get({"attention_heads": heads}, d, "attention_heads", w),
            intermediate_size=_get(vc, d, "intermediate_size", w),
            patch_size=_get(vc, d, "patch_size", w), image_size=_get(vc, d, "image_size", w),
            in_channels=_get(vc, d, "num_channels", w), max_num_tiles=tiles,
            num_aspect_ratios=len(ratios), supported_aspect_ratios=ratios,
            intermediate_layers=tuple(vc.get("intermediate_layers_indices") or INTERMEDIATE_DEFAULT),
            vision_output_dim=_get(vc, d, "vision_output_dim", w), text_hidden_size=text_hidden,
        )
    except ValidationError as e:
        raise ConfigError(f"{w}{one_line(e)}") from None


def mllama_from_config(cfg: Cfg, name: str) -> ModelSpec:
    """MllamaForConditionalGeneration from its config.json (top level + text/vision configs)."""
    archs = cfg.get("architectures") or []
    if any(a != ARCHITECTURE for a in archs):
        raise ConfigError(f"config.json: architectures {archs} is not modelled for model_type "
                          f"'mllama'; use a transformers config.json whose architectures is {ARCHITECTURE}")
    llm = _text(cfg.get("text_config") or {})
    vision = _vision(cfg.get("vision_config") or {}, llm.hidden_size)
    return ModelSpec(name=name, llm=llm, cross_vision=vision)
