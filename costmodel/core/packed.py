"""How an engine runs a packed ViT's attention (Engine.packed_attention): one call per
sequence ('per_sequence': Hugging Face transformers' SDPA and eager paths), one varlen call
('varlen', the default: a windowed layer's window kinds as ONE call), or one call per image
with each windowed layer attending over the whole image under a mask ('masked': llama.cpp;
core/masked_windows.py).

The Qwen2-VL family's ViTs (Qwen2-VL, Qwen2.5-VL, Qwen3-VL; VisionSpec.packed_sequences) pack
their passes (each image, each frame pair of a video) into one sequence split by cu_seqlens
(transformers vision_utils.get_vision_cu_seqlens), and Qwen2.5-VL's windowed layers split it
into windows (cu_window_seqlens). A FlashAttention varlen kernel runs them as one call. The
other attention implementations of transformers "process each chunk separately"
(modeling_qwen2_vl.py, modeling_qwen2_5_vl.py, modeling_qwen3_vl.py, the vision attention's
forward: torch.split by the lengths, one attention call per chunk, then torch.cat, as of
transformers 5.23.0; for Qwen2.5-VL's SDPA path the loop came with huggingface/transformers PR
#37363, which replaced one call over the whole sequence with a block-diagonal mask).

Where the engine does that, each packed ViT attention operator of `seqs` sequences (an
operator per window kind: core/stages.vit_layer_ops, Op.packed_seqs; with FlashAttention off,
each of the eager qk, softmax and pv operators) is repriced (seconds):
- kernel launches (host time): seqs per instance, one call each, in place of one (the
  per-call output copy and the layer's torch.cat are not counted, as a single call's layout
  copies are not: an attention operator is one launch);
- kernel time, where the device has fitted kernel figures (core/kernel_model.py): seqs x
  t(one sequence) in place of t(all seqs in one call): each call runs its own fixed cost and
  its own waves of heads x ceil(q / 128) CTAs (core/efficiency.prefill_attention_time_s);
  the operator's compute and memory times are scaled by that ratio. A device without figures,
  and the eager qk, softmax and pv kernels, keep their device time (their launches are still
  paid per call).
On a 'varlen' engine a windowed layer's window kinds (one operator each: their counts) run as
one FlashAttention varlen call: its time T (efficiency.varlen_attention_time_s: their CTAs and
scores in one set of waves, the longest CTA, their bytes together, one fixed cost) is spread
over the kinds' operators in proportion to their own kernel times (each x T / sum of theirs),
and the layer launches once (on its first kind). With FlashAttention off the eager operators
stay per kind.
FLOPs and bytes are the same either way, so the reported counts and the roofline bound (the
ideal engine, which runs no kernels) are unchanged. Source: docs/methodology.md, "Packed ViT
attention on an engine that splits it".
"""

from __future__ import annotations

import dataclasses

import numpy as np

from costmodel.core import masked_windows
from costmodel.core.chunked import flat, share_op
from costmodel.core.efficiency import varlen_attention_time_s
from costmodel.core.kernel_model import _rows, device_ratios
from costmodel.core.ops import Arr, Op, is_packed_attention, window_layer
from costmodel.core.pricing import OpCost, points_width
from costmodel.core.roofline import Rates


def one_call(op: Op, seqs: Arr) -> Op:
    """One of the operator's `seqs` calls ([K] per point): its 1/seqs share of the FLOPs and
    bytes, one sequence in its shape."""
    assert op.attn is not None
    share = np.where(seqs > 0, 1.0 / np.maximum(seqs, 1.0), 0.0)
    one = share_op(op, share)
    return dataclasses.replace(one, attn=dataclasses.replace(op.attn, seqs=np.ones_like(seqs)))


