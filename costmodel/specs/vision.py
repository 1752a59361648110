"""Frozen vision-side specs: the vision encoder (ViT) and the projector (connector) into the
LLM. Every size is a count (no units); parameter counts are closed forms written once here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, model_validator

from costmodel.specs.base import FROZEN as _FROZEN
from costmodel.specs.base import MAX_LAYERS, OneLineModel
from costmodel.specs.base import norm_params as _norm_params

MlpAct = Literal["gelu", "quick_gelu", "gelu_tanh"]  # the ViT MLP activation


class VisionSpec(OneLineModel):
    """A ViT encoder (CLIP, SigLIP, Qwen2-VL's ViT)."""

    model_config = _FROZEN
    num_layers: PositiveInt = Field(le=MAX_LAYERS)
    hidden_size: PositiveInt
    num_heads: PositiveInt
    intermediate_size: PositiveInt
    patch_size: PositiveInt
    image_size: PositiveInt
    in_channels: PositiveInt = 3
    temporal_patch_size: PositiveInt = 1
    cls_token: bool = True
    patch_bias: bool = False
    learned_pos_embedding: bool = True
    rope2d: bool = False
    pre_norm: bool = False
    post_norm: bool = True
    # The post-norm runs on the features (SigLIP's last_hidden_state, Gemma 3); False = the
    # features are a hidden state before it (LLaVA's hidden_states[feature_layer]).
    post_norm_applied: bool = False
    feature_layer: int = -1
    # The selected features keep the CLS row: one more feature (projector row, LLM visual token)
    # per encoder pass (LLaVA vision_feature_select_strategy "full" on a CLIP ViT; transformers
    # models/llava/modeling_llava.py, LlavaModel.get_image_features drops row 0 only for
    # "default"). False: the CLS row, if any, is dropped.
    feature_keeps_cls: bool = False
    mlp_act: MlpAct = "quick_gelu"
    # InternViT (transformers models/internvl/modeling_internvl.py): q/k/v biases follow
    # `attention_bias` (the output projection always has one), per-channel layer scale
    # (lambda_1, lambda_2) on both residual branches, optional RMSNorm on q and k (use_qk_norm).
    qkv_bias: bool = True
    layer_scale: bool = False
    qk_norm: bool = False
    # The two block norms: layernorm, or rmsnorm (InternViT norm_type rms_norm; Qwen2.5-VL).
    norm_kind: Literal["layernorm", "rmsnorm"] = "layernorm"
    # Qwen2.5-VL / Qwen3-VL (defaults keep the CLIP / SigLIP / Qwen2-VL blocks unchanged):
    # mlp_kind "fc" = fc1, act, fc2; "swiglu" = gate, up, SiLU gate, down, all with biases
    # (Qwen2_5_VLMLP(bias=True)).
    mlp_kind: Literal["fc", "swiglu"] = "fc"
    # Windowed attention (Qwen2.5-VL): window_size in pixels, spatial_merge_size of the window
    # partition (transformers `get_vision_window_index`), full attention only in fullatt_blocks.
    window_size: PositiveInt | None = None
    spatial_merge_size: PositiveInt = 1
    fullatt_blocks: tuple[int, ...] = ()
    # Qwen3-VL: a learned table of this many positions, bilinearly interpolated to each grid
    # (replaces the per-patch table of learned_pos_embedding).
    num_position_embeddings: PositiveInt | None = None
    # The Qwen2-VL family (Qwen2-VL, Qwen2.5-VL, Qwen3-VL) packs its passes (each image, each
    # frame pair of a video) and windows into one sequence split by cu_seqlens (transformers
    # vision_utils.get_vision_cu_seqlens); an engine whose attention runs one call per packed
    # sequence (Engine.packed_attention, core/packed.py) pays a call for each.
    packed_sequences: bool = False

    @model_validator(mode="after")
    def _check(self) -> VisionSpec:
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"vision.num_heads: {self.num_heads} does not divide hidden_size {self.hidden_size}"
            )
        if self.image_size < self.patch_size:
            raise ValueError(
                f"vision.patch_size: {self.patch_size} exceeds image_size {self.image_size}"
            )
        if self.feature_keeps_cls and not self.cls_token:
            raise ValueError("vision.feature_keeps_cls: this ViT has no CLS token to keep")
        if not (-self.num_layers <= self.feature_layer <= self.num_layers) or self.feature_layer == 0:
            raise ValueError(
                f"vision.feature_layer: {self.feature_layer} is outside 1..{self.num_layers} "
                f"or -1..-{self.num_layers}"
            )
        return self

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def patches_per_image(self) -> int:
        """Patches of one image at the native image_size (a strided conv drops any remainder:
        SigLIP 384/14 -> 27 x 27)."""
        return (self.image_size // self.patch_size) ** 2

    @property
    def features_per_image(self) -> int:
        """Feature rows one encoder pass gives the projector: its patches, plus the CLS row
        when the features keep it (feature_keeps_cls)."""
        return self.patches_per_image + int(self.feature_keeps_cls)

    @property
    def executed_layers(self) -> int:
        """Layers that must run to produce the selected feature layer (-2 of 24 -> 23)."""
        fl = self.feature_layer
        return fl if fl > 0 else self.num_layers + 1 + fl

    @property
    def patch_input_dim(self) -> int:
        return self.in_channels * self.temporal_patch_size * self.patch_size**2

    @property
    def window_patches(self) -> int:
        """Patches per window side: window_size // merge // patch merged units x merge
        (Qwen2.5-VL: 112 // 2 // 14 = 4 merged units = 8 patches); 0 = no windows."""
        if self.window_size is None:
            return 0
        return self.window_size // self.spatial_merge_size // self.patch_size * self.spatial_merge_size

    def layer_params(self) -> int:
        d, i = self.hidden_size, self.intermediate_size
        attn = 4 * d * d + (3 * d if self.qkv_bias else 0) + d  # q, k, v (biases?), o with bias
        attn += 2 * d if self.qk_norm else 0  # RMSNorm scales on q and k
        if self.mlp_kind == "swiglu":
            mlp = 3 * d * i + 2 * i + d  # gate, up, down with biases
        else:
            mlp = 2 * d * i + i + d  # fc1, fc2 with biases
        scale = 2 * d if self.layer_scale else 0  # lambda_1, lambda_2
        return attn + mlp + scale + 2 * _norm_params(self.norm_kind, d)  # two block norms

    def pos_table(self) -> int:
        """Rows of the learned position table (0 without one)."""
        if self.num_position_embeddings:
            return self.num_position_embeddings
        if self.learned_pos_embedding:
            return self.patches_per_image + int(self.cls_token)
        return 0

    def num_params(self) -> int:
        d = self.hidden_size
        n = self.patch_input_dim * d + (d if self.patch_bias else 0)
        if self.cls_token:
            n += d
        n += self.pos_table() * d
        n += 2 * d * (int(self.pre_norm) + int(self.post_norm))
        return n + self.num_layers * self.layer_params()


class ProjectorSpec(OneLineModel):
    """Vision -> LLM connector.

    linear: one Linear(in, out). mlp2x_gelu: Linear(in, out), GELU, Linear(out, out) (LLaVA-1.5).
    patch_merger: LayerNorm(in) on each patch, concat merge_size^2 neighbours, then
    Linear(in*m^2, in*m^2), GELU, Linear(in*m^2, out) (Qwen2-VL). norm_kind: that norm
    (Qwen2.5-VL: RMSNorm, Qwen2_5_VLPatchMerger.ln_q). deepstack: Qwen3-VL's extra mergers, one
    per deepstack ViT layer, each LayerNorm(in*m^2) after the merge ("postshuffle") and the
    same two Linears (Qwen3VLVisionPatchMerger(use_postshuffle_norm=True)).
    pixel_shuffle_mlp: pixel shuffle (m x m neighbours -> one row of in*m^2), then
    LayerNorm(in*m^2), Linear(in*m^2, out), GELU, Linear(out, out) (InternVL, m = 1/downsample_ratio).
    pixel_shuffle_linear: pixel shuffle, then one Linear(in*m^2, out) (Idefics3 / SmolVLM, m =
    scale_factor, bias = False).
    avgpool_norm_linear: average merge_size x merge_size patches, RMSNorm(in), Linear(in, out)
    without bias (Gemma3MultiModalProjector).
    """

    model_config = _FROZEN
    kind: Literal["linear", "mlp2x_gelu", "patch_merger", "pixel_shuffle_mlp",
                  "pixel_shuffle_linear", "avgpool_norm_linear"]
    input_dim: PositiveInt
    output_dim: PositiveInt
    merge_size: PositiveInt = 1
    bias: bool = True
    norm_kind: Literal["layernorm", "rmsnorm"] = "layernorm"
    deepstack: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _check(self) -> ProjectorSpec:
        if self.kind in ("linear", "mlp2x_gelu") and self.merge_size != 1:
            raise ValueError("projector.merge_size: only patch_merger, pixel_shuffle_* and "
                             "avgpool_norm_linear merge patches; set it to 1")
        if self.kind != "patch_merger" and self.deepstack:
            raise ValueError("projector.deepstack: only a patch_merger has deepstack mergers")
        return self

    @property
    def merged_dim(self) -> int:
        return self.input_dim * self.merge_size**2

    def linear_shapes(self) -> list[tuple[int, int]]:
        """(in_features, out_features) of each Linear, in order."""
        i, o = self.input_dim, self.output_dim
        if self.kind in ("linear", "avgpool_norm_linear"):
            return [(i, o)]
        if self.kind == "mlp2x_gelu":
            return [(i, o), (o, o)]
        if self.kind == "pixel_shuffle_mlp":
            return [(self.merged_dim, o), (o, o)]
        if self.kind == "pixel_shuffle_linear":
            return [(self.merged_dim, o)]
        return [(self.merged_dim, self.merged_dim), (self.merged_dim, o)]

    @property
    def norm_dim(self) -> int:
        """Width of the projector's LayerNorm: before merging (patch_merger), after the pixel
        shuffle (pixel_shuffle_mlp), none (0) otherwise."""
        return {"patch_merger": self.input_dim, "pixel_shuffle_mlp": self.merged_dim}.get(self.kind, 0)

    def num_params(self) -> int:
        lin = sum(a * b + (b if self.bias else 0) for a, b in self.linear_shapes())
        if self.kind == "avgpool_norm_linear":
            return lin + self.input_dim  # RMSNorm after pooling (scale only)
        if self.kind != "patch_merger":
            return lin + 2 * self.norm_dim  # pixel_shuffle_mlp's LayerNorm (0 for others)
        # norm before merging; each deepstack merger: the Linears + LayerNorm(in*m^2)
        return lin + _norm_params(self.norm_kind, self.input_dim) + \
            self.deepstack * (lin + 2 * self.merged_dim)
