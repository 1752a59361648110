"""Operators -> their costs (OpCost), priced in stacks: the operators that the roofline and the
kernel model price alike (same op class, same branch) are laid side by side on the points axis
and priced by one `op_times` call, instead of one call per operator.

Layout: with K points per operator, operator j of a stack of n occupies columns j*K..(j+1)*K-1
of every field ([1, n*K]); the device rates are columns [D, 1], so every price is [D, n*K] and
is cut back into one OpCost per operator ([D, K]). Every formula is elementwise (the roofline,
the efficiency curves, the kernel model, the decode series), so each operator's numbers are
the ones it gets priced alone (tests/unit/core/test_pricing.py checks bit for bit), and the
stage totals still add the operators one by one in their order (core/evaluate.py).
Operators that cannot share a call are priced alone: attention with its call shape (the kernel
model's FlashAttention / decode formulas read the shape's scalars); every operator of a list
where one has a field not over the points ([1, K]) or when the rates vary along the points
(what-if scales per point).
Formulas: docs/methodology.md, "Roofline" and "Decode and end-to-end latency".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from costmodel.core.ops import Arr, Op
from costmodel.core.roofline import OpTimes, Rates, in_place, op_times, sum_linear_max

FIELDS = ("matmul_flops", "vector_flops", "useful_flops", "weight_bytes", "act_read_bytes",
          "act_write_bytes", "kv_read_bytes", "kv_write_bytes", "link_bytes")


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
    launch_s: Arr = 0.0  # type: ignore[assignment]  # the launches in latency_s (host time)

    @property
    def bytes(self) -> Arr:
        return self.weight_bytes + self.act_bytes + self.kv_bytes

    def repriced(self, ratio: Arr | float, launch_s: Arr) -> OpCost:
        """This cost with its device time (compute, memory, latency less launches) x `ratio`
        and `launch_s` as its launches: an engine's prefill chunks (core/chunked.py) or split
        ViT attention calls (core/packed.py)."""
        return replace(self, compute_s=self.compute_s * ratio, memory_s=self.memory_s * ratio,
                       latency_s=(self.latency_s - self.launch_s) * ratio + launch_s,
                       launch_s=launch_s)


def points_width(costs: Sequence[OpCost]) -> int:
    """K: the points the costs span (the last axis of their latencies; 1 for scalars)."""
    return max((np.shape(c.latency_s)[-1] for c in costs if np.ndim(c.latency_s)), default=1)


def static_cost(op: Op, r: Rates, overlap: str, k: Arr | int | None = None,
                launch: Arr | None = None, times: OpTimes | None = None) -> OpCost:
    """Totals of `k` instances (default op.count) of an operator that does not change with
    the decode step; launch: its launch time per instance (default r.launch_for(op));
    times: its op_times where already priced."""
    t = op_times(op, r) if times is None else times
    k = op.count if k is None else k
    launch = r.launch_for(op) if launch is None else launch
    def times_k(fresh: Arr) -> Arr:  # k * fresh, into fresh where it can be
        return in_place(np.multiply, fresh, k)

    return OpCost(op, k * op.flops, k * op.useful_flops, k * op.weight_bytes,
                  times_k(op.act_read_bytes + op.act_write_bytes),
                  times_k(op.kv_read_bytes + op.kv_write_bytes),
                  k * t.compute_s, k * t.memory_s, times_k(t.latency_s(overlap, launch)),
                  k * t.comm_s, k * launch)


def decode_cost(a: Op, b: Op, r: Rates, overlap: str, n: Arr, span: Arr,
                k: Arr | int | None = None, launch: Arr | None = None,
                times: tuple[OpTimes, OpTimes] | None = None) -> OpCost:
    """Totals over n decode steps; `a` is the op at step 0, `b` at step `span` (the last step,
    or 1): FLOPs and bytes are affine in the step, so the series is exact for them and for the
    roofline bound; fitted efficiencies (curves, kernel model) follow the chord from the first
    to the last step (docs/methodology.md, "Decode and end-to-end latency"). times: op_times
    of a and of b where already priced."""
    ta, tb = (op_times(a, r), op_times(b, r)) if times is None else times
    k = a.count if k is None else k
    launch = r.launch_for(a) if launch is None else launch
    less = n - 1

    def by_slope(x: Arr, slope: Arr) -> Arr:  # sum over the n steps of x + slope * j
        return _by_slope(k, n, less, x, slope)

    def series(x: Arr, y: Arr) -> Arr:
        return by_slope(x, _slope(x, y, span))

    compute_slope, memory_slope = _slope(ta.compute_s, tb.compute_s, span), _slope(
        ta.memory_s, tb.memory_s, span)
    if overlap == "roofline":
        core = sum_linear_max(ta.compute_s, compute_slope, ta.memory_s, memory_slope, n)
        lat = in_place(np.multiply, in_place(np.add, core, n * launch), k)
    else:
        lat = series(ta.compute_s + ta.memory_s, tb.compute_s + tb.memory_s) + k * n * launch
    comm = series(ta.comm_s, tb.comm_s)
    return OpCost(
        a, series(a.flops, b.flops), series(a.useful_flops, b.useful_flops),
        series(a.weight_bytes, b.weight_bytes),
        series(a.act_read_bytes + a.act_write_bytes, b.act_read_bytes + b.act_write_bytes),
        series(a.kv_read_bytes + a.kv_write_bytes, b.kv_read_bytes + b.kv_write_bytes),
        by_slope(ta.compute_s, compute_slope), by_slope(ta.memory_s, memory_slope),
        in_place(np.add, lat, comm), comm, k * n * launch,
    )


def _slope(x: Arr, y: Arr, span: Arr) -> Arr:
    """(y - x) / span, the division in place."""
    return in_place(np.divide, np.subtract(y, x), span)


def _by_slope(k: Arr | int, n: Arr, less: Arr, x: Arr, slope: Arr) -> Arr:
    """k * (n * x + slope * n * less / 2.0) (less = n - 1): the sum over n steps of
    x + slope * j, those operations in that order, in place in the first product's array."""
    out = in_place(np.multiply, np.multiply(slope, n), less)
    out = in_place(np.divide, out, 2.0)
    out = in_place(np.add, out, n * x)
    return in_place(np.multiply, out, k)


