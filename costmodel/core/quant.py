"""Quantisation: weight bytes per element with their scales (int4: group_bytes of scale, and
zero where the format stores one, per group of `group` weights; default one fp16 scale per
INT4_GROUP weights), and the dequantisation work of weight-only formats (DEQUANT_FLOPS vector
FLOPs per weight element each time a linear reads it; widened in registers, no extra bytes).
Formula: docs/methodology.md, section "Quantisation".
"""

from __future__ import annotations

from costmodel.core.inputs import Precision
from costmodel.core.ops import Op
from costmodel.units import INT4_GROUP, SCALE_BYTES, DType

# The default int4 group and its bytes (INT4_GROUP, SCALE_BYTES) live in costmodel/units.py,
# where the workload spec (a lower layer) reads them too.

# Vector FLOPs per weight element to widen it to the activation dtype (convention): int4 =
# unpack (shift/mask) + convert (with zero-point subtract) + scale multiply; int8 and fp8 =
# convert + scale multiply.
DEQUANT_FLOPS = {DType.int4: 3.0, DType.int8: 2.0, DType.fp8: 2.0}


def weight_bytes_per_element(weight: DType, act: DType, group: int = INT4_GROUP,
                             group_bytes: float = SCALE_BYTES) -> float:
    """Stored bytes per weight element including group-wise scales: int4 = 0.5 +
    group_bytes / group (bytes per weight; default 0.5 + 2/128); other dtypes their width
    (per-channel scales are negligible and not counted)."""
    extra = group_bytes / group if weight is DType.int4 else 0.0
    return weight.bytes_per_element + extra


def dequant_flops_per_element(weight: DType, act: DType) -> float:
    """Vector FLOPs per weight element read; 0 unless weights are narrower than activations."""
    if weight.bytes_per_element >= act.bytes_per_element:
        return 0.0
    return DEQUANT_FLOPS.get(weight, 0.0)


def weight_part(op: Op) -> str:
    """The weight part (specs/quantization.py) an operator's weights belong to: 'vision' for
    the vision and projector stages, 'lm_head' and 'embed' by op class, else 'layers'."""
    if op.stage in ("vision", "projector"):
        return "vision"
    return {"lm_head": "lm_head", "embedding": "embed"}.get(op.op_class, "layers")


def with_dequant(ops: list[Op], p: Precision) -> list[Op]:
    """Add the op's part's dequant FLOPs x (weight elements read) vector FLOPs to every linear
    / lm_head operator that reads weights. Elements = weight_bytes of the op / its part's bytes
    per element (scales included in both, so the count is exact; biases count as weights).
    The work is fused into the operator: no new operator, no extra bytes."""
    if not p.dequant_flops and not any(dq for _, _, dq in p.parts):
        return ops
    out = []
    for op in ops:
        q = p.part(weight_part(op))
        if op.op_class in ("linear", "lm_head") and q.dequant_flops:
            extra = op.weight_bytes / q.weight_bytes_per_element * q.dequant_flops
            op = Op(**{**op.__dict__, "vector_flops": op.vector_flops + extra,
                       "useful_flops": op.useful_flops + extra})
        out.append(op)
    return out
