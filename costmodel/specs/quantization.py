"""Which weights a weight dtype applies to, and what a quantised checkpoint stores.

Weight parts (WEIGHT_PARTS): 'vision' = the vision encoder and the projector (Llama-3.2-Vision:
its tiled encoder and projector); 'layers' = the LLM's decoder layers (their linear, norm and
MoE weights, cross-attention layers included); 'lm_head' = the output projection; 'embed' =
the token embedding table. With tied embeddings the lm_head reads the embedding table, which
is stored once, in the 'embed' part's format (core/quant.py).

A workload's weight_dtype applies to its weight_parts (default: every part); the other parts
are stored in the activation dtype (bf16 under 8-bit activations). A quantised checkpoint
(config.json's quantization_config, loading/quantization.py) sets both unless the workload
names them (analysis/weights.py).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from costmodel.units import DType

WeightPart = Literal["vision", "layers", "lm_head", "embed"]
WEIGHT_PARTS: tuple[WeightPart, ...] = ("vision", "layers", "lm_head", "embed")


def ordered_parts(parts: object, name: str = "weight_parts") -> tuple[str, ...]:
    """'layers,lm_head' or a sequence of part names -> the names in WEIGHT_PARTS order; an
    unknown, repeated or empty list is one ValueError naming `name` and the choices."""
    items = [s.strip() for s in parts.split(",")] if isinstance(parts, str) else list(
        parts) if isinstance(parts, (list, tuple)) else None
    if not items or not all(isinstance(p, str) and p for p in items):
        raise ValueError(f"{name}: give one or more of {', '.join(WEIGHT_PARTS)}, comma-separated")
    unknown = [p for p in items if p not in WEIGHT_PARTS]
    if unknown:
        raise ValueError(f"{name}: '{str(unknown[0])[:30]}' is not a weight part; give any of "
                         f"{', '.join(WEIGHT_PARTS)}")
    if len(set(items)) < len(items):
        raise ValueError(f"{name}: a part is named twice; name each once")
    return tuple(p for p in WEIGHT_PARTS if p in items)


class QuantizedCheckpoint(BaseModel):
    """config.json's quantization_config as read (loading/quantization.py): `stores` = what
    the checkpoint stores, in words; `flags` = the CLI options that cost it; weight_dtype None
    = a method not read here (the workload must name the dtype); weight_group /
    weight_group_bytes: int4 groups (None = not int4); weight_parts: the parts quantised."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    method: str
    stores: str
    flags: str = ""
    weight_dtype: DType | None = None
    weight_group: int | None = Field(default=None, ge=1)
    weight_group_bytes: float | None = Field(default=None, ge=0)
    weight_parts: tuple[WeightPart, ...] = WEIGHT_PARTS