@dataclass(frozen=True)
class _Group:
    """Operators lo..hi-1 of a stack's order, priced by one op_times call."""

    lo: int
    hi: int
    a: Op  # views of the stack's fields; the operator's call shape when it is alone
    b: Op | None  # decode: the same operators at the last step
    ab: Op | None  # decode without a call shape: a and b side by side (one op_times call)


@dataclass(frozen=True)
class Stack:
    """Operators (and, for decode, the same operators at the last step) side by side in an
    order that puts each group's operators together (no groups: each priced alone)."""

    ops: tuple[Op, ...]
    width: int  # K: points per operator
    last: tuple[Op, ...] | None = None  # decode: `ops` at the last step
    order: tuple[int, ...] = ()  # position in the stack -> index in `ops`
    groups: tuple[_Group, ...] = ()
    a: Op | None = None  # every operator side by side in `order` ([1, N*K]), count 1
    b: Op | None = None  # decode: the last step's, likewise
    count: Arr = field(default_factory=lambda: np.ones(1))  # [1, N*K]
    rows: int = 1  # D: rows of the prices (one per device)

    def tile(self, x: Arr) -> Arr:
        """A per-point array [1 or D, K] repeated for each operator ([1 or D, N*K])."""
        x = np.asarray(x, dtype=float)
        rows = x.shape[0] if x.ndim == 2 else 1
        out = np.empty((rows, len(self.order), self.width))
        out[:] = x.reshape(rows, 1, -1)
        return out.reshape(rows, -1)

    def launch(self, r: Rates) -> Arr:
        """Each instance's launch time ([D, N*K]): the engine's launches per operator."""
        assert self.a is not None
        n = np.repeat(np.array([r.launches(self.ops[i]) for i in self.order]), self.width)
        return r.launch_for(self.a, n[None])


