"""Quantities derived from operators, each computed here once: KV-cache bytes, the memory
footprint (whole model and most loaded GPU), the compute-bound share of a latency and the
per-operator bound label. Formula: docs/methodology.md, section "The evaluation path"
("Memory footprint", "Compute-bound share and the bound label").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from costmodel.core import cross_attention
from costmodel.core.inputs import Points, Precision
from costmodel.core.layer_extras import cached_tokens
from costmodel.core.ops import Arr, Op
from costmodel.core.parallel.pipeline import stage_bounds, stage_part_params
from costmodel.core.stages import kv_groups
from costmodel.specs.model import LLMSpec, ModelSpec
from costmodel.specs.workload import Parallelism


def kv_cache_bytes(m: LLMSpec, pts: Points, kv_bytes: float, lo: int = 0,
                   hi: int | None = None) -> Arr:
    """KV cache of layers lo..hi-1 at the end of generation (bytes):
    batch x 2 (K and V) x kv_dim x (prompt tokens kept in the layer + N - 1) x bytes/element.
    Prompt tokens kept: what the layer saw (token compression, Points.layer_prompt) or its
    budget after KV-cache compression (Points.layer_kv), through stages.kv_groups; a sliding-
    window layer holds at most its window W of them (layer_extras.cached_tokens). Llama-3.2-
    Vision: self layers over the text, cross layers a fixed cache of the visual tokens
    (cross_attention.cached_token_layers)."""
    hi = m.num_layers if hi is None else hi
    tokens = (cross_attention.cached_token_layers(m, pts, lo, hi) if m.cross_attention_layers
              else _cached_token_layers(m, pts, lo, hi))
    return pts.batch * 2 * m.kv_dim * tokens * kv_bytes


def _cached_token_layers(m: LLMSpec, pts: Points, lo: int, hi: int) -> Arr | float:
    """Tokens the KV cache of layers lo..hi-1 holds at the end of generation, summed over the
    layers (kv_cache_bytes' docstring)."""
    n_steps = pts.output - 1.0
    caps = pts.kv_cap or (None,) * len(kv_groups(m, pts))  # a rolling cache stops at its cap
    return sum(cached_tokens(m, max(g, lo), min(h, hi),
                             s + n_steps if c is None else np.minimum(s + n_steps, c))
               for (g, h, s), c in zip(kv_groups(m, pts), caps, strict=True)
               if min(h, hi) > max(g, lo))


def peak_activation_bytes(ops: Iterable[Op], like: Arr) -> Arr:
    """Largest single operator's activation inputs + outputs (one instance): the transient
    working set on top of weights and KV cache."""
    peak = np.zeros_like(like, dtype=float)
    for op in ops:
        peak = np.maximum(peak, op.act_read_bytes + op.act_write_bytes)
    return peak


def summed_peak_bytes(total_memory_bytes: Arr, activation_bytes: Arr, gpus: int) -> Arr:
    """Bytes of GPU memory summed over a replica's GPUs, each at its own peak (what
    torch.cuda.max_memory_allocated summed over the devices reads): one copy of the weights and
    of the KV cache split over them, and every GPU's own activation peak (each runs operators
    of the same shapes: its pipeline stage's layers, its tensor-parallel shard) =
    total_memory_bytes + (gpus - 1) x activation_bytes."""
    return total_memory_bytes + (gpus - 1) * activation_bytes


@dataclass(frozen=True)
class Footprint:
    """Memory in bytes: the whole model (one copy of the weights, the logical KV cache) and
    the most loaded GPU of a tp x pp replica (equal for one GPU)."""

    weights_bytes: Arr
    kv_cache_bytes: Arr
    activation_bytes: Arr
    per_gpu_weights_bytes: Arr
    per_gpu_kv_cache_bytes: Arr

    @property
    def total_memory_bytes(self) -> Arr:
        return self.weights_bytes + self.kv_cache_bytes + self.activation_bytes

    @property
    def per_gpu_total_memory_bytes(self) -> Arr:
        return self.per_gpu_weights_bytes + self.per_gpu_kv_cache_bytes + self.activation_bytes


def part_weight_bytes(params: dict[str, int], prec: Precision) -> float:
    """Bytes of weights held, part by part: parameters x the part's bytes per element."""
    return sum(n * prec.part(part).weight_bytes_per_element for part, n in params.items())


def footprint(spec: ModelSpec, gpu: ModelSpec, pts: Points, prec: Precision, par: Parallelism,
              activation_bytes: Arr) -> Footprint:
    """costmodel's count: weights = all parameters x bytes; KV cache as kv_cache_bytes; per
    GPU: the pipeline stage (of `gpu`, one TP shard) whose weights + KV cache are largest."""
    like = activation_bytes
    whole = ((0, spec.llm.num_layers),)
    weights = part_weight_bytes(stage_part_params(spec, whole)[0], prec) + 0.0 * like
    kv = kv_cache_bytes(spec.llm, pts, prec.kv_bytes_per_element) + 0.0 * like
    bounds = stage_bounds(spec.llm.num_layers, par.pp)
    w_stage = np.asarray([part_weight_bytes(p, prec) for p in stage_part_params(gpu, bounds)])
    kv_stage = np.stack([kv_cache_bytes(gpu.llm, pts, prec.kv_bytes_per_element, lo, hi) + 0.0 * like
                         for lo, hi in bounds])
    worst = np.argmax(kv_stage + w_stage.reshape((-1,) + (1,) * (kv_stage.ndim - 1)), axis=0)
    kv_gpu = np.take_along_axis(kv_stage, worst[None], axis=0)[0]
    return Footprint(weights, kv, activation_bytes, w_stage[worst], kv_gpu)


def is_compute_bound(compute_s: Arr, memory_s: Arr, op_class: str) -> Arr:
    """An operator is compute-bound when its compute time is at least its memory time;
    interconnect operators (op_class 'comm') never are: their time is link time; nor are the
    engine's host times (op_class 'overhead': no compute, no memory)."""
    return np.asarray(compute_s >= memory_s) & (op_class not in ("comm", "overhead"))


def bound_label(compute_s: Arr | float, memory_s: Arr | float, op_class: str) -> Arr:
    """'compute', 'memory', 'comm' for interconnect operators, 'host' for the engine's host
    times (op_class 'overhead'; 'memory' for its device traffic rows, core/engine_traffic.py,
    which carry memory time)."""
    if op_class == "comm":
        return np.full(np.shape(compute_s), "comm")
    if op_class == "overhead":
        return np.where(np.asarray(memory_s) > 0, "memory", "host")
    return np.where(compute_s >= memory_s, "compute", "memory")


def latency_share(costs: Sequence, stages: Sequence[str], like: Arr,
                  pick: Callable[[Any], Arr | bool],
                  classes: Sequence[str] | None = None) -> Arr:
    """Share (0..1) of the latency of `stages` (optionally only op classes `classes`) in the
    operators `pick` takes (a bool, or a per-point mask, of an OpCost), latency-weighted,
    totals over all instances and decode steps. `costs` are core.evaluate.OpCost records."""
    part = np.zeros_like(like, dtype=float)
    total = np.zeros_like(like, dtype=float)
    for c in costs:
        if c.op.stage in stages and (classes is None or c.op.op_class in classes):
            total = total + c.latency_s
            part = part + np.where(pick(c), c.latency_s, 0.0)
    return np.divide(part, total, out=np.zeros_like(total), where=total > 0)


def compute_share(costs: Sequence, stages: Sequence[str], like: Arr,
                  classes: Sequence[str] | None = None) -> Arr:
    """Share (0..1) of the latency of `stages` (optionally only op classes `classes`) spent in
    compute-bound operators (is_compute_bound): latency_share."""
    return latency_share(costs, stages, like, lambda c: is_compute_bound(
        c.compute_s, c.memory_s, c.op.op_class), classes)
