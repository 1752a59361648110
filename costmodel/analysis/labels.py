"""Short texts that describe a workload (its dtypes, its compression): columns of the CSV
tables (`compare-compression --format csv`, `costmodel.compare_compression(...).frame()`) and
pieces of the figure titles (cli/captions.py)."""

from __future__ import annotations

from typing import Any

PART_TEXT = {"vision": "vision", "layers": "LLM layers", "lm_head": "lm_head", "embed": "embed"}


def weight_text(w: Any, spec: Any, engine_format: Any = None) -> str:
    """The weight dtype, with its int4 group when the workload or the engine (its int4_format)
    sets one, and the parts it applies to when not all the model `spec` has (ModelSpec.
    weight_part_ids: no vision part without a vision encoder): 'int4 (g32, 4 B/group)',
    'int4 (g128, 2.5 B/group) on the LLM layers (vision, lm_head, embed bf16)'."""
    text = str(w.weights.value)
    if text == "int4" and (w.custom_weight_group or engine_format):
        group, nbytes = w.int4_group(engine_format)
        text = f"int4 (g{group}, {nbytes:g} B/group)"
    has = spec.weight_part_ids
    rest = [p for p in has if p not in w.parts]
    if not rest or w.weights is w.act_dtype:
        return text
    return (f"{text} on the {', '.join(PART_TEXT[p] for p in has if p in w.parts)} "
            f"({', '.join(PART_TEXT[p] for p in rest)} {w.act_dtype.value})")


def dtype_text(w: Any, spec: Any) -> str:
    """'bf16' when weights, activations and KV cache agree, else each named (the weights'
    parts as the model `spec` has them: weight_text)."""
    act = w.act_dtype.value
    weight = weight_text(w, spec)
    kv = (w.kv_dtype or w.act_dtype).value
    if weight == act == kv:
        return act
    return f"weights {weight}, activations {act}, KV {kv}"


def compression_text(w: Any) -> str:
    """The workload's compression label, 'none' without one."""
    return w.compression.label if w.compression is not None else "none"
