"""Frozen model specs: the LLM decoder, the token scheme, and the VLM that ties them to the
vision encoder and projector (costmodel.specs.vision, re-exported here).

Every size is a count (no units). Parameter counts are closed forms written once here and
checked against published figures in tests (Llama-2-7B = 6,738,415,616).
This module never imports the hardware specs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveInt, model_validator

from costmodel.specs.base import FROZEN as _FROZEN
from costmodel.specs.base import MAX_LAYERS, OneLineModel
from costmodel.specs.base import norm_params as _norm_params
from costmodel.specs.mllama import MllamaVisionSpec
from costmodel.specs.moe import MoESpec
from costmodel.specs.quantization import WEIGHT_PARTS, QuantizedCheckpoint, WeightPart
from costmodel.specs.vision import MlpAct, ProjectorSpec, VisionSpec

__all__ = ["LLMSpec", "MlpAct", "ModelSpec", "ProjectorSpec", "TokenScheme", "VisionSpec"]

class LLMSpec(OneLineModel):
    """A decoder-only transformer (Llama / Mistral / Qwen2 family)."""

    model_config = _FROZEN
    hidden_size: PositiveInt
    num_layers: PositiveInt = Field(le=MAX_LAYERS)
    num_heads: PositiveInt
    num_kv_heads: PositiveInt
    head_dim_override: PositiveInt | None = Field(default=None, alias="head_dim")
    intermediate_size: PositiveInt
    mlp_kind: Literal["swiglu", "gelu", "geglu"] = "swiglu"  # geglu: gate/up/down, GELU-tanh gate
    vocab_size: PositiveInt
    tie_embeddings: bool = False
    norm_kind: Literal["rmsnorm", "layernorm"] = "rmsnorm"
    qkv_bias: bool = False
    # A bias on the output projection too (LlamaAttention's o_proj with `attention_bias`;
    # Qwen2Attention has q/k/v biases and none on o_proj).
    o_bias: bool = False
    rope: bool = True
    # The longest sequence the model was trained for (config.json); None = not given.
    max_position_embeddings: PositiveInt | None = None
    # Llama-3.2-Vision (mllama): layers that cross-attend to the visual tokens instead of
    # self-attending (costmodel/core/cross_attention.py); () = none.
    cross_attention_layers: tuple[int, ...] = ()
    # Embedding rows beyond vocab_size (MllamaTextModel.embed_tokens: vocab_size + 8).
    extra_embedding_rows: NonNegativeInt = 0
    # Per-layer attention kind (docs/methodology.md, "Sliding-window attention"): () = every
    # layer full; else one entry per layer, "sliding" layers see the last `sliding_window` keys.
    layer_types: tuple[Literal["full", "sliding"], ...] = ()
    sliding_window: PositiveInt | None = None
    # RMSNorm(head_dim) on every q and k head before RoPE (Gemma 3, Qwen3: q_norm, k_norm)
    qk_norm: bool = False
    sandwich_norm: bool = False  # post-attention and post-MLP norms too: 4 norms per layer (Gemma 2/3)
    embed_scale: bool = False  # embeddings multiplied by sqrt(hidden) (Gemma)

    def window(self, layer: int) -> int | None:
        """Keys a query of `layer` may see at most (None = every earlier key)."""
        sliding = layer < len(self.layer_types) and self.layer_types[layer] == "sliding"
        return self.sliding_window if sliding else None

    def attn_runs(self, lo: int, hi: int) -> list[tuple[int, int, int | None]]:
        """Layers lo..hi-1 as runs of one attention kind: (first, end, window or None)."""
        runs: list[tuple[int, int, int | None]] = []
        for i in range(lo, hi):
            w = self.window(i)
            if runs and runs[-1][2] == w:
                runs[-1] = (runs[-1][0], i + 1, w)
            else:
                runs.append((i, i + 1, w))
        return runs

    @model_validator(mode="after")
    def _check_windows(self) -> LLMSpec:
        if self.layer_types and len(self.layer_types) != self.num_layers:
            raise ValueError(f"layer_types: {len(self.layer_types)} entries for "
                             f"{self.num_layers} layers; give one per layer")
        if "sliding" in self.layer_types and self.sliding_window is None:
            raise ValueError("sliding_window: sliding layers need a window")
        return self
    # Mixture-of-experts MLP on every layer (costmodel/specs/moe.py); None = dense MLP of
    # intermediate_size. With experts, intermediate_size is not used by any layer.
    moe: MoESpec | None = None

    @model_validator(mode="after")
    def _check_heads(self) -> LLMSpec:
        x = self.cross_attention_layers
        if list(x) != sorted(set(x)) or any(not 0 <= i < self.num_layers for i in x):
            raise ValueError(f"cross_attention_layers: {list(x)} must be increasing layer "
                             f"indices in 0..{self.num_layers - 1}")
        if self.head_dim_override is None and self.hidden_size % self.num_heads:
            raise ValueError(
                f"num_heads: {self.num_heads} does not divide hidden_size {self.hidden_size}; "
                "fix one or set head_dim"
            )
        if self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"num_kv_heads: {self.num_kv_heads} does not divide num_heads {self.num_heads}"
            )
        return self

    @property
    def head_dim(self) -> int:
        return self.head_dim_override or self.hidden_size // self.num_heads

    @property
    def q_dim(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        """Width of K (and of V): num_kv_heads x head_dim (GQA/MQA shrink it)."""
        return self.num_kv_heads * self.head_dim

    def layer_params(self) -> int:
        h, i = self.hidden_size, self.intermediate_size
        attn = h * (self.q_dim + 2 * self.kv_dim) + self.q_dim * h
        if self.qkv_bias:
            attn += self.q_dim + 2 * self.kv_dim
        if self.o_bias:
            attn += h
        mlp = (2 if self.mlp_kind == "gelu" else 3) * h * i
        if self.moe is not None:
            mlp = self.moe.layer_params(h)
        norms = (4 if self.sandwich_norm else 2) * _norm_params(self.norm_kind, h)
        qk = 2 * _norm_params(self.norm_kind, self.head_dim) if self.qk_norm else 0
        return attn + mlp + norms + qk

    def cross_extra_params(self, lo: int = 0, hi: int | None = None) -> int:
        """What cross-attention layers lo..hi-1 hold beyond a self-attention layer:
        q_norm and k_norm (head_dim each) and two tanh gates (MllamaCrossAttentionDecoderLayer)."""
        hi = self.num_layers if hi is None else hi
        n = sum(1 for i in self.cross_attention_layers if lo <= i < hi)
        return n * (2 * self.head_dim + 2)

    def embedding_params(self) -> int:
        return (self.vocab_size + self.extra_embedding_rows) * self.hidden_size

    def lm_head_params(self) -> int:
        """0 when tied: the lm_head reuses the embedding matrix."""
        return 0 if self.tie_embeddings else self.vocab_size * self.hidden_size

    def num_params(self) -> int:
        final_norm = _norm_params(self.norm_kind, self.hidden_size)
        return (
            self.embedding_params()
            + self.num_layers * self.layer_params()
            + self.cross_extra_params()
            + final_norm
            + self.lm_head_params()
        )

    def active_params(self) -> int:
        """Parameters one token uses: num_params less the (E - k) routed experts it skips in
        every MoE layer (embedding, attention, router, shared expert, lm_head all count)."""
        if self.moe is None:
            return self.num_params()
        skipped = self.moe.layer_params(self.hidden_size) - self.moe.active_layer_params(self.hidden_size)
        return self.num_params() - self.num_layers * skipped


class TokenScheme(OneLineModel):
    """How images become visual tokens.

    fixed: every image is resized to the encoder's image_size; tokens = patches (CLS dropped,
      unless vision.feature_keeps_cls: patches + 1).
    anyres: LLaVA-NeXT; a base image plus tiles picked from grid_pinpoints, unpadded, one newline
      token per feature row. anyres_max_patches N (LLaVA-OneVision `vision_aspect_ratio`
      "anyres_max_N"): the unpadded grid is downscaled when it exceeds 1.1^2 x N crops' features.
      single_image_anyres (LLaVA-OneVision): tiles only for a request's only image; each image of
      a several-image request is the base crop alone plus one newline token.
    dynamic: Qwen2-VL; the image is resized to multiples of patch x merge within
      [min_pixels, max_pixels]; tokens = patches / merge^2.
    tiles: InternVL; the image is resized to a grid of c x r tiles of image_size (min_tiles <=
      c*r <= max_tiles, closest aspect ratio) plus a thumbnail tile when c*r > 1; each tile gives
      patches / merge^2 tokens; `image_text_tokens` text tokens per image wrap them (<img></img>).
    splits: Idefics3 / SmolVLM; the longest edge is resized to resize_longest_edge (None = 4 x
      image_size), the image cut into ceil(h/image_size) x ceil(w/image_size) tiles plus a global
      image when that is more than one; each gives patches / merge^2 tokens, wrapped in text
      tokens (core/idefics3_tokens.py).
    """

    model_config = _FROZEN
    kind: Literal["fixed", "anyres", "dynamic", "tiles", "splits"]
    grid_pinpoints: tuple[tuple[int, int], ...] = ()
    min_pixels: PositiveInt = 56 * 56
    max_pixels: PositiveInt = 28 * 28 * 1280
    newline_token: bool = False
    anyres_max_patches: PositiveInt | None = None  # anyres_max_N; None = no cap (LLaVA-NeXT)
    single_image_anyres: bool = False  # anyres: tiles only when the request has one image
    default_image_size: tuple[PositiveInt, PositiveInt] | None = None  # (W, H); None = encoder's
    min_tiles: PositiveInt = 1  # tiles: GotOcr2 image processor min_patches
    max_tiles: PositiveInt = 12  # tiles: GotOcr2 image processor max_patches
    image_text_tokens: int = Field(default=0, ge=0)  # text tokens the processor adds per image
    resize_longest_edge: PositiveInt | None = None  # splits: image processor size["longest_edge"]
    # Gemma 3 pan-and-scan (fixed scheme; Gemma3ImageProcessor defaults, off by default): extra
    # crops of the image, each encoded like the whole image (core/gemma3_tokens.py).
    pan_and_scan: bool = False
    pan_and_scan_min_crop_size: PositiveInt = 256
    pan_and_scan_max_num_crops: PositiveInt = 4
    pan_and_scan_min_ratio_to_activate: float = 1.2
    # The video rule (costmodel.core.video.VIDEO_RULES); None = the kind's default there.
    video_rule: str | None = None

    @model_validator(mode="after")
    def _check(self) -> TokenScheme:
        if self.kind == "anyres" and not self.grid_pinpoints:
            raise ValueError("token_scheme.grid_pinpoints: anyres needs at least one [H, W] pinpoint")
        if self.min_pixels > self.max_pixels:
            raise ValueError("token_scheme.min_pixels: must not exceed max_pixels")
        if self.min_tiles > self.max_tiles:
            raise ValueError("token_scheme.min_tiles: must not exceed max_tiles")
        return self


class ModelSpec(OneLineModel):
    """A VLM (llm + vision + projector) or a text-only LLM (vision and projector None)."""

    model_config = _FROZEN
    name: str = Field(min_length=1)
    llm: LLMSpec
    vision: VisionSpec | None = None
    projector: ProjectorSpec | None = None
    token_scheme: TokenScheme = TokenScheme(kind="fixed")
    source: str = ""
    # Llama-3.2-Vision: a tiled encoder whose tokens feed llm.cross_attention_layers (not the
    # prompt); vision and projector are then None (specs/mllama.py, core/cross_attention.py).
    cross_vision: MllamaVisionSpec | None = None
    # config.json's quantization_config (loading/quantization.py); None: not quantised. A
    # workload's weight dtype and parts not named follow it (analysis/weights.py).
    quantization: QuantizedCheckpoint | None = None

    @model_validator(mode="after")
    def _check(self) -> ModelSpec:
        if (self.vision is None) != (self.projector is None):
            raise ValueError("projector: a VLM needs both vision and projector; a text LLM neither")
        if self.vision and self.projector:
            if self.projector.input_dim != self.vision.hidden_size:
                raise ValueError(
                    f"projector.input_dim: {self.projector.input_dim} != vision.hidden_size "
                    f"{self.vision.hidden_size}"
                )
            if self.projector.output_dim != self.llm.hidden_size:
                raise ValueError(
                    f"projector.output_dim: {self.projector.output_dim} != llm.hidden_size "
                    f"{self.llm.hidden_size}"
                )
        if self.vision and self.vision.feature_keeps_cls and (
                self.token_scheme.kind != "fixed" or (self.projector and self.projector.merge_size > 1)):
            raise ValueError("vision.feature_keeps_cls: the CLS row is a visual token only with "
                             "the fixed token scheme and a projector that merges no patches "
                             "(LLaVA-1.5)")
        if (self.cross_vision is None) != (not self.llm.cross_attention_layers):
            raise ValueError("cross_vision: a cross-attention VLM needs both cross_vision and "
                             "llm.cross_attention_layers")
        return self

    @property
    def is_vlm(self) -> bool:
        return self.vision is not None or self.cross_vision is not None

    @property
    def weight_part_ids(self) -> tuple[WeightPart, ...]:
        """The weight parts this model has (specs/quantization.py): 'vision' only with a
        vision encoder."""
        return WEIGHT_PARTS if self.is_vlm else tuple(p for p in WEIGHT_PARTS if p != "vision")

    def __repr__(self) -> str:
        """One line (pydantic's repr prints every nested field, over 1 kB in a notebook cell);
        the fields hold the rest."""
        kind = f"VLM ({self.token_scheme.kind} token scheme)" if self.is_vlm else "text-only LLM"
        return (f"<ModelSpec {self.name}: {kind}, {self.param_counts()['total'] / 1e9:.2f}B "
                f"parameters, LLM {self.llm.num_layers} layers x {self.llm.hidden_size}>")

    __str__ = __repr__  # print() too (pydantic's str is its repr without the class name)

    def param_counts(self) -> dict[str, int]:
        """Parameters per component and in total."""
        # LLaVA-NeXT / OneVision learn one `image_newline` vector of LLM width (counted with
        # the projector: it is part of the vision-to-LLM glue).
        newline = self.llm.hidden_size if self.token_scheme.newline_token else 0
        counts = {
            "llm": self.llm.num_params(),
            "vision": self.vision.num_params() if self.vision else 0,
            "projector": (self.projector.num_params() + newline) if self.projector else 0,
        }
        if self.cross_vision is not None:
            counts["vision"] = self.cross_vision.num_params()
            counts["projector"] = self.cross_vision.projector_params()
        counts["total"] = sum(counts.values())
        if self.llm.moe is not None:  # parameters one token uses (LLMSpec.active_params)
            counts["active"] = counts["total"] - counts["llm"] + self.llm.active_params()
        return counts
