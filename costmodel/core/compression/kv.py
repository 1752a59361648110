"""KV-cache compression after prefill: per-layer budgets (uniform, pyramid, sink + window,
retrieval heads) and the eviction's own operator; the rolling cap of sink_window:rolling
(Points.kv_cap) and TidalDecode's sparse decode setting (Points.sparse, core/decode_caps.py).
The footprint and decode follow through Points.layer_kv (core/metrics.kv_cache_bytes and
core/stages.decode_ops read it via stages.kv_groups).
Formula: docs/methodology.md, section "Token compression", "KV-cache compression".
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from costmodel.core.inputs import Points, Precision, SparseDecode
from costmodel.core.ops import SOFTMAX_FLOPS, Arr, Op
from costmodel.core.stages import layer_groups
from costmodel.errors import CostmodelError
from costmodel.specs.compression import (
    SPARSE_DENSE,
    SPARSE_SELECT,
    CompressionPlan,
    KVCompression,
)
from costmodel.specs.model import LLMSpec

_EPS = 1e-9


def _mean_budget(kv: KVCompression, n: Arr) -> Arr:
    """M: floor(ratio x n) or min(budget, n) prompt tokens per layer."""
    if kv.keep_tokens is not None:
        return np.minimum(float(kv.keep_tokens), n)
    return np.floor(float(kv.keep_ratio or 0.0) * n + _EPS)


def retrieval_split(m: LLMSpec, kv: KVCompression, n: Arr) -> tuple[int, Arr]:
    """RazorAttention (Tang et al., arXiv 2407.15891, Algorithm 1): (R, t). R = ceil(share x
    KV heads) retrieval heads keep all n tokens; each other head keeps t = sink + M recent
    + 1 compensation token when that drops something (sink + M < n), else all n."""
    r = min(m.num_kv_heads, math.ceil(kv.retrieval_heads * m.num_kv_heads - _EPS))
    keep = float(kv.sink_tokens) + _mean_budget(kv, n)
    return r, np.where(keep < n, keep + 1.0, n)


def layer_budget(kv: KVCompression, n: Arr, layer: int, layers: int,
                 m: LLMSpec | None = None) -> Arr:
    """Prompt tokens layer `layer` keeps out of its n (a mean over its KV heads). uniform /
    sink_window: M. pyramid (PyramidKV): bottom = min(n, 2M - M/beta), top = 2M - bottom,
    linear in the layer index. retrieval_heads: (R n + (H - R) t) / H over H KV heads
    (retrieval_split): bytes and FLOPs are linear in each head's tokens, so the mean is exact."""
    if kv.policy == "retrieval_heads":
        assert m is not None, "retrieval_heads budgets depend on the model's KV heads"
        r, t = retrieval_split(m, kv, n)
        return (r * n + (m.num_kv_heads - r) * t) / m.num_kv_heads
    m_ = _mean_budget(kv, n)
    if kv.policy != "pyramid" or layers == 1:
        return m_
    bottom = np.minimum(n, 2.0 * m_ - m_ / kv.beta)
    top = 2.0 * m_ - bottom
    return np.floor(bottom + (top - bottom) * layer / (layers - 1) + _EPS)


def _per_layer(m: LLMSpec, pts: Points) -> list[Arr]:
    """Prompt tokens each layer saw (layer_groups expanded to one entry per layer)."""
    out: list[Arr] = []
    for lo, hi, s in layer_groups(m, pts):
        out += [s] * (hi - lo)
    return out


def kv_layer_groups(m: LLMSpec, pts: Points, kv: KVCompression) -> tuple[tuple[int, int, Arr], ...]:
    """(first layer, end layer, prompt tokens kept in the cache) after eviction."""
    if kv.policy != "pyramid":
        return tuple((lo, hi, layer_budget(kv, s, lo, m.num_layers, m))
                     for lo, hi, s in layer_groups(m, pts))
    seen = _per_layer(m, pts)
    return tuple((i, i + 1, layer_budget(kv, s, i, m.num_layers)) for i, s in enumerate(seen))


def apply_kv(m: LLMSpec, pts: Points, kv: KVCompression) -> Points:
    """The points with their KV budgets (a ratio of 1 keeps every token: no change); with
    during_decode (sink_window) each group's cache is capped at its budget while decoding
    (kv_cap: keep_tokens, or floor(ratio x the prompt tokens the layers saw), at least 1 for
    the new token). A ring of that many slots: evicting during decode moves no bytes."""
    if kv.keep_ratio is not None and kv.keep_ratio >= 1.0:
        return pts
    groups = kv_layer_groups(m, pts, kv)
    if not kv.during_decode:
        return replace(pts, layer_kv=groups)
    seen = layer_groups(m, pts)  # sink_window groups are aligned with what the layers saw
    caps = tuple(np.maximum(_budget_cap(kv, s), 1.0) for _, _, s in seen)
    return replace(pts, layer_kv=groups, kv_cap=caps)


