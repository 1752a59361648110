"""The workload's weights on this model: what a quantised checkpoint's quantization_config
sets (ModelSpec.quantization, loading/quantization.py) fills the weight fields the workload
leaves unset; the prepare step (analysis/prepare.py) calls `resolve_weights` first, so every
entry point costs and labels the same weights.

Rules (docs/methodology.md, "Quantisation"):
- weight_dtype unset: the checkpoint's dtype (a method whose dtype is not read is refused:
  give --weight-dtype).
- int4 weights whose group the workload does not set: the checkpoint's group and bytes per
  group when its dtype is int4 too, each where the workload leaves it unset (a group it does
  not state, GPTQ's -1, is refused: give --weight-group); otherwise the engine's int4 format,
  as for an unquantised config.
- weight_parts unset: the parts the checkpoint quantises (AWQ / GPTQ: the decoder layers only;
  'vision' only on a model that has a vision encoder); with no quantised checkpoint and weights
  in another dtype than the activations, the engine's weight_parts where it names them
  (llama.cpp: its vision encoder is a 16-bit mmproj file), else every part.
- weight_parts naming 'vision' on a model with no vision encoder is refused.
- weight_group / weight_group_bytes with weights that are not int4 (named, else the
  checkpoint's) are refused; with an int4 checkpoint they need no --weight-dtype.
- weight_parts with every weight in the activation dtype means nothing: refused.
- Tied embeddings (one table for the embedding and the lm_head): the workload names both parts
  or neither (else refused); a checkpoint's lm_head follows its embedding table (stored once).
"""

from __future__ import annotations

from costmodel.errors import CostmodelError
from costmodel.specs.engine import Engine
from costmodel.specs.model import ModelSpec
from costmodel.specs.quantization import QuantizedCheckpoint, WeightPart
from costmodel.specs.workload import Workload
from costmodel.units import DType


def resolve_weights(spec: ModelSpec, w: Workload, engine: Engine | None = None) -> Workload:
    """`w` with the checkpoint's weight dtype, int4 group and parts where it names none (with
    no quantised checkpoint: the engine's weight_parts)."""
    if w.weight_parts is not None and "vision" in w.weight_parts and not spec.is_vlm:
        raise CostmodelError(f"--weight-parts: {spec.name} has no vision encoder; drop "
                             "'vision' from --weight-parts")
    if w.weight_parts is not None and spec.llm.tie_embeddings and _split_tie(w.weight_parts):
        raise CostmodelError(f"--weight-parts: {spec.name} ties its lm_head to the embedding "
                             "table (one matrix); name both lm_head and embed, or neither")
    q = spec.quantization
    _check_group(w, q)
    if w.weight_parts is not None and (w.weight_dtype or (q and q.weight_dtype)) in (
            None, w.act_dtype):
        raise CostmodelError("--weight-parts: every weight is in the activation dtype here; "
                             "give --weight-dtype, or drop --weight-parts")
    if q is None:
        return _engine_parts(spec, w, engine)
    update: dict[str, object] = {}
    if w.weight_dtype is None:
        if q.weight_dtype is None:
            raise CostmodelError(f"--weight-dtype: {spec.name}'s config.json is quantised "
                                 f"({q.stores}); give --weight-dtype (and --weight-group) to "
                                 "cost its weights, or --weight-dtype bf16 for the unquantised "
                                 "model")
        update["weight_dtype"] = q.weight_dtype
    if update.get("weight_dtype", w.weight_dtype) is DType.int4 is q.weight_dtype:
        update.update(_group(spec, q, w))
    if w.weight_parts is None:
        update["weight_parts"] = _on_model(spec, q.weight_parts)
    return w.model_copy(update=update)


def _on_model(spec: ModelSpec, parts: tuple[WeightPart, ...]) -> tuple[WeightPart, ...]:
    """Quantised parts as this model has them: 'vision' only with a vision encoder; a tied
    table named once stays out (it is stored once, as embed)."""
    parts = tuple(p for p in parts if p in spec.weight_part_ids)
    if spec.llm.tie_embeddings and _split_tie(parts):
        parts = tuple(p for p in parts if p != "lm_head")
    return parts


def _engine_parts(spec: ModelSpec, w: Workload, engine: Engine | None) -> Workload:
    """The engine's quantised parts (Engine.weight_parts, as this model has them: _on_model)
    where the workload names none and its weights are in another dtype than its activations;
    `w` as it is (every part) where they cover every part the model has (llama.cpp on a
    text-only model: no 16-bit vision encoder to keep, none to name)."""
    if engine is None or engine.weight_parts is None or w.weight_parts is not None or (
            w.weights is w.act_dtype):
        return w
    parts = _on_model(spec, engine.weight_parts)
    return w.model_copy(update={"weight_parts": parts}) if parts and set(
        spec.weight_part_ids) - set(parts) else w


def _check_group(w: Workload, q: QuantizedCheckpoint | None) -> None:
    """An int4 group with weights that are not int4 (the workload's dtype, else the
    checkpoint's, else the activation dtype): one line."""
    weights = w.weight_dtype or (q.weight_dtype if q else None) or w.act_dtype
    if weights is DType.int4 or not w.custom_weight_group:
        return
    option = "--weight-group" if w.weight_group is not None else "--weight-group-bytes"
    raise CostmodelError(f"{option}: only int4 weights are stored in groups here (weights are "
                         f"{weights.value}); add --weight-dtype int4 or drop {option}")


def _split_tie(parts: tuple[str, ...]) -> bool:
    """One of lm_head and embed named without the other."""
    return ("lm_head" in parts) != ("embed" in parts)


def _group(spec: ModelSpec, q: QuantizedCheckpoint, w: Workload) -> dict[str, object]:
    """The checkpoint's int4 group and bytes per group where the workload sets neither, or
    one line when it needs the group and the config states none the model uses."""
    out: dict[str, object] = {}
    if w.weight_group is None:
        if q.weight_group is None:
            raise CostmodelError(f"--weight-group: {spec.name}'s config.json stores int4 "
                                 f"weights ({q.stores}) without a group size read here; give "
                                 "--weight-dtype int4 --weight-group N --weight-group-bytes B")
        out["weight_group"] = q.weight_group
    if w.weight_group_bytes is None and q.weight_group_bytes is not None:
        out["weight_group_bytes"] = q.weight_group_bytes
    return out
