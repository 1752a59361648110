"""Caps on the keys a decode step reads: the rolling KV cache (StreamingLLM's sink + window
kept during decode, `Points.kv_cap`) and sparse decode attention (TidalDecode, `Points.sparse`),
on top of a layer's sliding window. Each cap makes a layer's keys min(cached + 1 + step, C),
piecewise affine in the step with a knee at step C - cached - 1 (`decode_knees`), which the
exact decode sum (core/decode_sum.py) splits at.

Sources: StreamingLLM (Xiao et al., arXiv 2309.17453, section 3.2: attention sinks + a rolling
KV cache of the most recent tokens); TidalDecode (Yang et al., arXiv 2410.05076: a few token
selection layers run full attention and pick the top-k positions; the other layers attend to
those k tokens only). Formulas: docs/methodology.md, "Exact decode sum, rolling KV cache and
sparse decode attention".
"""

from __future__ import annotations

import numpy as np

from costmodel.core.inputs import Points, Precision, SparseDecode
from costmodel.core.ops import Arr, Op
from costmodel.specs.model import LLMSpec

INDEX_BYTES = 4.0  # int32 positions written by the top-k


def _cap(pts: Points, i: int) -> Arr | None:
    return None if pts.kv_cap is None else pts.kv_cap[i]


def context(s: Arr, step: Arr | float, cap: Arr | None) -> Arr:
    """Keys a decode step holds (new token included): s + 1 + step, at most the rolling cap."""
    k = s + 1.0 + step
    return k if cap is None else np.minimum(k, cap)


def _split(lo: int, hi: int, sp: SparseDecode | None) -> list[tuple[int, int, bool]]:
    """Layers lo..hi-1 as runs of (full attention, or sparse)."""
    runs: list[tuple[int, int, bool]] = []
    for i in range(lo, hi):
        full = sp is None or sp.full(i)
        if runs and runs[-1][2] == full:
            runs[-1] = (runs[-1][0], i + 1, full)
        else:
            runs.append((i, i + 1, full))
    return runs


def decode_groups(groups: tuple[tuple[int, int, Arr], ...], pts: Points,
                  step: Arr | float) -> list[tuple[int, int, Arr, Arr]]:
    """(lo, hi, q = 1, keys) per layer range at decode step `step`; groups: kv_groups.
    Sparse layers read min(keys, top_k) (the window, if any, caps after: llm_layer_ops)."""
    out = []
    for i, (lo, hi, s) in enumerate(groups):
        k = context(s, step, _cap(pts, i))
        for a, b, full in _split(lo, hi, pts.sparse):
            keys = k if full or pts.sparse is None else np.minimum(k, pts.sparse.top_k)
            out.append((a, b, s * 0 + 1.0, keys))
    return out


def decode_knees(m: LLMSpec, groups: tuple[tuple[int, int, Arr], ...], pts: Points) -> list[Arr]:
    """Steps t = C - cached - 1 after which a min() in a layer's keys switches (C: a window,
    the rolling cap, the top-k), per group: the keys are affine in the step up to t and
    constant after (the top-k op switches on after t)."""
    knees = []
    for i, (lo, hi, s) in enumerate(groups):
        caps: list[Arr | float] = [float(w) for _, _, w in m.attn_runs(lo, hi) if w is not None]
        cap = _cap(pts, i)
        caps += [] if cap is None else [cap]
        caps += [] if pts.sparse is None else [pts.sparse.top_k]
        knees += [c - s - 1.0 for c in caps]
    return knees


def topk_ops(m: LLMSpec, groups: tuple[tuple[int, int, Arr], ...], pts: Points,
             step: Arr | float, p: Precision) -> list[Op]:
    """TidalDecode's selection in each `select` layer: a top-k over the heads x n attention
    scores of the new token (n = the layer's keys, window included), when n > k: n log2 k
    comparisons per head (a heap), the scores read once, k int32 positions written.
    One operator per selection layer (vector work, op_class attention)."""
    sp = pts.sparse
    if sp is None:
        return []
    ops = []
    for i, (lo, hi, s) in enumerate(groups):
        k = context(s, step, _cap(pts, i))
        for layer in (x for x in sp.select if lo <= x < hi):
            w = m.window(layer)
            n = k if w is None else np.minimum(k, float(w))
            on = np.where(n > sp.top_k, 1.0, 0.0) * pts.batch
            scores = on * m.num_heads * n
            vec = scores * np.log2(max(sp.top_k, 2.0))
            ops.append(Op(name=f"llm/L{layer}/attn/topk", stage="decode", op_class="attention",
                          matmul_flops=0.0 * vec, vector_flops=vec, useful_flops=vec,
                          weight_bytes=0.0 * vec, act_read_bytes=scores * p.act_bytes_per_element,
                          act_write_bytes=on * m.num_heads * sp.top_k * INDEX_BYTES,
                          first_layer=layer))
    return ops
