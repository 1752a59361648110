"""The vectorised evaluation: (spec, Prepared) -> per-stage totals, TTFT, TPOT, memory
footprint, for one model replica on tp x pp GPUs. Every entry point (estimate, sweep, the
device comparisons, plan, validate) prepares its workload with `costmodel.analysis.prepare`
and calls `evaluate`, so they agree point by point by construction (and a test checks it).

Decode convention (N output tokens = the prefill's token + N - 1 decode steps), TTFT, TPOT
and e2e: docs/methodology.md, section "Decode and end-to-end latency"; the footprint and the
compute-bound share: section "The evaluation path".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from costmodel.core import chunked, engine_traffic, host_overlap, packed, per_pass
from costmodel.core.compression import compress_points, overhead_ops
from costmodel.core.convention import Convention
from costmodel.core.decode_sum import Segments, combine, segments
from costmodel.core.inputs import Options, Points, Precision
from costmodel.core.metrics import peak_activation_bytes
from costmodel.core.ops import Arr, Op
from costmodel.core.parallel.pipeline import (
    ParallelResult,
    p2p_s,
    pipelined_prefill_s,
    stage_bounds,
)
from costmodel.core.parallel.tensor import shard_spec
from costmodel.core.pricing import (
    OpCost,
    Stack,
    decode_cost,
    price_decode,
    price_static,
    stack,
)
from costmodel.core.roofline import IN_PLACE_SIZE, Rates, in_place
from costmodel.specs.engine import Engine
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import Workload
from costmodel.units import DType

STAGES = ("vision", "projector", "prefill", "decode")


@dataclass(frozen=True)
class Prepared:
    """Everything `evaluate` needs besides the model spec (see the module docstring)."""

    points: Points  # uncompressed, [1, K]
    precision: Precision
    rates: Rates  # [D, 1] (scaled what-ifs: [D, K]): the engine's expected rates
    bound_rates: Rates  # the same shape: datasheet peaks, no launches (the roofline bound)
    capacity_bytes: Arr  # [D, 1] one GPU's memory
    options: Options
    convention: Convention
    engine: Engine
    # the workload as priced: its weights resolved against a quantised checkpoint
    # (analysis/weights.py); label results with it
    workload: Workload
    dtypes: tuple[DType, ...] = ()  # math dtype per device


@dataclass(frozen=True)
class StageTotals:
    flops: Arr
    useful_flops: Arr
    weight_bytes: Arr
    act_bytes: Arr
    kv_bytes: Arr
    latency_s: Arr
    # the stage's operators without their launches, and their launches (host time), in s
    device_s: Arr = 0.0  # type: ignore[assignment]
    launch_s: Arr = 0.0  # type: ignore[assignment]
    # host_overlap: async and the launches take longer than the device: the stage runs at the
    # host's pace (decode: in total over the steps)
    host_bound: Arr = False  # type: ignore[assignment]

    @property
    def bytes(self) -> Arr:
        return self.weight_bytes + self.act_bytes + self.kv_bytes


@dataclass(frozen=True)
class Bound:
    """Latencies at the roofline bound (datasheet peaks, no launches or host overheads)."""

    stage_latency_s: dict[str, Arr]
    ttft_s: Arr
    tpot_s: Arr
    e2e_latency_s: Arr


@dataclass(frozen=True)
class Evaluation:
    """Arrays broadcast to [devices, columns]. Memory: the whole model (one copy of the
    weights and of the logical KV cache) and the most loaded GPU; `fits` = every GPU fits."""

    stages: dict[str, StageTotals]
    ttft_s: Arr
    tpot_s: Arr
    e2e_latency_s: Arr
    decode_steps: Arr
    tokens_per_s: Arr
    weights_bytes: Arr
    kv_cache_bytes: Arr
    activation_bytes: Arr
    total_memory_bytes: Arr
    per_gpu_weights_bytes: Arr
    per_gpu_kv_cache_bytes: Arr
    per_gpu_total_memory_bytes: Arr
    fits: Arr
    parallel: ParallelResult
    bound: Bound  # the same latencies at the roofline bound (no engine overheads)
    op_costs: list[OpCost] = field(default_factory=list)


def _totals(costs: list[OpCost], like: Arr) -> StageTotals:
    fields = ("flops", "useful_flops", "weight_bytes", "act_bytes", "kv_bytes", "latency_s")
    z = np.zeros_like(like, dtype=float)
    if z.size < IN_PLACE_SIZE:  # one estimate's: the plain sums from one shared zero
        return StageTotals(**{f: sum((getattr(c, f) for c in costs), z) for f in fields})
    return StageTotals(**{f: _sum([getattr(c, f) for c in costs], like) for f in fields})


def _sum(xs: list[Arr], like: Arr) -> Arr:
    """zeros shaped `like` + xs[0] + xs[1] + ..., in that order, each sum in place where it
    can be (roofline.in_place): a sweep's totals are megabytes each."""
    total = np.zeros_like(like, dtype=float)
    for x in xs:
        total = in_place(np.add, total, x)
    return total