def _budget_cap(kv: KVCompression, n: Arr) -> Arr:
    """The rolling cache's size: the per-layer budget itself (not capped at the prompt)."""
    if kv.keep_tokens is not None:
        return np.zeros_like(np.asarray(n, dtype=float)) + float(kv.keep_tokens)
    return np.floor(float(kv.keep_ratio or 0.0) * n + _EPS)


def apply_sparse(m: LLMSpec, pts: Points, plan: CompressionPlan) -> Points:
    """TidalDecode: Points.sparse with the top-k and the dense / selection layers (the
    paper's SPARSE_DENSE and SPARSE_SELECT that exist in this model unless given)."""
    if plan.sparse_decode is None:
        return pts
    n = m.num_layers
    select = plan.sparse_select or tuple(x for x in SPARSE_SELECT if x < n)
    if select[-1] >= n:
        raise CostmodelError(f"compression.sparse_select (--sparse-decode K:LAYERS): layer "
                             f"{select[-1]} must be below the LLM's {n} layers")
    dense = tuple(x for x in SPARSE_DENSE if x < n)
    return replace(pts, sparse=SparseDecode(float(plan.sparse_decode), dense, select))


def _razor_costs(m: LLMSpec, kv: KVCompression, n: Arr, p: Precision) -> tuple[Arr, Arr, Arr]:
    """(vector FLOPs, KV bytes read, KV bytes written) of RazorAttention's eviction in one
    layer for one sample: in each of the H - R non-retrieval KV heads that drop d = n - sink -
    M tokens, the M recent tokens' K and V move next to the sinks (read and written: 2 M d_h)
    and the compensation token is the mean of the dropped K and V (Tang et al., eq. 4: read
    2 d d_h, 2 d d_h adds + 2 d_h divides, write 2 d_h)."""
    r, t = retrieval_split(m, kv, n)
    heads, dh, by = m.num_kv_heads - r, m.head_dim, p.kv_bytes_per_element
    on = np.where(t < n, float(heads), 0.0)
    recent = np.maximum(t - 1.0 - kv.sink_tokens, 0.0)
    drop = np.maximum(n - t + 1.0, 0.0)
    vec = on * 2.0 * dh * (drop + 1.0)
    return vec, on * 2.0 * dh * by * (recent + drop), on * 2.0 * dh * by * (recent + 1.0)


def _cap(tokens: Arr, window: int | None) -> Arr:
    return tokens if window is None else np.minimum(tokens, float(window))


def kv_evict_ops(m: LLMSpec, pts: Points, kv: KVCompression, p: Precision) -> list[Op]:
    """The eviction, summed over layers into one prefill operator per sample x batch.
    Scoring policies (uniform, pyramid): the last w = min(obs_window, n) queries score the n
    keys of each head (2 w n heads head_dim + (softmax + 1) w n heads), a top-k per head
    (heads n log2 n), reading w queries and the n keys; then the kept b tokens' K and V are
    compacted (read and written: 2 b kv_dim). sink_window: no scoring; the window of
    b - sink tokens is compacted. retrieval_heads: _razor_costs. In a sliding-window layer n
    and b are capped at W."""
    b = pts.batch
    # A sliding-window layer holds at most W tokens to score and keep (LLMSpec.window).
    seen = [_cap(s, m.window(i)) for i, s in enumerate(_per_layer(m, pts))]
    kept = [_cap(s, m.window(i)) for i, s in
            enumerate(s for lo, hi, s in kv_layer_groups(m, pts, kv) for _ in range(hi - lo))]
    if kv.keep_ratio is not None and kv.keep_ratio >= 1.0:
        return []  # nothing is evicted at any point (every policy keeps all at ratio 1)
    z = np.zeros_like(np.asarray(pts.visual, dtype=float))
    mm = vec = read = kv_r = kv_w = z
    for n, k in zip(seen, kept, strict=True):
        if kv.policy == "retrieval_heads":
            v, r_, w_ = _razor_costs(m, kv, n, p)
            vec, kv_r, kv_w = vec + b * v, kv_r + b * r_, kv_w + b * w_
            continue
        move = 2.0 * (k if kv.policy != "sink_window" else np.maximum(k - kv.sink_tokens, 0.0))
        move = np.where(k < n, move * m.kv_dim * p.kv_bytes_per_element, 0.0)
        kv_r, kv_w = kv_r + b * move, kv_w + b * move
        if kv.policy == "sink_window":
            continue
        w, hs = np.minimum(float(kv.obs_window), n), m.num_heads * n
        on = np.where(k < n, 1.0, 0.0)
        mm = mm + on * b * 2.0 * w * hs * m.head_dim
        vec = vec + on * b * ((SOFTMAX_FLOPS + 1) * w * hs + hs * np.log2(np.maximum(n, 2.0)))
        read = read + on * b * w * m.q_dim * p.act_bytes_per_element
        kv_r = kv_r + on * b * n * m.kv_dim * p.kv_bytes_per_element
    return [Op(name=f"compress/kv_evict_{kv.policy}", stage="prefill", op_class="attention",
               matmul_flops=mm, vector_flops=vec, useful_flops=mm + vec, weight_bytes=z,
               act_read_bytes=read, act_write_bytes=z, kv_read_bytes=kv_r, kv_write_bytes=kv_w)]
