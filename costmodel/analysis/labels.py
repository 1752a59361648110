"""Short texts that describe a workload (its dtypes, its compression): columns of the CSV
tables (`compare-compression --format csv`, `costmodel.compare_compression(...).frame()`) and
pieces of the figure titles (cli/captions.py)."""

from __future__ import annotations

from typing import Any


def weight_text(w: Any, engine_format: Any = None) -> str:
    """The weight dtype, with its int4 group when the workload or the engine (its int4_format)
    sets one: 'int4 (g32, 4 B/group)'."""
    if w.weights.value != "int4" or not (w.custom_weight_group or engine_format):
        return str(w.weights.value)
    group, nbytes = w.int4_group(engine_format)
    return f"{w.weights.value} (g{group}, {nbytes:g} B/group)"


def dtype_text(w: Any) -> str:
    """'bf16' when weights, activations and KV cache agree, else each named."""
    act = w.act_dtype.value
    weight = weight_text(w)
    kv = (w.kv_dtype or w.act_dtype).value
    if weight == act == kv:
        return act
    return f"weights {weight}, activations {act}, KV {kv}"


def compression_text(w: Any) -> str:
    """The workload's compression label, 'none' without one."""
    return w.compression.label if w.compression is not None else "none"
