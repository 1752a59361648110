"""The vectorised evaluation: (spec, points, precision, rates) -> per-stage totals, TTFT, TPOT,
memory footprint. `estimate()` and `sweep()` both call `evaluate`, so a sweep equals the
point-by-point estimates by construction (and a test checks it).

Decode convention: the prefill produces the first output token; each further token is one
decode step, so N output tokens need N - 1 decode steps. Step j (0-based) feeds one token per
sample that attends over prompt + 1 + j keys. TPOT = decode latency / (N - 1) (for N = 1, the
latency of that first step). e2e = TTFT + decode latency. KV cache at the end holds
prompt + N - 1 tokens per sample and layer (the prompt part per layer group, see
graph.layer_groups).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from costmodel.core.compression import compress_points, overhead_ops
from costmodel.core.stages import Points, Precision, decode_ops, layer_groups, stage_ops
from costmodel.core.ops import Arr, Op
from costmodel.core.parallel.tensor import with_allreduce
from costmodel.core.quant import with_dequant
from costmodel.core.roofline import Rates, op_times, sum_linear_max
from costmodel.specs.compression import Compression
from costmodel.specs.model import ModelSpec

STAGES = ("vision", "projector", "prefill", "decode")


@dataclass(frozen=True)
class OpCost:
    """An operator's totals over its `count` instances (and all decode steps), per point."""

    op: Op
    flops: Arr
    useful_flops: Arr
    weight_bytes: Arr
    act_bytes: Arr
    kv_bytes: Arr
    compute_s: Arr
    memory_s: Arr
    latency_s: Arr
    comm_s: Arr = 0.0  # type: ignore[assignment]  # interconnect time (op_class "comm")

    @property
    def bytes(self) -> Arr:
        return self.weight_bytes + self.act_bytes + self.kv_bytes


@dataclass(frozen=True)
class StageTotals:
    flops: Arr
    useful_flops: Arr
    weight_bytes: Arr
    act_bytes: Arr
    kv_bytes: Arr
    latency_s: Arr

    @property
    def bytes(self) -> Arr:
        return self.weight_bytes + self.act_bytes + self.kv_bytes


@dataclass(frozen=True)
class Evaluation:
    stages: dict[str, StageTotals]
    ttft_s: Arr
    tpot_s: Arr
    e2e_latency_s: Arr
    decode_steps: Arr
    tokens_per_s: Arr
    weights_bytes: Arr
    kv_cache_bytes: Arr
    activation_bytes: Arr
    total_bytes: Arr
    fits: Arr
    op_costs: list[OpCost] = field(default_factory=list)


def _static_cost(op: Op, r: Rates, overlap: str) -> OpCost:
    t = op_times(op, r)
    k = op.count
    return OpCost(op, k * op.flops, k * op.useful_flops, k * op.weight_bytes,
                  k * (op.act_read_bytes + op.act_write_bytes),
                  k * (op.kv_read_bytes + op.kv_write_bytes),
                  k * t.compute_s, k * t.memory_s, k * t.latency_s(overlap, r.launch_s),
                  k * t.comm_s)


def _decode_cost(a: Op, b: Op, r: Rates, overlap: str, n: Arr) -> OpCost:
    """Totals over n decode steps; `a` is the op at step 0, `b` at step 1 (costs affine in j)."""
    ta, tb = op_times(a, r), op_times(b, r)
    k = a.count

    def series(x: Arr, y: Arr) -> Arr:
        return k * (n * x + (y - x) * n * (n - 1) / 2.0)

    if overlap == "roofline":
        core = sum_linear_max(ta.compute_s, tb.compute_s - ta.compute_s,
                              ta.memory_s, tb.memory_s - ta.memory_s, n)
        lat = k * (core + n * r.launch_s)
    else:
        lat = series(ta.compute_s + ta.memory_s, tb.compute_s + tb.memory_s) + k * n * r.launch_s
    comm = series(ta.comm_s, tb.comm_s)
    return OpCost(
        a, series(a.flops, b.flops), series(a.useful_flops, b.useful_flops),
        series(a.weight_bytes, b.weight_bytes),
        series(a.act_read_bytes + a.act_write_bytes, b.act_read_bytes + b.act_write_bytes),
        series(a.kv_read_bytes + a.kv_write_bytes, b.kv_read_bytes + b.kv_write_bytes),
        series(ta.compute_s, tb.compute_s), series(ta.memory_s, tb.memory_s), lat + comm, comm,
    )


