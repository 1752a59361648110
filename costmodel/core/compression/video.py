"""Video token compression after the projector (pure numpy): per-frame keep and temporal
merging across consecutive frames (methods 'tempmerge' and 'dycoke',
costmodel/specs/compression_methods.py). Formula: docs/methodology.md, "Video token
compression". Units: tokens (counts), FLOPs (2 x MAC), bytes.

A frame is one encoder pass of the video plan (`Points.crops`: a frame for LLaVA-OneVision
and InternVL, a temporal patch of 2 frames for the Qwen families). With N visual tokens over
F frames, n = floor(N / F) tokens per frame and the rest N - F n (OneVision's newline, Qwen3-VL's
specials beyond the even share) untouched:
  k = floor(r n)              tokens a frame keeps (r = keep_ratio, the per-frame keep)
  g = floor(m k)              of them merged into the previous frame's (m = temporal_merge),
                              for frames 2..F
  kept = F k - (F - 1) g + (N - F n)
Operators (per sample, times the batch B; d = the LLM's hidden size, a = activation bytes):
  frame_select (only when r < 1): score against one query 2 F n d (matmul), top-k per frame
    F n log2 n; reads F n d a, writes F k d a.
  similarity, full (tempmerge): (F - 1) x 2 k^2 d matmul FLOPs (every kept token of a frame
    against every kept token of the previous one), cosine norms 3 F k d and the top-g choice
    (F - 1) k log2 k vector FLOPs; reads F k d a, writes the (F - 1) k x k matrices (extra
    memory: one k^2 a matrix live at a time).
  similarity, positional (dycoke, DyCoke's TTM compares same-position tokens): dots
    (F - 1) 2 k d, norms F 2 k d, divisions (F - 1) k, top-g (F - 1) k log2 k, all vector;
    reads F k d a, writes (F - 1) k a.
  merge: each merged token averaged into its match (add + scale: 2 d FLOPs): (F - 1) g 2 d;
    reads F k d a, writes kept x d a (the compacted tokens).
"""

from __future__ import annotations

import numpy as np

from costmodel.core.compression.opbuild import masked, op
from costmodel.core.inputs import Points, Precision
from costmodel.core.ops import Arr, Op
from costmodel.specs.compression import Compression

EPS = 1e-9  # as core/compression/points.py: floor(0.29 x 100) stays 29


def frame_counts(pts: Points, c: Compression) -> dict[str, Arr]:
    """F, n, k, g and kept (see the module docstring), arrays like pts.visual."""
    f = np.asarray(pts.crops, dtype=float) + 0 * np.asarray(pts.visual, dtype=float)
    visual = np.asarray(pts.visual, dtype=float) + 0 * f
    some = f > 0
    n = np.where(some, np.floor(visual / np.where(some, f, 1.0) + EPS), 0.0)
    k = np.floor(float(c.keep_ratio if c.keep_ratio is not None else 1.0) * n + EPS)
    g = np.floor(float(c.temporal_merge or 0.0) * k + EPS)
    pairs = np.maximum(f - 1.0, 0.0)
    kept = f * k - pairs * g + (visual - f * n)
    return {"frames": f, "n": n, "k": k, "g": g, "pairs": pairs, "kept": kept}


def video_kept(pts: Points, c: Compression) -> Arr:
    """Visual tokens after the video stage."""
    return frame_counts(pts, c)["kept"]


def _log2(x: Arr) -> Arr:
    return np.log2(np.maximum(x, 2.0))


def video_ops(pts: Points, c: Compression, d: int, p: Precision) -> list[Op]:
    """The stage's operators (names compress/<method>_frame_select, _similarity, _merge)."""

    q = frame_counts(pts, c)
    b, a, kind = pts.batch, p.act_bytes_per_element, c.kind
    f, n, k, g, pairs = q["frames"], q["n"], q["k"], q["g"], q["pairs"]
    ops: list[Op] = []
    if float(c.keep_ratio if c.keep_ratio is not None else 1.0) < 1.0:
        ops.append(op(f"compress/{kind}_frame_select", "projector", "linear",
                      b * 2 * f * n * d, b * f * n * _log2(n), b * f * n * d * a,
                      b * f * k * d * a))
    choose = pairs * k * _log2(k)
    if kind == "dycoke":
        sim = op("compress/dycoke_similarity", "projector", "elementwise", 0.0 * k,
                 b * (pairs * 2 * k * d + f * 2 * k * d + pairs * k + choose),
                 b * f * k * d * a, b * pairs * k * a)
    else:
        sim = op(f"compress/{kind}_similarity", "projector", "linear",
                 b * pairs * 2 * k * k * d, b * (3 * f * k * d + choose),
                 b * f * k * d * a, b * pairs * k * k * a)
    merge = op(f"compress/{kind}_merge", "projector", "elementwise", 0.0 * k,
               b * pairs * g * 2 * d, b * f * k * d * a, b * q["kept"] * d * a)
    on = (pairs > 0) & (g > 0)
    return ops + [masked(sim, on), masked(merge, on)]