def calls_ratio(op: Op, r: Rates, n: Arr) -> Arr:
    """n x t(one of n calls) / t(one call over all of them) per device row with kernel figures
    ([D, K]; 1 elsewhere): an attention operator's one sequence (one_call), any other
    operator's 1/n of its rows (chunked.share_op: each call reads its weights). The packed
    ViT attention split per sequence here, every pass of a per_pass engine (core/per_pass.py)."""
    km, k, peak, bw = r.kernels, n.size, r.matmul_flops_per_s, r.bytes_per_s
    share = np.where(n > 0, 1.0 / np.maximum(n, 1.0), 0.0)
    one = one_call(op, n) if op.attn is not None else share_op(op, share)
    e = r.engine
    fused = e is not None and op.op_class in e.fused_op_classes
    gemm = e is not None and op.fuse in e.fused_gemms

    def times_at(d: int) -> tuple[Arr, Arr]:
        assert km is not None
        return (n * flat(km.kernel_s(one, d, peak, bw, fused, gemm), k),
                flat(km.kernel_s(op, d, peak, bw, fused, gemm), k))

    return device_ratios(km, k, times_at)


def reprice(costs: list[OpCost], r: Rates) -> list[OpCost]:
    """`costs` with every packed ViT attention operator repriced (module docstring): one call
    per sequence on an engine that splits them, else a windowed layer's window kinds as one
    varlen call."""
    mode = "varlen" if r.engine is None else r.engine.packed_attention
    if mode == "per_sequence":
        return _per_sequence(costs, r)
    if mode == "masked":  # llama.cpp: one image per graph, windows as a masked full call
        return masked_windows.reprice(_per_sequence(costs, r, windows=False), r)
    return _one_varlen_call(costs, r)


def _per_sequence(costs: list[OpCost], r: Rates, windows: bool = True) -> list[OpCost]:
    """Each packed attention operator as one call per sequence; windows=False leaves a
    windowed layer's window-kind operators as they are (core/masked_windows.py prices them)."""
    width = points_width(costs)
    out = []
    for c in costs:
        if not is_packed_attention(c.op) or (not windows and window_layer(c.op) is not None):
            out.append(c)
            continue
        seqs = flat(c.op.packed_seqs, width)
        # FlashAttention (one op with its shape): the kernel model per call; the eager qk,
        # softmax and pv kernels keep their device time (batched GEMMs and an elementwise pass
        # whose time follows their bytes and FLOPs), their launches paid per call
        ratio = calls_ratio(c.op, r, seqs) if c.op.attn is not None else 1.0
        out.append(c.repriced(ratio, np.asarray(c.launch_s) * seqs))
    return out


def _layer(op: Op) -> str | None:
    """ops.window_layer of a FlashAttention window-kind operator (the eager ones stay per
    kind on a varlen engine); None for any other."""
    return None if op.attn is None else window_layer(op)


def _one_varlen_call(costs: list[OpCost], r: Rates) -> list[OpCost]:
    """A windowed layer's window kinds (one operator each) run as ONE varlen call: their
    device time x T / sum of theirs (T: efficiency.varlen_attention_time_s, where the device
    has kernel figures), one launch per instance (on the layer's first kind)."""
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(costs):
        key = _layer(c.op)
        if key is not None:
            groups.setdefault(key, []).append(i)
    if not groups:
        return costs  # no windowed ViT: nothing to change (the evaluation's hot path)
    out, width = list(costs), points_width(costs)
    for idx in groups.values():
        ratio = _varlen_ratio([costs[i].op for i in idx], r, width)
        launches = np.broadcast_arrays(*(np.asarray(costs[i].launch_s, float) for i in idx))
        one = np.maximum.reduce(launches)  # one launch where any kind has windows
        for j, i in enumerate(idx):
            out[i] = costs[i].repriced(ratio, one if j == 0 else one * 0.0)
    return out


def _varlen_ratio(ops: list[Op], r: Rates, k: int) -> Arr:
    """T(one varlen call) / sum of the kinds' own kernel times per device row with kernel
    figures ([D, K]); 1 elsewhere."""
    km, peak, bw = r.kernels, r.matmul_flops_per_s, r.bytes_per_s

    def times_at(d: int) -> tuple[Arr, Arr]:
        assert km is not None
        p = km.params[d]
        assert p is not None
        t = varlen_attention_time_s([op.attn for op in ops if op.attn], [op.bytes for op in ops],
                                    _rows(peak, [d]), km.device(d, bw), p)
        own = np.sum([flat(km.kernel_s(op, d, peak, bw), k) for op in ops], axis=0)
        return flat(t, k), own

    return device_ratios(km, k, times_at)
