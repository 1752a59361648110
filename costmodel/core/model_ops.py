"""A model's operators per stage, by its architecture: decoder-only VLMs and LLMs
(core/stages.py) or cross-attention VLMs such as Llama-3.2-Vision (core/cross_attention.py).
Every caller (the conventions, the torch cross-check) goes through here, so neither module
imports the other's dispatch (cross_attention builds on stages)."""

from __future__ import annotations

from costmodel.core import cross_attention, stages
from costmodel.core.inputs import Points, Precision
from costmodel.core.ops import Arr, Op
from costmodel.specs.model import ModelSpec


def stage_ops(spec: ModelSpec, pts: Points, p: Precision, flash: bool,
              all_logits: bool = False) -> dict[str, list[Op]]:
    """Operators of the three pre-decode stages (vision, projector, prefill)."""
    if spec.cross_vision is not None:
        return cross_attention.stage_ops(spec, pts, p, flash, all_logits)
    return stages.stage_ops(spec, pts, p, flash, all_logits)


def decode_ops(spec: ModelSpec, pts: Points, step: Arr | float, p: Precision,
               flash: bool) -> list[Op]:
    """Operators of decode step `step` (0-based)."""
    if spec.cross_vision is not None:
        return cross_attention.decode_ops(spec, pts, step, p, flash)
    return stages.decode_ops(spec, pts, step, p, flash)
