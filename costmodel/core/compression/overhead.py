"""Each compression method's own operators (`overhead_ops`), per sample and multiplied by the
batch (and by encoder passes in the ViT): scores, similarity, clustering, merging, the eager
attention a scoring layer needs, and the KV-cache eviction. The method library's records are
in costmodel/specs/compression_methods.py.
Formula: docs/methodology.md, section "Token compression", "Method library".
"""

from __future__ import annotations

import numpy as np

from costmodel.core.compression.kv import kv_evict_ops
from costmodel.core.compression.opbuild import masked, op
from costmodel.core.compression.points import apply_stage, kept, llm_stages
from costmodel.core.compression.video import video_ops
from costmodel.core.inputs import Points, Precision
from costmodel.core.ops import SOFTMAX_FLOPS, Arr, AttnShape, Op, attention
from costmodel.core.stages import layer_groups, vit_seq
from costmodel.specs.compression import AnyCompression, Compression, as_plan
from costmodel.specs.model import ModelSpec


def log2(n: Arr) -> Arr:
    return np.log2(np.maximum(n, 2.0))


def eager_extra(name: str, stage: str, shape: AttnShape, a: float, kv: float) -> Op:
    """What one attention layer costs eager beyond FlashAttention: the score matrix
    [seqs, heads, q, k] written by QK^T, read and written by softmax, read by PV, and the masked
    causal triangle computed (core/ops.attention, both ways, subtracted)."""
    e, f = attention("x", stage, shape, a, kv, False), attention("x", stage, shape, a, kv, True)

    def d(field: str) -> Arr:
        return sum(getattr(o, field) for o in e) - sum(getattr(o, field) for o in f)

    z = np.zeros_like(np.asarray(d("matmul_flops"), dtype=float))
    return Op(name=name, stage=stage, op_class="attention", matmul_flops=d("matmul_flops"),
              vector_flops=d("vector_flops"), useful_flops=z, weight_bytes=z,
              act_read_bytes=d("act_read_bytes"), act_write_bytes=d("act_write_bytes"),
              kv_read_bytes=d("kv_read_bytes"))


def _projector(spec: ModelSpec, pts: Points, c: Compression, p: Precision) -> list[Op]:
    b, n, a, d = pts.batch, pts.visual, p.act_bytes_per_element, spec.llm.hidden_size
    if c.is_video:  # per-frame keep and temporal merge: core/compression/video.py
        return video_ops(pts, c, d, p)
    k = kept(c, n)
    if c.kind == "cluster":
        it = c.cluster_iters
        return [op("compress/cluster", "projector", "linear", b * it * 2 * n * k * d,
                   b * it * (n * k + n * d), b * it * (n + k) * d * a, b * it * k * d * a)]
    if c.kind == "merge":
        half = n / 2.0
        return [op("compress/merge", "projector", "linear", b * 2 * half * half * d,
                   b * (half * half + n * d), b * n * d * a, b * k * d * a)]
    if c.kind == "divprune":
        return [op("compress/divprune_similarity", "projector", "linear", b * 2 * n * n * d,
                   b * 3 * n * d, b * n * d * a, b * n * n * a),
                op("compress/divprune_select", "projector", "elementwise", 0.0 * n,
                   b * 2 * k * n, b * (k * n * a + n * d * a), b * k * d * a)]
    return [op("compress/select", "projector", "linear", b * 2 * n * d, b * n * log2(n),
               b * n * d * a, b * k * d * a)]


def _vit_eager(spec: ModelSpec, pts: Points, p: Precision) -> Op:
    """The last executed ViT layer runs eager to give its [CLS] attention row."""
    v = spec.vision
    assert v is not None
    seq = vit_seq(v, pts, v.executed_layers - 1)
    shape = AttnShape(seqs=pts.batch * pts.crops, q=seq, k=seq, heads=v.num_heads,
                      kv_heads=v.num_heads, head_dim=v.head_dim, causal=False,
                      kv_from_cache=False)
    return eager_extra("compress/eager_attn_vit", "vision", shape, p.act_bytes_per_element,
                       p.act_bytes_per_element)


def _encoder(spec: ModelSpec, pts: Points, c: Compression, p: Precision,
             flash: bool) -> list[Op]:
    v = spec.vision
    assert v is not None
    seqs, s, d, a = pts.batch * pts.crops, pts.seq_per_crop, v.hidden_size, p.act_bytes_per_element
    k = kept(c, pts.visual)
    hs = v.num_heads * s
    cls_row = op(f"compress/{c.kind}_cls_scores", "vision", "elementwise", 0.0 * s,
                 seqs * (hs + s * log2(s)), seqs * hs * a, seqs * s * a)
    if c.kind == "visionzip":
        ctx = np.round(k * 10.0 / 64.0)
        rest = np.maximum(s - 1 - (k - ctx), 0.0)
        merge = op("compress/visionzip_contextual", "vision", "linear",
                   seqs * 2 * np.maximum(rest - ctx, 0.0) * ctx * d,
                   seqs * (rest * ctx + rest * d), seqs * rest * d * a,
                   seqs * (ctx * d + np.maximum(rest - ctx, 0.0) * ctx) * a)
    else:  # prumerge: each kept token merges its 32 nearest keys
        merge = op("compress/prumerge_merge", "vision", "linear", seqs * 2 * k * s * d,
                   seqs * (k * s * log2(s) + 2 * k * 32 * d), seqs * s * d * a,
                   seqs * (k * s + k * d) * a)
    ops = [cls_row, merge]
    return ops + ([_vit_eager(spec, pts, p)] if c.eager and flash else [])