def _on_points(op: Op, width: int) -> bool:
    """Every field is a scalar or spans the points ([K] or [1, K])."""
    ok = ((), (width,), (1, width), (1,), (1, 1))
    for f in FIELDS:
        x = getattr(op, f)
        if type(x) is not float and x.shape not in ok:
            return False
    return True


def _key(a: Op, b: Op | None, i: int) -> tuple[object, ...]:
    """Operators with the same key take the same branches of op_times and the kernel model."""
    if a.attn is not None or (b is not None and b.attn is not None):
        return ("alone", i)
    return (a.op_class, a.gemm_k > 0, a.op_class == "attention" and a.stage == "decode",
            a.fuse, None if b is None else (b.op_class, b.gemm_k > 0, b.stage, b.fuse))


def _side_by_side(ops: Sequence[Op], width: int) -> Op:
    """One Op whose fields hold the operators' fields side by side ([1, n*K])."""
    first, n = ops[0], len(ops)
    cols: dict[str, Any] = {}
    for f in FIELDS:
        col = np.empty((n, width))
        for j, op in enumerate(ops):
            x = getattr(op, f)  # a scalar, [K] or [1, K] (_on_points)
            col[j] = x if isinstance(x, float) or x.ndim < 2 else x[0]
        cols[f] = col.reshape(1, n * width)

    def per_op(name: str) -> Arr:
        return np.repeat(np.array([float(getattr(op, name)) for op in ops]), width)[None]

    extra: dict[str, Any] = {f: per_op(f) for f in EXTRA}
    return Op(name=first.name, stage=first.stage, op_class=first.op_class, **cols,
              count=1, fuse=first.fuse, **extra)


EXTRA = ("link_hops", "gemm_k", "gemm_n", "fused_n")  # per-operator scalars, stacked as arrays


def _view(full: Op, lo: int, hi: int, width: int, first: Op) -> Op:
    """Operators lo..hi-1 of a stacked Op (views), named and classed as `first`."""
    cut = slice(lo * width, hi * width)
    cols: dict[str, Any] = {f: getattr(full, f)[:, cut] for f in (*FIELDS, *EXTRA)}
    return Op(name=first.name, stage=first.stage, op_class=first.op_class, **cols, count=1,
              attn=first.attn if hi - lo == 1 else None, fuse=first.fuse)


def _pair(a: Op, b: Op) -> Op:
    """a and b side by side: one op_times call prices both."""
    cols: dict[str, Any] = {f: np.concatenate([getattr(a, f), getattr(b, f)], axis=1)
                            for f in (*FIELDS, *EXTRA)}
    return Op(name=a.name, stage=a.stage, op_class=a.op_class, **cols, count=1, fuse=a.fuse)


def stack(ops: Sequence[Op], width: int | None, last: Sequence[Op] | None = None,
          rows: int = 1) -> Stack:
    """Group `ops` (width K points each, as [1, K]; None: points of another shape, every
    operator priced alone; last: the decode operators at the last step; rows: devices)."""
    lasts = None if last is None else tuple(last)
    if width is None or not ops or not all(_on_points(op, width) for op in (*ops, *(lasts or ()))):
        return Stack(tuple(ops), 0, lasts)
    keys: dict[tuple[object, ...], list[int]] = {}
    for i, op in enumerate(ops):
        keys.setdefault(_key(op, None if last is None else last[i], i), []).append(i)
    order = [i for idx in keys.values() for i in idx]
    a = _side_by_side([ops[i] for i in order], width)
    b = None if last is None else _side_by_side([last[i] for i in order], width)
    groups, lo = [], 0
    for idx in keys.values():
        hi = lo + len(idx)
        ga = _view(a, lo, hi, width, ops[idx[0]])
        gb = None if b is None or last is None else _view(b, lo, hi, width, last[idx[0]])
        ab = _pair(ga, gb) if gb is not None and ga.attn is None else None
        groups.append(_Group(lo, hi, ga, gb, ab))
        lo = hi
    count = np.repeat(np.array([float(ops[i].count) for i in order]), width)[None]
    return Stack(tuple(ops), width, lasts, tuple(order), tuple(groups), a, b, count, rows)


