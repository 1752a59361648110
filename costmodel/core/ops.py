"""The operator record and its constructors.

Conventions (also in docs/methodology.md):
- FLOPs = 2 x multiply-accumulate for matrix products. A linear layer over M rows is
  2*M*in*out FLOPs (+ M*out for a bias add, counted as vector FLOPs).
- Vector (non-matmul) FLOPs per element: RMSNorm 4, LayerNorm 7, SiLU-gate (SwiGLU) 5,
  GELU 8, QuickGELU 5, softmax 5, residual add 1, RoPE 3 (on q and k).
- Bytes are the minimum traffic to and from device memory: each input read once and each
  output written once; weights, activations and KV cache are kept apart.
- Every quantity is per instance (one layer); `count` says how many identical instances run
  (e.g. 32 layers). Values are numpy arrays over evaluation points (token counts, batch sizes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from costmodel.specs.engine import FusedGemm  # the groups an engine may fuse

Arr = np.ndarray
OpClass = Literal[
    "linear", "attention", "norm", "activation", "elementwise", "rope", "embedding", "lm_head",
    "comm", "overhead",
]  # comm: interconnect collectives; overhead: an engine's fixed host time (no FLOPs, no bytes)

# Vector FLOPs per element for the non-matmul operators (see module docstring).
NORM_FLOPS = {"rmsnorm": 4.0, "layernorm": 7.0}
ACT_FLOPS = {"swiglu": 5.0, "gelu": 8.0, "gelu_tanh": 8.0, "quick_gelu": 5.0,
             "geglu": 9.0}  # geglu: GELU-tanh of the gate (8) times up (1)
SOFTMAX_FLOPS = 5.0
ADD_FLOPS = 1.0
ROPE_FLOPS = 3.0


def _z(like: Arr | float) -> Arr:
    return np.zeros_like(np.asarray(like, dtype=float))


def _touched(work: Arr, weight_bytes: float) -> Arr:
    """Weights are read only by an operator that has work to do (0 rows -> 0 bytes)."""
    return np.where(np.asarray(work) > 0, weight_bytes, 0.0)


@dataclass(frozen=True)
class Op:
    """One operator instance. All byte and FLOP fields are arrays over points (or floats)."""

    name: str  # hierarchical, e.g. "llm/L0-31/attn/qk"; "L0-31" = layers 0..31, count 32
    stage: str  # vision | projector | prefill | decode
    op_class: OpClass
    matmul_flops: Arr  # tensor-core FLOPs executed (what torch's FlopCounterMode counts)
    vector_flops: Arr  # elementwise FLOPs (CUDA cores)
    useful_flops: Arr  # FLOPs a causal-aware count needs (== executed unless masked work)
    weight_bytes: Arr
    act_read_bytes: Arr
    act_write_bytes: Arr
    kv_read_bytes: Arr = 0.0  # type: ignore[assignment]  # scalar 0 broadcasts as an Arr
    kv_write_bytes: Arr = 0.0  # type: ignore[assignment]  # scalar 0 broadcasts as an Arr
    count: int = 1
    first_layer: int | None = None  # for names with a layer range
    # Interconnect traffic (op_class "comm", costmodel/core/parallel/tensor.py): bytes each GPU sends over
    # its link, and link latencies paid one after another (ring steps).
    link_bytes: Arr = 0.0  # type: ignore[assignment]  # scalar 0 broadcasts as an Arr
    link_hops: Arr | float = 0.0  # an array in a stack (core/pricing.py)
    attn: AttnShape | None = None  # the call's shape, for fused attention (kernel model)
    # A ViT attention operator over sequences packed into one tensor split by cu_seqlens (the
    # Qwen2-VL family, VisionSpec.packed_sequences): how many (per point; 0 = not packed). One
    # varlen call, or one call each on an engine that splits them (core/packed.py).
    packed_seqs: Arr | float = 0.0
    gemm_k: Arr | float = 0.0  # a linear op's input width (reduction length); 0 = not a GEMM
    gemm_n: Arr | float = 0.0  # a linear op's output width; 0 = not a GEMM
    # A fused-GEMM group (fuse_gemms): the group's tag ("qkv", "gate_up"; "" = none) and the
    # output width of the one GEMM an engine that fuses the group runs (Engine.fused_gemms)
    fuse: str = ""
    fused_n: Arr | float = 0.0

    @property
    def flops(self) -> Arr:
        return self.matmul_flops + self.vector_flops

    @property
    def bytes(self) -> Arr:
        return (
            self.weight_bytes
            + self.act_read_bytes
            + self.act_write_bytes
            + self.kv_read_bytes
            + self.kv_write_bytes
        )


# A windowed ViT layer's attention operators are named per window kind:
# "vision/L0-6/attn/win_full/flash" (core/stages.vit_layer_ops); core/packed.py and
# core/masked_windows.py group them by layer through this part of the name.
WINDOW_KIND = "/attn/win_"


def window_layer(op: Op) -> str | None:
    """'vision/L0-6' of a windowed layer's window-kind attention operator ('vision/L0-6/attn/
    win_full/flash', or its eager qk / softmax / pv); None for any other. By name alone: the
    same kinds at every point, so a sweep groups them as one estimate does."""
    if op.op_class != "attention" or WINDOW_KIND not in op.name:
        return None
    return op.name.rsplit(WINDOW_KIND, 1)[0]


def is_packed_attention(op: Op) -> bool:
    """A ViT attention operator over sequences packed by cu_seqlens (Op.packed_seqs): one
    varlen call, or one call per sequence on an engine that splits them (core/packed.py)."""
    return op.op_class == "attention" and bool(np.any(np.asarray(op.packed_seqs) > 0))


def linear(name: str, stage: str, rows: Arr, d_in: int, d_out: int, bias: bool,
           w_bytes: float, a_bytes: float, op_class: OpClass = "linear",
           kv_out: bool = False) -> Op:
    """y[rows, d_out] = x[rows, d_in] @ W[d_in, d_out] (+ b). kv_out: y goes to the KV cache."""
    rows = np.asarray(rows, dtype=float)
    mm = 2.0 * rows * d_in * d_out
    vec = rows * d_out if bias else _z(rows)
    out = rows * d_out * a_bytes
    return Op(
        name=name, stage=stage, op_class=op_class,
        matmul_flops=mm, vector_flops=vec, useful_flops=mm + vec,
        weight_bytes=_touched(rows, (d_in * d_out + (d_out if bias else 0)) * w_bytes),
        act_read_bytes=rows * d_in * a_bytes,
        act_write_bytes=_z(rows) if kv_out else out,
        kv_write_bytes=out if kv_out else _z(rows),
        gemm_k=float(d_in), gemm_n=float(d_out),
    )


def fuse_gemms(tag: FusedGemm, ops: list[Op]) -> list[Op]:
    """Linear ops over the same input (same rows and input width) that an engine may run as
    one GEMM of their summed output width (qkv: the q, k, v projections; gate_up: a gated
    MLP's gate and up projections). The ops keep their names, FLOPs and bytes; the tag and the
    fused width only change their kernel time where the engine fuses the group
    (Engine.fused_gemms; core/efficiency.fused_gemm_time_s)."""
    if len({float(op.gemm_k) for op in ops}) != 1 or any(op.gemm_n <= 0 for op in ops):
        raise ValueError(f"fuse_gemms({tag}): linear ops of one input width only")
    n = float(sum(float(op.gemm_n) for op in ops))
    return [Op(**{**op.__dict__, "fuse": tag, "fused_n": n}) for op in ops]


def vector_op(name: str, stage: str, op_class: OpClass, elements: Arr, flops_per_elem: float,
              reads: float, a_bytes: float, weight_elems: int = 0, w_bytes: float = 0.0) -> Op:
    """An elementwise operator over `elements` outputs reading `reads` inputs per output."""
    elements = np.asarray(elements, dtype=float)
    flops = flops_per_elem * elements
    return Op(
        name=name, stage=stage, op_class=op_class,
        matmul_flops=_z(elements), vector_flops=flops, useful_flops=flops,
        weight_bytes=_touched(elements, weight_elems * w_bytes),
        act_read_bytes=reads * elements * a_bytes,
        act_write_bytes=elements * a_bytes,
    )


def norm(name: str, stage: str, rows: Arr, dim: int, kind: str,
         w_bytes: float, a_bytes: float) -> Op:
    """RMSNorm / LayerNorm over rows x dim; weights are dim (RMS) or 2*dim (LayerNorm)."""
    w_elems = dim if kind == "rmsnorm" else 2 * dim
    return vector_op(name, stage, "norm", np.asarray(rows) * dim, NORM_FLOPS[kind], 1.0,
                     a_bytes, w_elems, w_bytes)


def embedding(name: str, stage: str, rows: Arr, dim: int, w_bytes: float, a_bytes: float) -> Op:
    """Gather `rows` embedding rows: reads only the rows touched, no FLOPs."""
    rows = np.asarray(rows, dtype=float)
    return Op(
        name=name, stage=stage, op_class="embedding",
        matmul_flops=_z(rows), vector_flops=_z(rows), useful_flops=_z(rows),
        weight_bytes=rows * dim * w_bytes, act_read_bytes=_z(rows),
        act_write_bytes=rows * dim * a_bytes,
    )


@dataclass(frozen=True)
class AttnShape:
    """One attention call: `seqs` independent sequences of q queries over k keys.

    causal: queries are the last q of k positions and see only earlier keys.
    kv_from_cache: K and V are read from the KV cache (LLM) rather than activations (ViT).
    window: causal sliding window W (a query sees its last W positions, itself included);
      None = no window. k is the keys the call holds (decode: at most W).
    """

    seqs: Arr
    q: Arr
    k: Arr
    heads: int
    kv_heads: int
    head_dim: int
    causal: bool
    kv_from_cache: bool
    window: float | None = None


def band_scores(n: Arr, window: Arr | float) -> Arr:
    """Scores the first n causal queries need under a window W: sum over positions p < n of
    min(p + 1, W) = m(m+1)/2 + (n - m)W with m = min(n, W); W = inf: no window, n(n+1)/2.
    The one count of causal (banded) scores: ops' attention and efficiency.attention_flops."""
    m = np.minimum(n, window)
    return m * (m + 1) / 2.0 + (n - m) * np.minimum(window, n)  # (n - m) > 0 only where W < n


def attention_io_bytes(seqs: Arr | float, q: Arr | float, k: Arr | float, heads: Arr | float,
                       kv_heads: Arr | float, head_dim: Arr | float, qo_bytes_per_element: Arr | float,
                       kv_bytes_per_element: Arr | float) -> tuple[Arr, Arr]:
    """(Q bytes, K bytes) of one attention call, `seqs` sequences of q queries over k keys:
    Q = seqs x q x heads x head_dim elements, K = seqs x k x kv_heads x head_dim (GQA: the KV
    heads only). A fused (flash) call reads Q and writes O of Q's size and reads K and V once.
    The one count of attention I/O traffic: ops' attention, decode_kernel.decode_kv_bytes and
    efficiency.chunked_attention_time_s."""
    return (seqs * q * heads * head_dim * qo_bytes_per_element,  # type: ignore[return-value]
            seqs * k * kv_heads * head_dim * kv_bytes_per_element)


def _score_counts(s: AttnShape) -> tuple[Arr, Arr]:
    """(executed, useful) score elements per sequence per head.

    Executed is the full q x k rectangle; useful drops the masked upper triangle of a causal
    block: sum over the q queries of the keys each may see = q*k - q*(q-1)/2, and with a
    sliding window also the keys more than W - 1 positions back (band_scores).
    """
    full = s.q * s.k
    if not s.causal:
        return full, full
    if s.window is not None:  # the last q of k positions: band(k) - band(k - q)
        return full, band_scores(s.k, s.window) - band_scores(s.k - s.q, s.window)
    return full, full - s.q * (s.q - 1) / 2.0


@dataclass(frozen=True)
class _AttnCounts:
    """One attention call's work and traffic per instance (arrays over points)."""

    mm_exec: Arr  # QK^T and PV FLOPs executed
    mm_useful: Arr  # ... of them a causal-aware count needs
    sm_exec: Arr  # softmax FLOPs executed
    sm_useful: Arr
    q_bytes: Arr  # Q read (and the output, of Q's size, written)
    k_read: Arr  # K read once (V again): GQA reads kv_heads only
    scores: Arr  # the score matrix [seqs, heads, q, k] once (eager)
    z: Arr  # zeros over the points


def _attn_counts(s: AttnShape, a_bytes: float, kv_bytes: float, flash: bool) -> _AttnCounts:
    """flash: causal blocks skipped (useful scores executed); eager: the full q x k rectangle
    computed (mask applied after)."""
    full, useful = _score_counts(s)
    per_seq_heads = s.seqs * s.heads
    dh = s.head_dim
    executed = useful if flash else full
    q_bytes, k_read = attention_io_bytes(s.seqs, s.q, s.k, s.heads, s.kv_heads, dh, a_bytes,
                                         kv_bytes if s.kv_from_cache else a_bytes)
    return _AttnCounts(
        mm_exec=2.0 * 2.0 * dh * per_seq_heads * executed,
        mm_useful=2.0 * 2.0 * dh * per_seq_heads * useful,
        sm_exec=SOFTMAX_FLOPS * per_seq_heads * executed,
        sm_useful=SOFTMAX_FLOPS * per_seq_heads * useful,
        q_bytes=q_bytes,
        k_read=k_read,
        scores=per_seq_heads * full * a_bytes,
        z=_z(full * s.seqs),
    )


def attention(prefix: str, stage: str, s: AttnShape, a_bytes: float, kv_bytes: float,
              flash: bool) -> list[Op]:
    """QK^T, softmax and PV. flash: one fused op, no score traffic, causal blocks skipped.

    Eager: three ops; the score matrix [seqs, heads, q, k] is written by QK^T, read and
    written by softmax and read by PV; the full rectangle is computed (mask applied after).
    """
    c = _attn_counts(s, a_bytes, kv_bytes, flash)
    return [_flash_op(prefix, stage, s, c)] if flash else _eager_ops(prefix, stage, s, c)


def _flash_op(prefix: str, stage: str, s: AttnShape, c: _AttnCounts) -> Op:
    """Q, K and V read once (K and V from the KV cache, or as activations in a ViT), the
    output written."""
    kv_read = 2.0 * c.k_read
    return Op(
        name=f"{prefix}/flash", stage=stage, op_class="attention",
        matmul_flops=c.mm_exec, vector_flops=c.sm_exec, useful_flops=c.mm_useful + c.sm_useful,
        weight_bytes=c.z, act_read_bytes=c.q_bytes + (0.0 if s.kv_from_cache else kv_read) + c.z,
        act_write_bytes=c.q_bytes + c.z, kv_read_bytes=_cache_read(s, kv_read), attn=s,
    )


def _eager_ops(prefix: str, stage: str, s: AttnShape, c: _AttnCounts) -> list[Op]:
    """QK^T reads Q and K and writes the scores, softmax reads and writes them, PV reads them
    and V and writes the output; K and V from the KV cache, or as activations in a ViT."""
    half_mm, half_useful, z = c.mm_exec / 2.0, c.mm_useful / 2.0, c.z
    k_act = 0.0 if s.kv_from_cache else c.k_read  # K (QK^T), V (PV) as activations
    return [
        Op(f"{prefix}/qk", stage, "attention", half_mm, z, half_useful, z,
           c.q_bytes + k_act + z, c.scores + z, _cache_read(s, c.k_read + z)),
        Op(f"{prefix}/softmax", stage, "attention", z, c.sm_exec, c.sm_useful, z,
           c.scores + z, c.scores + z),
        Op(f"{prefix}/pv", stage, "attention", half_mm, z, half_useful, z,
           c.scores + k_act + z, c.q_bytes + z, _cache_read(s, c.k_read + z)),
    ]


def _cache_read(s: AttnShape, kv_bytes: Arr) -> Arr:
    """`kv_bytes` as bytes read from the KV cache; 0 for a ViT (its K and V are activations)."""
    return kv_bytes if s.kv_from_cache else 0.0  # type: ignore[return-value]  # Op's default