@dataclass(frozen=True)
class _Ops:
    """One GPU shard's operators over the (compressed) points; decode at the first step and
    at the last (span = N - 2 for N output tokens, at least 1)."""

    pts: Points  # after compression
    pre: dict[str, list[Op]]
    dec_a: list[Op]
    dec_b: list[Op]  # at step `span`
    span: Arr
    like: Arr
    pre_stack: Stack  # the `pre` operators in order, grouped for pricing (core/pricing.py)
    dec_stack: Stack  # dec_a with dec_b
    activation_bytes: Arr  # the peak activation footprint (metrics.peak_activation_bytes)
    segs: Segments | None = None  # decode cut at knees inside the steps (core/decode_sum.py)
    groups: float = 1.0  # query heads per KV head (core/engine_traffic.py)
    multimodal: bool = False  # a vision model (an engine may chunk text-only models alone)
    passes: Arr | None = None  # ViT passes per point (batch x crops); None: no ViT of its own


@dataclass(frozen=True)
class _Replica:
    """One pass of the (sharded) model over the points, priced, before pipelining."""

    pts: Points
    stages: dict[str, StageTotals]
    tpot_s: Arr
    n_steps: Arr
    costs: list[OpCost]
    activation_bytes: Arr
    like: Arr


HELD_POINTS = 4096  # the largest point array whose operators _held_ops keeps


@dataclass(frozen=True, eq=False)
class _OpsKey:
    """What the operators depend on: the (sharded) spec and the convention (by identity, held
    here so that their ids stay theirs), the points, precision, options and the result's
    shape; not the device's rates. sig None: not held (points with per-layer ranges, or more
    than HELD_POINTS points: ~14 KB of operators a point, so 16 held chunks of a large sweep
    kept 14 GB for 1M points and were killed)."""

    gpu: ModelSpec
    base: Points
    prep: Prepared
    sig: tuple[object, ...] | None

    @classmethod
    def of(cls, gpu: ModelSpec, base: Points, prep: Prepared) -> _OpsKey:
        fields: list[object] = []
        for f in dataclasses.fields(Points):
            x = getattr(base, f.name)
            if isinstance(x, np.ndarray) and x.size <= HELD_POINTS:
                fields.append((x.shape, x.dtype.str, x.tobytes()))
            elif x is None or isinstance(x, bool):
                fields.append(x)
            else:
                return cls(gpu, base, prep, None)
        sig = (id(gpu), id(prep.convention), prep.precision, prep.options,
               np.shape(prep.rates.bytes_per_s), tuple(fields))
        return cls(gpu, base, prep, sig)

    def __hash__(self) -> int:
        return hash(self.sig)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _OpsKey) and self.sig is not None and self.sig == other.sig


