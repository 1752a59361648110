"""Multi-GPU evaluation: tensor parallelism (parallel.py) plus pipeline stages, and the memory
each GPU holds. Conventions (also in docs/methodology.md, "Multi-GPU"):

- Layers are split into pp contiguous stages, sizes as even as possible (the first
  num_layers % pp stages get one more). Stage 0 also holds the embedding, vision encoder and
  projector; the last stage the final norm and lm_head (and, with tied embeddings and pp > 1,
  its own copy of the embedding matrix, as Megatron-LM keeps).
- Per-GPU memory = its stage's weights (TP shard) + its layers' KV cache (TP shard) + the
  activation working set of the largest operator; `per_gpu_total_bytes` is the most loaded GPU.
- One request (microbatches = 1): latency = sum over stages (the TP-sharded model's latency)
  + (pp-1) point-to-point transfers per forward pass, each link_latency + bytes / bandwidth of
  the hidden states [rows, hidden] crossing the stage boundary.
- Prefill of a batch in m microbatches (GPipe, Huang et al. 2019): LLM prefill time =
  (m + pp - 1) x T_mb / pp + (pp - 1) transfers of one microbatch, where T_mb is the TP-sharded
  prefill of one microbatch over all layers (stages assumed balanced; later microbatches'
  transfers overlap compute). Bubble fraction = (pp - 1) / (m + pp - 1). Vision and projector
  run for the whole batch before the LLM, on stage 0.
- Decode: the batch steps through the stages as one microbatch (no interleaving of
  microbatches across decode steps): TPOT = sharded step time + (pp - 1) transfers; only one
  stage is busy at a time (bubble (pp - 1) / pp).
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


def stage_params(spec: ModelSpec, bounds: tuple[tuple[int, int], ...]) -> list[int]:
    """Parameters each pipeline stage holds (spec = one GPU's TP shard)."""
    m, counts = spec.llm, spec.param_counts()
    per = [(hi - lo) * m.layer_params() for lo, hi in bounds]
    per[0] += m.embedding_params() + counts["vision"] + counts["projector"]
    per[-1] += _norm_params(m.norm_kind, m.hidden_size) + m.lm_head_params()
    if m.tie_embeddings and len(bounds) > 1:
        per[-1] += m.embedding_params()
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
        nbytes = batch * rows * spec.llm.hidden_size * prec.act
        total = total + rates.link_latency_s + nbytes / rates.link_bytes_per_s
    return total


def pipelined_prefill_s(prefill_mb_s: Arr, pp: int, m: int, p2p_prefill_s: Arr) -> Arr:
    """GPipe prefill of m microbatches over pp balanced stages:
    (m + pp - 1) x T_mb / pp + (pp - 1) transfers of one microbatch."""
    return (m + pp - 1) / pp * prefill_mb_s + p2p_prefill_s
