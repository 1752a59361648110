"""Pipeline parallelism: contiguous layer stages, each stage's parameters, the point-to-point
transfers between stages and the GPipe prefill over m microbatches. The memory each GPU holds
is `costmodel.core.metrics.footprint`. Formula: docs/methodology.md, section "Multi-GPU".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costmodel.core.inputs import Points, Precision
from costmodel.core.ops import Arr
from costmodel.core.roofline import Rates
from costmodel.core.stages import layer_groups
from costmodel.errors import CostmodelError
from costmodel.specs.model import ModelSpec, _norm_params
from costmodel.specs.workload import Parallelism


@dataclass(frozen=True)
class ParallelResult:
    """Multi-GPU figures per point (arrays) for one Parallelism."""

    par: Parallelism
    stage_layers: tuple[tuple[int, int], ...]  # (first, end) layer per stage
    comm_s: Arr  # all-reduce / all-gather time, all stages (included in the latencies)
    p2p_s: Arr  # pipeline transfers, prefill + all decode steps (included)
    prefill_bubble_fraction: float


def stage_bounds(num_layers: int, pp: int) -> tuple[tuple[int, int], ...]:
    if pp > num_layers:
        raise CostmodelError(f"parallel.pp: {pp} stages for {num_layers} layers; use at most "
                             f"{num_layers}")
    sizes = [num_layers // pp + (1 if s < num_layers % pp else 0) for s in range(pp)]
    starts = np.cumsum([0] + sizes)
    return tuple((int(starts[s]), int(starts[s + 1])) for s in range(pp))


def stage_part_params(spec: ModelSpec, bounds: tuple[tuple[int, int], ...]) -> list[dict[str, int]]:
    """Parameters each pipeline stage holds by weight part (specs/quantization.py; spec = one
    GPU's TP shard): 'layers' = its decoder layers (the final norm on the last stage), 'embed'
    and 'vision' (encoder and projector) on the first, 'lm_head' on the last; with tied
    embeddings and pp > 1 the last stage holds its own copy of the table ('embed')."""
    m, counts = spec.llm, spec.param_counts()
    per = [{"layers": (hi - lo) * m.layer_params() + m.cross_extra_params(lo, hi)}
           for lo, hi in bounds]
    per[0].update(embed=m.embedding_params(), vision=counts["vision"] + counts["projector"])
    per[-1]["layers"] += _norm_params(m.norm_kind, m.hidden_size)
    per[-1]["lm_head"] = m.lm_head_params()
    if m.tie_embeddings and len(bounds) > 1:
        per[-1]["embed"] = m.embedding_params()
    return per


def _tokens_at(spec: ModelSpec, pts: Points, layer: int) -> Arr:
    return next(s for lo, hi, s in layer_groups(spec.llm, pts) if lo <= layer < hi)


def p2p_s(spec: ModelSpec, pts: Points, prec: Precision, rates: Rates,
          bounds: tuple[tuple[int, int], ...], rows_per_seq: Arr | None, batch: Arr) -> Arr:
    """Sum over stage boundaries of link_latency + hidden-state bytes / link bandwidth;
    rows_per_seq None = the prompt tokens the next layer sees (prefill)."""
    total = np.zeros_like(np.asarray(batch, dtype=float))
    for _, hi in bounds[:-1]:
        rows = _tokens_at(spec, pts, hi) if rows_per_seq is None else rows_per_seq
        nbytes = batch * rows * spec.llm.hidden_size * prec.act_bytes_per_element
        total = total + rates.link_latency_s + nbytes / rates.link_bytes_per_s
    return total


def pipelined_prefill_s(prefill_mb_s: Arr, pp: int, m: int, p2p_prefill_s: Arr) -> Arr:
    """GPipe prefill of m microbatches over pp balanced stages:
    (m + pp - 1) x T_mb / pp + (pp - 1) transfers of one microbatch."""
    return (m + pp - 1) / pp * prefill_mb_s + p2p_prefill_s