@lru_cache(maxsize=16)
def _held_ops(key: _OpsKey) -> _Ops:
    return _build_ops(key.gpu, key.base, key.prep)


def _ops(gpu: ModelSpec, base: Points, prep: Prepared) -> _Ops:
    """Operators of every stage (_build_ops), held for the last 16 distinct inputs: they do not
    depend on the device, so a change of device, what-if or engine rates reuses them."""
    key = _OpsKey.of(gpu, base, prep)
    return _build_ops(gpu, base, prep) if key.sig is None else _held_ops(key)


def _build_ops(gpu: ModelSpec, base: Points, prep: Prepared) -> _Ops:
    """Operators of every stage; compression reshapes the points (core/compression/) and
    adds the method's own operators to the stage where they run."""
    o, conv, prec = prep.options, prep.convention, prep.precision
    pts = compress_points(gpu, base, o.compression)
    like = np.broadcast_arrays(pts.batch, pts.visual, pts.text, pts.output,
                               prep.rates.bytes_per_s)[0]
    pre = conv.stage_ops(gpu, pts, prec, o)
    span = np.maximum(pts.output - 2.0, 1.0)  # the last decode step (or step 1)
    dec_a, dec_b = conv.decode_ops(gpu, pts, 0.0, prec, o), conv.decode_ops(gpu, pts, span, prec, o)
    for op in overhead_ops(gpu, base, o.compression, prec, o.flash):
        pre[op.stage].append(op)
    knees = conv.decode_knees(gpu, pts)
    segs = segments(knees, pts.output - 1.0,
                    lambda st: conv.decode_ops(gpu, pts, st, prec, o)) if knees else None
    flat = [op for v in pre.values() for op in v]
    width = like.shape[-1] if like.ndim == 2 and np.shape(pts.batch)[0] == 1 else None
    act = peak_activation_bytes(flat + dec_a, like)
    rows = like.shape[0] if like.ndim == 2 else 1
    return _Ops(pts, pre, dec_a, dec_b, span, like, stack(flat, width, rows=rows),
                stack(dec_a, width, dec_b, rows), act, segs,
                gpu.llm.num_heads / gpu.llm.num_kv_heads, gpu.is_vlm,
                None if gpu.vision is None else pts.batch * pts.crops)


def _piecewise(ops: _Ops, today: list[OpCost], r: Rates, overlap: str) -> list[OpCost]:
    """Decode costs with a knee inside the steps (core/decode_sum.py): per op, the sum of one
    affine series per segment between knees where a point has a knee inside, `today` (the
    one-series sum, priced in stacks) elsewhere: exact for FLOPs, bytes and the bound."""
    if ops.segs is None:
        return today
    out = []
    for i, c in enumerate(today):
        parts = [decode_cost(g.ops_first[i], g.ops_last[i], r, overlap, g.count, g.span)
                 for g in ops.segs.parts]
        out.append(dataclasses.replace(combine(c, parts, ops.segs.inside), op=c.op))
    return out


def _split(costs: list[OpCost], like: Arr) -> dict[str, tuple[Arr, Arr]]:
    """Per stage, (device_s, launch_s) of its operators (host_overlap.split)."""
    return {s: host_overlap.split([c for c in costs if c.op.stage == s], like) for s in STAGES}


def _traffic(ops: _Ops, r: Rates, n_steps: Arr, costs: list[OpCost], dec: list[OpCost],
             first: list[OpCost]) -> tuple[list[OpCost], list[OpCost], list[OpCost]]:
    """The engine's own KV traffic (core/engine_traffic.py) added as device-time rows to the
    prefill, to the decode steps and to the first step (when it is priced)."""
    pre = [o for v in ops.pre.values() for o in v]
    # the copies are memory-bound kernels: where the device has kernel figures, at their rate
    bw = r.bytes_per_s if r.kernels is None else r.kernels.memory_rate(r.bytes_per_s)
    rows = engine_traffic.prefill_rows(r.engine, pre, ops.groups, bw, ops.like)
    total, one = engine_traffic.decode_rows(r.engine, ops.dec_a, ops.dec_b, ops.groups,
                                            bw, n_steps, ops.span, ops.like)
    return costs + rows, dec + total, first + (one if first else [])


