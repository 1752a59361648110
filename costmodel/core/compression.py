"""Token compression applied to evaluation points (`compress_points`: what every later
operator sees) and each method's own operators (`overhead_ops`: select, cluster, merge, fastv,
tome), per sample and multiplied by the batch (and by encoder passes for ToMe).
Formula: docs/methodology.md, section "Token compression".
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from costmodel.core.inputs import Points, Precision
from costmodel.core.ops import SOFTMAX_FLOPS, Arr, Op
from costmodel.core.stages import vit_seq
from costmodel.errors import CostmodelError
from costmodel.specs.compression import Compression
from costmodel.specs.model import ModelSpec

_EPS = 1e-9  # keeps floor(0.29 * 100) at 29 despite binary rounding


def kept(comp: Compression, n: Arr) -> Arr:
    """Visual tokens kept out of n."""
    n = np.asarray(n, dtype=float)
    if comp.keep_tokens is not None:
        return np.minimum(float(comp.keep_tokens), n)
    return np.floor(float(comp.keep_ratio or 0.0) * n + _EPS)


def tome_r(spec: ModelSpec, pts: Points, comp: Compression) -> Arr:
    """Tokens merged per ViT layer: given, or floor(patches * (1 - keep_ratio) / layers)."""
    v = spec.vision
    assert v is not None
    if comp.merge_per_layer is not None:
        return np.zeros_like(pts.seq_per_crop, dtype=float) + comp.merge_per_layer
    patches = pts.seq_per_crop - int(v.cls_token)
    return np.floor(patches * (1.0 - float(comp.keep_ratio or 0.0)) / v.executed_layers + _EPS)


def compress_points(spec: ModelSpec, pts: Points, comp: Compression | None) -> Points:
    """The points every operator after the compression sees (see module docstring)."""
    if comp is None:
        return pts
    if comp.where == "projector":
        return replace(pts, visual=kept(comp, pts.visual))
    if comp.where == "llm_layer":
        k, n_layers = int(comp.layer or 0), spec.llm.num_layers
        if k >= n_layers:
            raise CostmodelError(f"compression.layer: K={k} must be below the LLM's "
                                 f"{n_layers} layers")
        late = pts.text + kept(comp, pts.visual)
        return replace(pts, layer_prompt=((0, k, pts.prompt), (k, n_layers, late)))
    v = spec.vision
    if v is None or spec.projector is None:
        raise CostmodelError("compression.where: 'vit' needs a vision encoder; this model has none")
    if spec.projector.merge_size != 1:
        raise CostmodelError("compression.where: ToMe in the ViT is not modelled for "
                             "patch-merger projectors (e.g. Qwen2-VL); use projector or llm_layer")
    merged = replace(pts, vit_merge=tome_r(spec, pts, comp))
    cls = int(v.cls_token)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(pts.seq_per_crop > cls,
                         (vit_seq(v, merged, v.executed_layers) - cls)
                         / np.maximum(pts.seq_per_crop - cls, 1.0), 1.0)
    return replace(merged, projector_rows=np.floor(pts.projector_rows * share + _EPS),
                   visual=np.floor(pts.visual * share + _EPS))


def _op(name: str, stage: str, op_class: str, mm: Arr, vec: Arr, read: Arr, write: Arr,
        kv_read: Arr | float = 0.0) -> Op:
    z = np.zeros_like(np.asarray(mm, dtype=float))
    return Op(name=name, stage=stage, op_class=op_class,  # type: ignore[arg-type]
              matmul_flops=mm + z, vector_flops=vec + z, useful_flops=mm + vec + z,
              weight_bytes=z, act_read_bytes=read + z, act_write_bytes=write + z,
              kv_read_bytes=kv_read + z)


def _log2(n: Arr) -> Arr:
    return np.log2(np.maximum(n, 2.0))


def overhead_ops(spec: ModelSpec, pts: Points, comp: Compression | None,
                 p: Precision) -> list[Op]:
    """The method's own operators for uncompressed points `pts` (empty if none / disabled)."""
    if comp is None or not comp.overhead:
        return []
    b, n, a = pts.batch, pts.visual, p.act
    k = kept(comp, n)
    if comp.where == "projector":
        d = spec.llm.hidden_size
        if comp.kind == "cluster":
            it = comp.cluster_iters
            return [_op("compress/cluster", "projector", "linear", b * it * 2 * n * k * d,
                        b * it * (n * k + n * d), b * it * (n + k) * d * a, b * it * k * d * a)]
        if comp.kind == "merge":
            half = n / 2.0
            return [_op("compress/merge", "projector", "linear", b * 2 * half * half * d,
                        b * (half * half + n * d), b * n * d * a, b * k * d * a)]
        return [_op("compress/select", "projector", "linear", b * 2 * n * d, b * n * _log2(n),
                    b * n * d * a, b * k * d * a)]
    if comp.where == "llm_layer":
        m = spec.llm
        prompt = pts.prompt
        hs = m.num_heads * prompt
        return [_op("compress/fastv_scores", "prefill", "attention",
                    b * 2 * m.head_dim * hs, b * ((SOFTMAX_FLOPS + 1) * hs + n * _log2(n)),
                    b * (m.q_dim + prompt * m.hidden_size) * a,
                    b * (pts.text + k) * m.hidden_size * a,
                    kv_read=b * prompt * m.kv_dim * p.kv)]
    return [_tome_op(spec, compress_points(spec, pts, comp), p)]


def _tome_op(spec: ModelSpec, merged: Points, p: Precision) -> Op:
    """Bipartite matching in every executed ViT layer, summed into one operator."""
    v = spec.vision
    assert v is not None
    seqs, d = merged.batch * merged.crops, v.hidden_size
    mm = vec = rd = wr = np.zeros_like(merged.seq_per_crop, dtype=float)
    for i in range(v.executed_layers):
        s, s_next = vit_seq(v, merged, i), vit_seq(v, merged, i + 1)
        half = s / 2.0
        mm = mm + seqs * 2 * half * half * d
        vec = vec + seqs * (half * half + s * d)
        rd = rd + seqs * s * d * p.act
        wr = wr + seqs * s_next * d * p.act
    return _op("compress/tome_match", "vision", "linear", mm, vec, rd, wr)
