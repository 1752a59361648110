"""The workload: what is run (batch, tokens, images, dtypes, attention kernel, overlap mode)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, model_validator

from costmodel.specs.compression import Compression
from costmodel.units import DType

Overlap = Literal["roofline", "serial"]
Convention = Literal["costmodel", "llm-viewer"]


class Workload(BaseModel):
    """One inference request shape.

    visual_tokens: tokens that enter the LLM per sample; if None they follow from `images`
    at `image_size` (W, H) through the model's token scheme (default: the model's own size).
    weight_dtype None = act_dtype; kv_dtype None = act_dtype. Math runs in act_dtype (so
    weight-only quantisation uses the activation dtype's peak).
    overlap: 'roofline' = max(compute, memory) per operator; 'serial' = their sum.
    logits: 'last' computes the lm_head for the last prompt token only; 'all' for every one.
    convention: 'costmodel' (this model's count) or 'llm-viewer' (LLM-Viewer's conventions, for
    regenerating published tables: costmodel.conventions.llm_viewer).
    compression: where visual tokens are removed and how many remain (specs/compression.py).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    batch: PositiveInt = 1
    visual_tokens: NonNegativeInt | None = None
    images: NonNegativeInt = 1
    image_size: tuple[PositiveInt, PositiveInt] | None = None
    text_tokens: NonNegativeInt = 64
    output_tokens: PositiveInt = 128
    act_dtype: DType = DType.bf16
    weight_dtype: DType | None = None
    kv_dtype: DType | None = None
    flash_attention: bool = True
    overlap: Overlap = "roofline"
    logits: Literal["last", "all"] = "last"
    convention: Convention = "costmodel"
    compression: Compression | None = None  # token compression scenario (None = none)

    @model_validator(mode="after")
    def _check(self) -> Workload:
        if self.visual_tokens is None and self.images == 0 and self.text_tokens == 0:
            raise ValueError("text_tokens: a prompt needs at least one token (or an image)")
        if self.visual_tokens == 0 and self.text_tokens == 0:
            raise ValueError("text_tokens: a prompt needs at least one token")
        if self.convention == "llm-viewer" and (self.overlap, self.logits) != ("roofline", "last"):
            raise ValueError("convention: llm-viewer uses the roofline max and last-token logits; "
                             "drop overlap='serial' / logits='all'")
        return self

    @property
    def weights(self) -> DType:
        return self.weight_dtype or self.act_dtype

    @property
    def kv(self) -> DType:
        return self.kv_dtype or self.act_dtype


class VisualPlan(BaseModel):
    """How many encoder passes an input needs and how many tokens reach the LLM (per sample)."""

    model_config = ConfigDict(frozen=True)
    crops: float = Field(ge=0)  # encoder passes (images or tiles)
    seq_per_crop: float = Field(ge=0)  # encoder sequence length per pass (incl. CLS)
    projector_rows: float = Field(ge=0)  # patch features into the projector
    llm_tokens: float = Field(ge=0)  # visual tokens entering the LLM