def _half(x: Arr, first: bool) -> Arr:
    """The first or second half of the last axis (x spans a and b side by side)."""
    x = np.asarray(x)
    h = x.shape[-1] // 2
    return x[..., :h] if first else x[..., h:]


def _times(st: Stack, r: Rates, decode: bool) -> tuple[OpTimes, OpTimes]:
    """op_times of every operator (and, decode, at the last step), one call per group, in
    the stack's order ([D, N*K])."""
    n = len(st.order) * st.width
    ta = [np.empty((st.rows, n)) for _ in range(3)]
    tb = [np.empty((st.rows, n)) for _ in range(3)] if decode else ta
    for g in st.groups:
        cut = slice(g.lo * st.width, g.hi * st.width)
        if decode and g.ab is not None:
            t = op_times(g.ab, r)
            parts = [(ta, True), (tb, False)]
            for dst, first in parts:
                for d, x in zip(dst, (t.compute_s, t.memory_s, t.comm_s), strict=True):
                    d[:, cut] = _half(x, first)
            continue
        for dst, op in ((ta, g.a), (tb, g.b if decode else None)):
            if op is not None:
                t = op_times(op, r)
                for d, x in zip(dst, (t.compute_s, t.memory_s, t.comm_s), strict=True):
                    d[:, cut] = x
    return OpTimes(*ta), OpTimes(*tb)


def _columns_only(r: Rates) -> bool:
    """The rates are one column per device ([D, 1]): they broadcast over stacked points."""
    return all(np.shape(x)[-1:] in ((), (1,)) for x in (
        r.matmul_flops_per_s, r.attention_flops_per_s, r.vector_flops_per_s, r.bytes_per_s,
        r.launch_s, r.link_bytes_per_s, r.link_latency_s))


def _cut(st: Stack, c: OpCost) -> list[OpCost]:
    """One OpCost per operator, in the order of `ops` (views of the stack's arrays)."""
    n, k = len(st.order), st.width
    cols = []
    for x in (c.flops, c.useful_flops, c.weight_bytes, c.act_bytes, c.kv_bytes, c.compute_s,
              c.memory_s, c.latency_s, c.comm_s, c.launch_s):
        x = np.asarray(x)
        x = x if x.ndim == 2 else np.broadcast_to(x, (1, n * k))
        cols.append(list(x.reshape(x.shape[0], n, k).swapaxes(0, 1)))  # n views [rows, K]
    out: list[OpCost | None] = [None] * n
    for i, *fields in zip(st.order, *cols, strict=True):
        out[i] = OpCost(st.ops[i], *fields)
    return [c for c in out if c is not None]


def price_static(st: Stack, r: Rates, overlap: str) -> list[OpCost]:
    """static_cost of every operator of the stack (the step-0 operators of a decode stack)."""
    if st.a is None or not _columns_only(r):
        return [static_cost(op, r, overlap) for op in st.ops]
    t, _ = _times(st, r, decode=False)
    return _cut(st, static_cost(st.a, r, overlap, st.count, st.launch(r), t))


def price_decode(st: Stack, r: Rates, overlap: str, n: Arr, span: Arr) -> list[OpCost]:
    """decode_cost of every (first step, last step) pair of a decode stack."""
    if st.last is None:
        raise ValueError("price_decode: a decode stack, stack(..., last=...)")
    if st.a is None or st.b is None or not _columns_only(r):
        return [decode_cost(a, b, r, overlap, n, span) for a, b in zip(st.ops, st.last,
                                                                        strict=True)]
    ta, tb = _times(st, r, decode=True)
    return _cut(st, decode_cost(st.a, st.b, r, overlap, st.tile(n), st.tile(span), st.count,
                                st.launch(r), (ta, tb)))