def _price(ops: _Ops, overlap: str, r: Rates) -> _Replica:
    """Every operator priced at rates `r` (bound or the engine's), summed per stage."""
    like = ops.like
    n_steps = ops.pts.output - 1.0
    host = host_overlap.engine_costs(r, n_steps, like)
    costs = chunked.reprice(price_static(ops.pre_stack, r, overlap), ops.pts, r,
                            ops.multimodal)  # an engine's prefill chunks (core/chunked.py)
    costs = packed.reprice(costs, r)  # a packed ViT's attention per call (core/packed.py)
    costs = per_pass.reprice(costs, ops.passes, r)  # a ViT pass per graph (core/per_pass.py)
    dec_costs = _piecewise(ops, price_decode(ops.dec_stack, r, overlap, n_steps, ops.span), r,
                           overlap)
    on_static, on_decode = host_overlap.overlaps(r)
    first = price_static(ops.dec_stack, r, overlap) if on_decode or np.any(n_steps <= 0) else []
    costs, dec_costs, first = _traffic(ops, r, n_steps, costs, dec_costs, first)
    parts = _split(costs + dec_costs, like)
    times: dict[str, Arr] = {}  # async stages: max(device, host), before the fixed overheads
    if on_static:
        costs, times = host_overlap.static(costs, STAGES[:3], like)
    if on_decode:
        dec_costs, times["decode"] = host_overlap.decode(dec_costs, first, n_steps, like)
    fixed = {"prefill": host["prefill"], "decode": host["decode"]}
    costs, dec_costs = costs + host["prefill"], dec_costs + host["decode"]
    stages = {s: _totals([c for c in costs if c.op.stage == s], like) for s in STAGES[:3]}
    stages["decode"] = _totals(dec_costs, like)
    stages = {s: dataclasses.replace(
        t, device_s=parts[s][0], launch_s=parts[s][1], **({} if s not in times else {
            "latency_s": times[s] + _totals(fixed.get(s, []), like).latency_s,
            "host_bound": parts[s][1] > parts[s][0]}))
        for s, t in stages.items()}
    tpot = stages["decode"].latency_s / np.maximum(n_steps, 1.0)
    if np.any(n_steps <= 0):  # one output token: no decode step, TPOT = one step's latency
        step = host_overlap.one_step_s(first, like) if on_decode else _totals(first, like).latency_s
        tpot = np.where(n_steps > 0, tpot, step + host_overlap.step_overhead_s(r))
    return _Replica(ops.pts, stages, tpot + 0 * like, n_steps + 0 * like, costs + dec_costs,
                    ops.activation_bytes + 0 * like, like)


def _microbatch_ops(gpu: ModelSpec, prep: Prepared) -> _Ops | None:
    """The operators of one prefill microbatch (batch / m), when pp > 1 splits the batch."""
    par, base = prep.options.parallel, prep.points
    if par.pp == 1 or par.m == 1:
        return None
    return _ops(gpu, dataclasses.replace(base, batch=base.batch / par.m), prep)


