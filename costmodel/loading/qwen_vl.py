"""Qwen2.5-VL and Qwen3-VL (dense) config.json -> ModelSpec. No I/O.

Fields a config omits take the transformers 5.23 config-class defaults
(`Qwen2_5_VLVisionConfig`, `Qwen2_5_VLTextConfig`, `Qwen3VLVisionConfig`, `Qwen3VLTextConfig`),
listed below. Pixel bounds of the token rule are the models' preprocessor_config.json values
(the image processor is transformers' `Qwen2VLImageProcessor` for both families):
Qwen2.5-VL min_pixels 3136, max_pixels 12845056 (as Qwen2-VL); Qwen3-VL size.shortest_edge
65536, size.longest_edge 16777216 (Qwen/Qwen3-VL-8B-Instruct, see zoo_configs/SOURCES.md).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from costmodel.errors import one_line
from costmodel.loading.hf_config import (
    ConfigError,
    _act,
    _get,
    check_experts,
    llm_from_config,
)
from costmodel.loading.windows import llm_windows
from costmodel.specs.model import LLMSpec, ModelSpec, ProjectorSpec, TokenScheme, VisionSpec

Cfg = dict[str, Any]

ARCHITECTURES = {"qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration",
                 "qwen3_vl": "Qwen3VLForConditionalGeneration"}
VISION_DEFAULTS: dict[str, Cfg] = {
    "qwen2_5_vl": dict(depth=32, hidden_size=3584, hidden_act="silu", intermediate_size=3420,
                       num_heads=16, in_channels=3, patch_size=14, spatial_merge_size=2,
                       temporal_patch_size=2, window_size=112, out_hidden_size=3584,
                       fullatt_block_indexes=[7, 15, 23, 31]),
    "qwen3_vl": dict(depth=27, hidden_size=1152, hidden_act="gelu_pytorch_tanh",
                     intermediate_size=4304, num_heads=16, in_channels=3, patch_size=16,
                     spatial_merge_size=2, temporal_patch_size=2, out_hidden_size=3584,
                     num_position_embeddings=2304, deepstack_visual_indexes=[8, 16, 24]),
}
QWEN3_TEXT_DEFAULTS: Cfg = dict(vocab_size=151936, hidden_size=4096, intermediate_size=22016,
                                num_hidden_layers=32, num_attention_heads=32,
                                num_key_value_heads=32, head_dim=128, hidden_act="silu",
                                max_position_embeddings=128000, attention_bias=False)
PIXELS = {"qwen2_5_vl": (56 * 56, 12845056), "qwen3_vl": (65536, 16777216)}
DEFAULT_IMAGE = (672, 672)  # as Qwen2-VL


def _check_architectures(cfg: Cfg, kind: str) -> None:
    archs = cfg.get("architectures") or []
    want = ARCHITECTURES[kind]
    if any(a != want for a in archs):
        raise ConfigError(f"config.json: architectures {archs} is not modelled for model_type "
                          f"'{kind}'; use a transformers config.json whose architectures is {want}")


def _indexes(vc: Cfg, d: Cfg, key: str, depth: int) -> tuple[int, ...]:
    value = _get(vc, d, key, "vision_config.")
    if not isinstance(value, list | tuple) or any(
            not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < depth for i in value):
        raise ConfigError(f"config.json: vision_config.{key} {value!r} must list ViT layers "
                          f"0..{depth - 1}")
    return tuple(value)


def _vision(vc: Cfg, kind: str) -> tuple[VisionSpec, int, int]:
    """(ViT, out_hidden_size, spatial_merge_size) of a vision_config."""
    d = VISION_DEFAULTS[kind]
    g = lambda key: _get(vc, d, key, "vision_config.")  # noqa: E731
    depth, merge = g("depth"), g("spatial_merge_size")
    fields: Cfg = dict(
        num_layers=depth, hidden_size=g("hidden_size"), num_heads=g("num_heads"),
        intermediate_size=g("intermediate_size"), patch_size=g("patch_size"),
        image_size=g("patch_size") * merge,
        in_channels=_get(vc, {"in_channels": vc.get("in_chans", 3)}, "in_channels"),
        temporal_patch_size=g("temporal_patch_size"), cls_token=False,
        learned_pos_embedding=False, rope2d=True, packed_sequences=True, pre_norm=False, post_norm=False,
        feature_layer=-1, spatial_merge_size=merge,
    )
    if kind == "qwen2_5_vl":
        if g("hidden_act") != "silu":
            raise ConfigError(f"config.json: vision_config.hidden_act '{g('hidden_act')}' is not "
                              "modelled (the Qwen2.5-VL ViT MLP is costed as SwiGLU); use silu")
        fields.update(norm_kind="rmsnorm", mlp_kind="swiglu", patch_bias=False,
                      window_size=g("window_size"),
                      fullatt_blocks=_indexes(vc, d, "fullatt_block_indexes", depth))
    else:
        fields.update(patch_bias=True, mlp_act=_act(vc, d),
                      num_position_embeddings=g("num_position_embeddings"))
    try:
        return VisionSpec(**fields), g("out_hidden_size"), merge
    except ValidationError as e:
        raise ConfigError(f"vision_config.{one_line(e).removeprefix('vision.')}") from None


def _qwen3_text(tc: Cfg) -> LLMSpec:
    """Qwen3VLTextConfig -> LLMSpec: q_norm / k_norm, q/k/v and o_proj biases only with
    `attention_bias` (default false), head_dim 128 by default."""
    where, d = "text_config.", QWEN3_TEXT_DEFAULTS
    check_experts(tc, where)
    # non-full layer_types refused (no window applies to this family): loading/windows.py
    llm_windows(tc, "qwen3_vl_text", _get(tc, d, "num_hidden_layers", where), where)
    if _get(tc, d, "hidden_act", where) != "silu" or tc.get("mlp_bias"):
        raise ConfigError("config.json: text_config.hidden_act / mlp_bias: only a SiLU-gated "
                          "MLP without biases is modelled; use hidden_act silu")
    # Qwen3VLTextAttention: bias=config.attention_bias on q_proj, k_proj, v_proj and o_proj
    # (models/qwen3_vl/modeling_qwen3_vl.py, Qwen3VLTextAttention.__init__)
    bias = bool(_get(tc, d, "attention_bias", where))
    try:
        return LLMSpec(
            hidden_size=_get(tc, d, "hidden_size", where),
            num_layers=_get(tc, d, "num_hidden_layers", where),
            num_heads=_get(tc, d, "num_attention_heads", where),
            num_kv_heads=_get(tc, d, "num_key_value_heads", where),
            head_dim=_get(tc, d, "head_dim", where),
            intermediate_size=_get(tc, d, "intermediate_size", where),
            vocab_size=_get(tc, d, "vocab_size", where), qk_norm=True, qkv_bias=bias,
            o_bias=bias,
            max_position_embeddings=_get(tc, d, "max_position_embeddings", where),
        )
    except ValidationError as e:
        raise ConfigError(f"{where}{one_line(e)}") from None


def _qwen2_5_text(cfg: Cfg) -> LLMSpec:
    """The Qwen2 decoder: a flat Hub config (text fields at the top) or a nested text_config."""
    nested = "text_config" in cfg
    text = {k: v for k, v in (cfg.get("text_config") or cfg).items() if k != "architectures"}
    text["model_type"] = "qwen2"
    text.setdefault("max_window_layers", 80)  # Qwen2_5_VLTextConfig's default (Qwen2Config: 28)
    return llm_from_config(text, "text_config." if nested else "")


def qwen_vl_from_config(cfg: Cfg, name: str) -> ModelSpec:
    """A qwen2_5_vl or qwen3_vl config.json (dense) as a ModelSpec."""
    kind = str(cfg.get("model_type"))
    _check_architectures(cfg, kind)
    tc = cfg.get("text_config") or {}
    check_experts(tc, "text_config.")
    if kind == "qwen2_5_vl":
        llm = _qwen2_5_text(cfg)
    else:
        llm = _qwen3_text(tc)
    # Qwen3VLConfig ties by its own tie_word_embeddings only (default false); Qwen2_5_VLConfig
    # also takes a pre-v5 text_config's true (its __post_init__ BC rule).
    tie = bool(cfg.get("tie_word_embeddings"))
    if kind == "qwen2_5_vl":
        tie = tie or bool(tc.get("tie_word_embeddings"))
    llm = llm.model_copy(update={"tie_embeddings": tie})
    vit, out, merge = _vision(cfg.get("vision_config") or {}, kind)
    if out != llm.hidden_size:
        raise ConfigError(f"config.json: vision_config.out_hidden_size {out} != the LLM's "
                          f"hidden_size {llm.hidden_size}")
    deep = 0
    if kind == "qwen3_vl":
        layers = _indexes(cfg.get("vision_config") or {}, VISION_DEFAULTS[kind],
                          "deepstack_visual_indexes", vit.num_layers)
        if len(layers) > llm.num_layers:
            raise ConfigError("config.json: vision_config.deepstack_visual_indexes has more "
                              "entries than the LLM has layers")
        deep = len(layers)
    proj = ProjectorSpec(kind="patch_merger", input_dim=vit.hidden_size, output_dim=out,
                         merge_size=merge, deepstack=deep,
                         norm_kind="rmsnorm" if kind == "qwen2_5_vl" else "layernorm")
    lo, hi = PIXELS[kind]
    scheme = TokenScheme(kind="dynamic", min_pixels=lo, max_pixels=hi,
                         default_image_size=DEFAULT_IMAGE, video_rule=kind)
    return ModelSpec(name=name, llm=llm, vision=vit, projector=proj, token_scheme=scheme)
