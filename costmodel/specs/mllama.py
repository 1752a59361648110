"""Llama-3.2-Vision (transformers `mllama`): the tiled vision encoder and its projector.

The text side is an `LLMSpec` with `cross_attention_layers` (specs/model.py); this module holds
what does not fit `VisionSpec`: tiles, the local + gated global transformers, the gated tile and
position embeddings, the intermediate-layer features and the Linear projector.
Parameter counts are closed forms of transformers 5.23 `models/mllama/modeling_mllama.py`
(`MllamaVisionModel.__init__`, `MllamaModel.multi_modal_projector`); tests compare them with the
real classes built on the meta device. Every size is a count (no units).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from costmodel.specs.base import MAX_LAYERS

_FROZEN = ConfigDict(frozen=True, extra="forbid")
PAD_MULTIPLE = 8  # MllamaVisionModel.forward pads each tile's sequence to a multiple of 8


class MllamaVisionSpec(BaseModel):
    """MllamaVisionConfig fields that change cost, plus the projector's output width."""

    model_config = _FROZEN
    hidden_size: PositiveInt
    num_layers: PositiveInt = Field(le=MAX_LAYERS)  # local transformer (num_hidden_layers)
    num_global_layers: PositiveInt  # gated global transformer
    num_heads: PositiveInt  # attention_heads
    intermediate_size: PositiveInt
    patch_size: PositiveInt
    image_size: PositiveInt  # tile side in pixels (560)
    in_channels: PositiveInt = 3
    max_num_tiles: PositiveInt = 4
    num_aspect_ratios: PositiveInt = 8  # len(supported_aspect_ratios)
    supported_aspect_ratios: tuple[tuple[int, int], ...] = ()
    intermediate_layers: tuple[int, ...] = (3, 7, 15, 23, 30)
    vision_output_dim: PositiveInt = 7680
    text_hidden_size: PositiveInt = 4096  # projector output

    @model_validator(mode="after")
    def _check(self) -> MllamaVisionSpec:
        if self.hidden_size % self.num_heads:
            raise ValueError(f"vision_config.attention_heads: {self.num_heads} does not divide "
                             f"hidden_size {self.hidden_size}")
        want = self.hidden_size * (1 + len(self.intermediate_layers))
        if self.vision_output_dim != want:
            raise ValueError(f"vision_config.vision_output_dim: {self.vision_output_dim} != "
                             f"hidden_size x (1 + len(intermediate_layers_indices)) = {want}")
        if any(not 0 <= i < self.num_layers for i in self.intermediate_layers):
            raise ValueError("vision_config.intermediate_layers_indices: each must be a local "
                             f"layer index in 0..{self.num_layers - 1}")
        return self

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def patches_per_tile(self) -> int:
        """(image_size // patch_size)^2: 1600 for 560 px tiles of 14 px patches."""
        return (self.image_size // self.patch_size) ** 2

    @property
    def tokens_per_tile(self) -> int:
        """Patches + CLS: 1601, the visual tokens one tile gives the cross-attention."""
        return self.patches_per_tile + 1

    @property
    def padded_tokens_per_tile(self) -> int:
        """tokens_per_tile rounded up to a multiple of 8 (1608): what the encoders run on."""
        return -(-self.tokens_per_tile // PAD_MULTIPLE) * PAD_MULTIPLE

    def layer_params(self, gated: bool) -> int:
        """MllamaVisionEncoderLayer: q/k/v/o without biases, fc1/fc2 with, two LayerNorms;
        a global (gated) layer adds gate_attn and gate_ffn (one element each)."""
        d, i = self.hidden_size, self.intermediate_size
        return 4 * d * d + 2 * d * i + i + d + 4 * d + (2 if gated else 0)

    def embedding_params(self) -> int:
        """Patch conv (no bias), class embedding, gated position embedding (its gate, the
        (P+1) x d table and the tile table (R+1) x T(P+1)d), pre/post tile embeddings
        ((R+1) x T d and a gate each), layernorm_pre/post."""
        d, t, r1, n = self.hidden_size, self.max_num_tiles, self.num_aspect_ratios + 1, self.tokens_per_tile
        conv = self.in_channels * self.patch_size**2 * d
        position = 1 + n * d + r1 * t * n * d
        tile = 2 * (r1 * t * d + 1)
        return conv + d + position + tile + 2 * 2 * d

    def num_params(self) -> int:
        return (self.embedding_params() + self.num_layers * self.layer_params(False)
                + self.num_global_layers * self.layer_params(True))

    def projector_params(self) -> int:
        """multi_modal_projector = Linear(vision_output_dim, text hidden, bias=True)."""
        return self.vision_output_dim * self.text_hidden_size + self.text_hidden_size