def _pipeline(gpu: ModelSpec, run: _Replica, mb_ops: _Ops | None, prep: Prepared, r: Rates,
              bounds: tuple[tuple[int, int], ...]) -> tuple[dict[str, StageTotals], Arr, Arr]:
    """Stage totals, TPOT and transfer time with pp stages and m prefill microbatches
    (core/parallel/pipeline.py; no change for pp = 1); mb_ops: _microbatch_ops."""
    par, zero = prep.options.parallel, 0.0 * run.like
    if par.pp == 1:
        return run.stages, run.tpot_s, zero
    base, m = prep.points, par.m
    mb = run if mb_ops is None else _price(mb_ops, prep.options.overlap, r)
    step = p2p_s(gpu, run.pts, prep.precision, r, bounds, np.ones_like(base.batch), base.batch)
    pre_p2p = p2p_s(gpu, run.pts, prep.precision, r, bounds, None, base.batch / m)
    st = run.stages
    pre = pipelined_prefill_s(mb.stages["prefill"].latency_s, par.pp, m, pre_p2p)
    dec = st["decode"].latency_s + run.n_steps * step
    stages = {**st, "prefill": dataclasses.replace(st["prefill"], latency_s=pre + zero),
              "decode": dataclasses.replace(st["decode"], latency_s=dec + zero)}
    return stages, run.tpot_s + step, pre_p2p + run.n_steps * step + zero


def _ttft(latency_s: dict[str, Arr]) -> Arr:
    """TTFT = vision + projector + prefill latency."""
    return latency_s["vision"] + latency_s["projector"] + latency_s["prefill"]


def _bound(gpu: ModelSpec, ops: _Ops, mb_ops: _Ops | None, prep: Prepared,
           bounds: tuple[tuple[int, int], ...]) -> Bound:
    ideal = _price(ops, prep.options.overlap, prep.bound_rates)
    stages, tpot, _ = _pipeline(gpu, ideal, mb_ops, prep, prep.bound_rates, bounds)
    lat = {s: t.latency_s for s, t in stages.items()}
    ttft = _ttft(lat)
    return Bound(lat, ttft, tpot, ttft + lat["decode"])


def evaluate(spec: ModelSpec, prep: Prepared) -> Evaluation:
    """Every stage for every point of `prep` (arrays broadcast to [devices, columns]), at the
    engine's expected rates and at the roofline bound.

    Decode convention: see the module docstring. TTFT = vision + projector + prefill;
    e2e = TTFT + decode; tokens/s = batch x output tokens / e2e."""
    par = prep.options.parallel
    gpu = shard_spec(spec, par.tp, par.ep)
    ops, mb_ops = _ops(gpu, prep.points, prep), _microbatch_ops(gpu, prep)
    run = _price(ops, prep.options.overlap, prep.rates)
    bounds = stage_bounds(spec.llm.num_layers, par.pp)
    stages, tpot, p2p = _pipeline(gpu, run, mb_ops, prep, prep.rates, bounds)
    ttft = _ttft({s: t.latency_s for s, t in stages.items()})
    e2e = ttft + stages["decode"].latency_s
    mem = prep.convention.footprint(spec, gpu, run.pts, prep.precision, prep.options,
                                    run.activation_bytes)
    comm = sum((c.comm_s for c in run.costs if c.op.op_class == "comm"), 0.0 * run.like)
    info = ParallelResult(par, bounds, comm, p2p, (par.pp - 1) / (par.m + par.pp - 1))
    return Evaluation(
        stages=stages, ttft_s=ttft, tpot_s=tpot, e2e_latency_s=e2e, decode_steps=run.n_steps,
        tokens_per_s=run.pts.batch * run.pts.output / e2e, weights_bytes=mem.weights_bytes,
        kv_cache_bytes=mem.kv_cache_bytes, activation_bytes=mem.activation_bytes,
        total_memory_bytes=mem.total_memory_bytes, per_gpu_weights_bytes=mem.per_gpu_weights_bytes,
        per_gpu_kv_cache_bytes=mem.per_gpu_kv_cache_bytes,
        per_gpu_total_memory_bytes=mem.per_gpu_total_memory_bytes,
        fits=mem.per_gpu_total_memory_bytes <= prep.capacity_bytes, parallel=info,
        bound=_bound(gpu, ops, mb_ops, prep, bounds), op_costs=run.costs,
    )
