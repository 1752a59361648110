"""Operators specific to InternViT and to pixel-shuffle connectors (pure; no I/O).

InternViT (transformers 5.23.0 `models/internvl/modeling_internvl.py`, `InternVLVisionLayer`,
`InternVLVisionAttention`): each residual branch is scaled per channel by a learned vector
(lambda_1 after attention, lambda_2 after the MLP): one multiply per element, the d-vector read
as a weight; with `use_qk_norm` an RMSNorm over the full width d runs on q and on k.

Pixel shuffle (`InternVLModel.pixel_shuffle`, `Idefics3Connector.pixel_shuffle`): m x m
neighbouring patch features become one row of width d*m^2. It is a reshape: no FLOPs. Both
implementations permute twice and materialise each permute (`.contiguous()` in InternVL,
`reshape` of a permuted view in Idefics3), so the feature map is copied twice: each copy reads
and writes rows x d elements (2 x 2 x rows x d x bytes in all). Modelled as one memory-only
operator (`projector/pixel_shuffle`, op class elementwise, 0 FLOPs).
"""

from __future__ import annotations

from costmodel.core.inputs import Precision
from costmodel.core.ops import Arr, Op, norm, vector_op
from costmodel.specs.model import ProjectorSpec, VisionSpec

MUL_FLOPS = 1.0  # layer scale: one multiply per element
SHUFFLE_COPIES = 2  # materialised permutes per pixel shuffle (see module docstring)


def layer_scale_op(v: VisionSpec, name: str, rows: Arr, p: Precision) -> list[Op]:
    """lambda * branch over rows x d (reads the branch, writes it; lambda is d weights)."""
    if not v.layer_scale:
        return []
    d = v.hidden_size
    return [vector_op(name, "vision", "elementwise", rows * d, MUL_FLOPS, 1.0, p.act_bytes_per_element, d,
                      p.weight_bytes_per_element)]


def vit_qk_norm_ops(v: VisionSpec, pre: str, rows: Arr, p: Precision) -> list[Op]:
    """RMSNorm(d) on q and on k (InternVLVisionAttention with use_qk_norm)."""
    if not v.qk_norm:
        return []
    d = v.hidden_size
    return [norm(f"{pre}/attn/{x}_norm", "vision", rows, d, "rmsnorm", p.weight_bytes_per_element,
                 p.act_bytes_per_element)
            for x in ("q", "k")]


def pixel_shuffle_ops(pj: ProjectorSpec, rows_in: Arr, p: Precision) -> list[Op]:
    """The shuffle (memory only) and, for pixel_shuffle_mlp, the LayerNorm over merged rows."""
    if not pj.kind.startswith("pixel_shuffle"):
        return []
    elems = rows_in * pj.input_dim
    ops = [vector_op("projector/pixel_shuffle", "projector", "elementwise",
                     SHUFFLE_COPIES * elems, 0.0, 1.0, p.act_bytes_per_element)]
    if pj.norm_dim:
        ops.append(norm("projector/norm", "projector", rows_in / pj.merge_size**2, pj.norm_dim,
                        "layernorm", p.weight_bytes_per_element, p.act_bytes_per_element))
    return ops