def _totals(costs: list[OpCost], like: Arr) -> StageTotals:
    z = np.zeros_like(like, dtype=float)
    return StageTotals(
        flops=sum((c.flops for c in costs), z), useful_flops=sum((c.useful_flops for c in costs), z),
        weight_bytes=sum((c.weight_bytes for c in costs), z),
        act_bytes=sum((c.act_bytes for c in costs), z), kv_bytes=sum((c.kv_bytes for c in costs), z),
        latency_s=sum((c.latency_s for c in costs), z),
    )


def _peak_activation_bytes(ops: list[Op], like: Arr) -> Arr:
    """Largest single operator's activation inputs + outputs (one instance): the transient
    working set on top of weights and KV cache."""
    peak = np.zeros_like(like, dtype=float)
    for op in ops:
        peak = np.maximum(peak, op.act_read_bytes + op.act_write_bytes)
    return peak


def _finish(ops: list[Op], prec: Precision, tp: int) -> list[Op]:
    """Weight dequantisation work (costmodel/core/quant.py) and TP all-reduces (parallel.py)."""
    return with_allreduce(with_dequant(ops, prec.dequant_flops, prec.weight), tp)


def evaluate(spec: ModelSpec, pts: Points, prec: Precision, rates: Rates, capacity_bytes: Arr,
             flash: bool = True, overlap: str = "roofline", all_logits: bool = False,
             convention: str = "costmodel", tp: int = 1,
             compression: Compression | None = None) -> Evaluation:
    """Every stage for every point. Arrays in `pts`, `rates` and `capacity_bytes` broadcast.

    convention 'llm-viewer': operators and memory by costmodel.conventions.llm_viewer.
    tp > 1: `spec` is one GPU's shard (parallel.shard_spec) and all-reduces are added.
    `pts` are the uncompressed points; `compression` reshapes them (costmodel.core.compression)
    and adds the method's own operators to the stage where they run."""
    base, pts = pts, compress_points(spec, pts, compression)
    like = np.broadcast_arrays(pts.batch, pts.visual, pts.text, pts.output, rates.bytes_per_s)[0]
    if convention == "llm-viewer":
        from costmodel.conventions import llm_viewer as lv

        pre = lv.stage_ops(spec, pts, prec, flash)
        dec_a, dec_b = (lv.decode_ops(spec, pts, j, prec, flash) for j in (0.0, 1.0))
    else:
        pre = {s: _finish(ops, prec, tp) for s, ops in
               stage_ops(spec, pts, prec, flash, all_logits).items()}
        dec_a, dec_b = (_finish(decode_ops(spec, pts, j, prec, flash), prec, tp) for j in (0.0, 1.0))
    for op in overhead_ops(spec, base, compression, prec):
        pre[op.stage].append(op)
    costs = [_static_cost(op, rates, overlap) for ops in pre.values() for op in ops]
    n_steps = pts.output - 1.0
    dec_costs = [_decode_cost(a, b, rates, overlap, n_steps)
                 for a, b in zip(dec_a, dec_b, strict=True)]
    stages = {s: _totals([c for c in costs if c.op.stage == s], like) for s in STAGES[:3]}
    stages["decode"] = _totals(dec_costs, like)
    first_step = sum(
        (c.latency_s for c in (_static_cost(op, rates, overlap) for op in dec_a)),
        np.zeros_like(like, dtype=float),
    )
    ttft = stages["vision"].latency_s + stages["projector"].latency_s + stages["prefill"].latency_s
    dec = stages["decode"].latency_s
    tpot = np.where(n_steps > 0, dec / np.maximum(n_steps, 1.0), first_step)
    e2e = ttft + dec
    m = spec.llm
    weights = spec.param_counts()["total"] * prec.weight + np.zeros_like(like, dtype=float)
    kv_tokens = sum((hi - lo) * (s + n_steps) for lo, hi, s in layer_groups(m, pts))
    kv = pts.batch * 2 * m.kv_dim * kv_tokens * prec.kv  # per layer: prompt kept + N - 1
    act = _peak_activation_bytes([o for ops in pre.values() for o in ops] + dec_a, like)
    if convention == "llm-viewer":
        weights, kv, act = lv.memory_bytes(spec, pts, prec, flash)
        weights = weights + 0 * like
    total = weights + kv + act
    return Evaluation(
        stages=stages, ttft_s=ttft + 0 * like, tpot_s=tpot + 0 * like, e2e_latency_s=e2e + 0 * like,
        decode_steps=n_steps + 0 * like, tokens_per_s=pts.batch * pts.output / e2e,
        weights_bytes=weights, kv_cache_bytes=kv + 0 * like, activation_bytes=act + 0 * like,
        total_bytes=total, fits=total <= capacity_bytes, op_costs=costs + dec_costs,
    )
