"""An engine's chunked prefill (Engine.prefill_chunk_tokens; vLLM 0.6): the LLM prefill of a
long prompt runs as steps of C tokens, so every prefill kernel runs once per chunk.

Where the engine chunks (a point whose request sequence, prompt + output tokens, exceeds
Engine.prefill_chunk_over_tokens and whose prompt is longer than one chunk), each prefill
operator's expected time is repriced (seconds; the formulas are written once, in
core/efficiency.py's module docstring):

- GEMMs (linear) and memory-bound operators (norms, activations, adds, RoPE, gathers) over
  m = batch x prompt rows: efficiency.rows_in_chunks_s, floor(m / C) x t(C rows) + t(m mod C
  rows), each at its share C / m of the operator's rows (the operator's own rows: a layer that
  sees fewer tokens is split in the same proportion); a GEMM reads its weights and a
  memory-bound kernel pays its fixed cost once per chunk. The lm_head (the sampled rows) is
  one call, as before.
- FlashAttention (a prefill call with its shape, K/V from the cache):
  efficiency.chunked_attention_time_s, per request its chunks' non-causal calls against their
  prefix in blocks of Engine.prefill_chunk_attention_block query rows, times the batch.
- Kernel launches (host time): ceil(m / C) per prefill operator that launches (the lm_head
  once).

The kernel time changes where a device has fitted kernel figures (core/kernel_model.py): the
operator's compute and memory times are scaled by t_chunked / t_one_pass, so its latency is
the chunked kernel time; a device without figures keeps its efficiencies (its launches are
still paid per chunk). The FLOPs and bytes the operators report are the one pass's (the
weights read once: the reported bytes), while the expected time reads the weights once per
chunk; the roofline bound (the ideal engine, which does not chunk) is unchanged.
Source: docs/validation.md, "vLLM's chunked prefill (adopted)"; docs/methodology.md,
"Inference engines".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from costmodel.core.efficiency import (
    chunked_attention_time_s,
    kv_bytes_per_element,
    rows_in_chunks_s,
)
from costmodel.core.inputs import Points
from costmodel.core.kernel_model import FUSABLE, KernelModel, _rows, device_ratios
from costmodel.core.ops import Arr, Op
from costmodel.core.pricing import OpCost, points_width
from costmodel.core.roofline import Rates
from costmodel.specs.engine import Engine

ROW_FIELDS = ("matmul_flops", "vector_flops", "useful_flops", "act_read_bytes",
              "act_write_bytes", "kv_read_bytes", "kv_write_bytes")  # scale with the rows


@dataclass(frozen=True)
class ChunkPlan:
    """Per point (1-D over the K points): where the engine chunks, the prefill's rows m
    (batch x prompt tokens) and the launches per operator (ceil(m / C) there, else 1)."""

    on: Arr
    rows: Arr
    size: float  # C: tokens per chunk
    block: float  # query rows per attention CTA

    @classmethod
    def of(cls, engine: Engine | None, pts: Points, width: int,
           multimodal: bool = False) -> ChunkPlan | None:
        """None where the engine never chunks (or, prefill_chunk_text_only, not a multimodal
        model) or no point is chunked; width: the prices' points (the rates may vary along
        them where the points do not)."""
        if engine is None or engine.prefill_chunk_tokens is None or engine.kernels == "bound":
            return None
        if multimodal and engine.prefill_chunk_text_only:
            return None
        size = float(engine.prefill_chunk_tokens)
        prompt, out, batch = (flat(x, width) for x in (pts.prompt, pts.output, pts.batch))
        on = (prompt + out > engine.prefill_chunk_over_tokens) & (prompt > size)
        if not np.any(on):
            return None
        return cls(on, batch * prompt, size, float(engine.prefill_chunk_attention_block))

    @property
    def launches(self) -> Arr:
        return np.where(self.on, np.ceil(self.rows / self.size), 1.0)


def _chunked_attention(op: Op) -> bool:
    return op.op_class == "attention" and op.attn is not None and op.attn.kv_from_cache


def chunked(op: Op) -> bool:
    """A prefill operator the chunks split: GEMMs, memory-bound kernels, FlashAttention."""
    return op.stage == "prefill" and (op.op_class == "linear" or op.op_class in FUSABLE
                                      or _chunked_attention(op))


def flat(x: Arr | float, k: int) -> Arr:
    return np.broadcast_to(np.asarray(x, dtype=float).reshape(-1), (k,))


def share_op(op: Op, share: Arr) -> Op:
    """`op` over `share` of its rows (share [K]): its per-row FLOPs and bytes scaled, its
    weights read where it has rows."""
    s = np.asarray(share, dtype=float).reshape(1, -1)
    cols = {f: np.asarray(getattr(op, f), dtype=float) * s for f in ROW_FIELDS}
    w = np.where(s > 0, np.asarray(op.weight_bytes, dtype=float), 0.0)
    return dataclasses.replace(op, weight_bytes=w, **cols)


def _attention_s(op: Op, km: KernelModel, d: int, plan: ChunkPlan, r: Rates,
                 idx: Arr) -> Arr:
    """Chunked FlashAttention seconds of one instance on device row d at points idx."""
    s, k = op.attn, plan.on.size
    assert s is not None
    p = km.params[d]
    assert p is not None
    kv_b = flat(kv_bytes_per_element(op, s, km.act_bytes_per_element), k)
    qo = km.qo(d) or km.act_bytes_per_element
    dev = km.device(d, r.bytes_per_s)
    col = {f: flat(getattr(dev, f), k)[idx][:, None]  # per point (a what-if scale on the
           for f in ("memory_bytes_per_s", "exp_per_s", "sm_flops_per_s")}  # per-SM rates)
    peak = flat(_rows(r.matmul_flops_per_s, [d]), k)[idx][:, None]
    return chunked_attention_time_s(
        flat(s.seqs, k)[idx], flat(s.q, k)[idx], flat(s.k, k)[idx], s.causal, s.heads,
        s.kv_heads, s.head_dim, qo, kv_b[idx][:, None], plan.size, plan.block, peak,
        dataclasses.replace(dev, **col), p)


def _ratio(op: Op, plan: ChunkPlan, r: Rates, e: Engine) -> Arr:
    """t_chunked / t_one_pass per device row with kernel figures ([D, K]; 1 elsewhere)."""
    km, k = r.kernels, plan.on.size
    idx = np.flatnonzero(plan.on)

    def times_at(d: int) -> tuple[Arr, Arr]:  # priced where the engine chunks, 1 / 1 elsewhere
        assert km is not None
        new, old = np.ones(k), np.ones(k)
        old[idx], new[idx] = _times(op, km, d, plan, r, e, idx)
        return new, old

    return device_ratios(km, k, times_at)


def _times(op: Op, km: KernelModel, d: int, plan: ChunkPlan, r: Rates, e: Engine,
           idx: Arr) -> tuple[Arr, Arr]:
    """(one pass, in chunks): seconds of one instance on device row d at the points idx."""
    k, peak, bw = plan.on.size, r.matmul_flops_per_s, r.bytes_per_s
    fused, gemm = op.op_class in e.fused_op_classes, op.fuse in e.fused_gemms
    one = flat(km.kernel_s(op, d, peak, bw, fused, gemm), k)[idx]
    if op.op_class == "attention":
        return one, _attention_s(op, km, d, plan, r, idx)

    def at(rows: Arr) -> Arr:  # the operator's time over `rows` of the prefill's rows
        return flat(km.kernel_s(share_op(op, rows / plan.rows), d, peak, bw, fused, gemm), k)

    return one, rows_in_chunks_s(plan.rows, plan.size, at)[idx]


def reprice(costs: list[OpCost], pts: Points, r: Rates, multimodal: bool = False
            ) -> list[OpCost]:
    """`costs` with the prefill operators the engine's chunks split repriced (module
    docstring): device time x t_chunked / t_one_pass, launches x ceil(m / C) where it
    chunks (the lm_head's launch once). Unchanged where the engine does not chunk (a
    multimodal model's, multimodal, on an engine that chunks text-only models alone)."""
    if r.engine is None or r.engine.prefill_chunk_tokens is None:
        return costs  # every engine but vllm-0.6: nothing to scan (the evaluation's hot path)
    plan = ChunkPlan.of(r.engine, pts, points_width(costs), multimodal)
    if plan is None:
        return costs
    out = []
    for c in costs:
        if c.op.stage != "prefill" or c.op.op_class in ("comm", "overhead"):
            out.append(c)
            continue
        ratio = _ratio(c.op, plan, r, r.engine) if chunked(c.op) else 1.0
        launch = np.asarray(c.launch_s) * (plan.launches if c.op.op_class != "lm_head" else 1.0)
        out.append(c.repriced(ratio, launch))
    return out