def _llm_score(spec: ModelSpec, pts: Points, c: Compression, lo: int, n: Arr, k: Arr,
               p: Precision) -> Op:
    """One pruning stage's ranking: n visual tokens in, k kept."""
    m, b, a = spec.llm, pts.batch, p.act_bytes_per_element
    prompt, name = pts.text + n, f"compress/{c.kind}_scores"
    if c.schedule is not None or c.layer is None:
        name += f"@L{lo}"
    if c.kind == "pyramiddrop":  # last instruction token over the image keys only
        hs = m.num_heads * n
        return op(name, "prefill", "attention", b * 2 * m.head_dim * hs,
                  b * ((SOFTMAX_FLOPS + 1) * hs + n * log2(n)), b * (m.q_dim + prompt * m.hidden_size) * a,
                  b * (pts.text + k) * m.hidden_size * a, kv_read=b * n * m.kv_dim * p.kv_bytes_per_element)
    if c.kind == "sparsevlm":  # text raters' rows of the eager attention map
        hs = m.num_heads * pts.text * n
        return op(name, "prefill", "attention", 0.0 * hs, b * (hs + n * log2(n)),
                  b * (hs * a + prompt * m.hidden_size * a), b * (pts.text + k) * m.hidden_size * a)
    hs = m.num_heads * prompt  # fastv: last token over every prompt key
    return op(name, "prefill", "attention", b * 2 * m.head_dim * hs,
              b * ((SOFTMAX_FLOPS + 1) * hs + n * log2(n)),
              b * (m.q_dim + prompt * m.hidden_size) * a, b * (pts.text + k) * m.hidden_size * a,
              kv_read=b * prompt * m.kv_dim * p.kv_bytes_per_element)


def _llm(spec: ModelSpec, pts: Points, after: Points, c: Compression, p: Precision,
         flash: bool) -> list[Op]:
    """Per stage: the ranking (and the eager layer before it when the method needs one); a
    stage keeping a ratio of 1 is no stage."""
    m, ops = spec.llm, []
    ratios = [r for _, r, _ in c.llm_stages(m.num_layers)]
    for (lo, n, k), r in zip(llm_stages(spec, pts, c), ratios, strict=True):
        if r is not None and r >= 1.0:
            continue
        on = k < n
        ops.append(masked(_llm_score(spec, pts, c, lo, n, k, p), on))
        if c.eager and flash and lo >= 1:
            seen = next(s for g, h, s in layer_groups(m, after) if g <= lo - 1 < h)
            shape = AttnShape(seqs=pts.batch, q=seen, k=seen, heads=m.num_heads,
                              kv_heads=m.num_kv_heads, head_dim=m.head_dim, causal=True,
                              kv_from_cache=True)
            ops.append(masked(eager_extra(f"compress/eager_attn@L{lo - 1}", "prefill", shape,
                                          p.act_bytes_per_element, p.kv_bytes_per_element), on))
    return ops


def _vit(spec: ModelSpec, merged: Points, c: Compression, p: Precision) -> Op:
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
        rd = rd + seqs * s * d * p.act_bytes_per_element
        wr = wr + seqs * s_next * d * p.act_bytes_per_element
    name = "compress/tome_match" if c.kind == "tome" else f"compress/{c.kind}_match"
    return op(name, "vision", "linear", mm, vec, rd, wr)


def stage_overhead(spec: ModelSpec, pts: Points, after: Points, c: Compression, p: Precision,
                   flash: bool) -> list[Op]:
    """One stage's operators, for the points entering it (`pts`) and leaving it (`after`)."""
    if c.where == "projector":
        return _projector(spec, pts, c, p)
    if c.where == "encoder":
        return _encoder(spec, pts, c, p, flash)
    if c.where == "llm_layer":
        return _llm(spec, pts, after, c, p, flash)
    return [_vit(spec, after, c, p)]


def overhead_ops(spec: ModelSpec, pts: Points, comp: AnyCompression | None, p: Precision,
                 flash: bool = True) -> list[Op]:
    """The methods' own operators for uncompressed points `pts` (empty if none / disabled).
    flash: the workload's attention kernel (an eager scoring layer costs extra only under
    FlashAttention)."""
    plan = as_plan(comp)
    if plan is None:
        return []
    ops: list[Op] = []
    for c in plan.ordered:
        after = apply_stage(spec, pts, c)
        if c.overhead:
            ops += stage_overhead(spec, pts, after, c, p, flash)
        pts = after
    if plan.kv is not None and plan.kv.overhead:
        ops += kv_evict_ops(spec.llm, pts, plan.kv, p)
    return ops
