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

import dataclasses
from dataclasses import dataclass

import numpy as np

from costmodel.errors import CostmodelError
from costmodel.core.evaluate import Evaluation, evaluate
from costmodel.core.stages import Points, Precision, layer_groups
from costmodel.core.ops import Arr
from costmodel.core.parallel.tensor import shard_spec
from costmodel.core.roofline import Rates
from costmodel.specs.compression import Compression
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
    per_gpu_weights_bytes: Arr  # most loaded GPU
    per_gpu_kv_cache_bytes: Arr
    per_gpu_activation_bytes: Arr
    per_gpu_total_bytes: Arr
    per_gpu_fits: Arr


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


def stage_kv_bytes(spec: ModelSpec, pts: Points, prec: Precision, lo: int, hi: int) -> Arr:
    """KV cache of layers lo..hi-1 at the end of generation: prompt kept + N - 1 per layer."""
    m, n_steps = spec.llm, pts.output - 1.0
    kv_tokens = sum(max(0, min(h, hi) - max(g, lo)) * (s + n_steps)
                    for g, h, s in layer_groups(m, pts))
    return pts.batch * 2 * m.kv_dim * kv_tokens * prec.kv


def _tokens_at(spec: ModelSpec, pts: Points, layer: int) -> Arr:
    return next(s for lo, hi, s in layer_groups(spec.llm, pts) if lo <= layer < hi)


def _p2p_s(spec: ModelSpec, pts: Points, prec: Precision, rates: Rates,
           bounds: tuple[tuple[int, int], ...], rows_per_seq: Arr | None, batch: Arr) -> Arr:
    """Sum over stage boundaries of link_latency + hidden-state bytes / link bandwidth."""
    total = np.zeros_like(np.asarray(batch, dtype=float))
    for _, hi in bounds[:-1]:
        rows = _tokens_at(spec, pts, hi) if rows_per_seq is None else rows_per_seq
        nbytes = batch * rows * spec.llm.hidden_size * prec.act
        total = total + rates.link_latency_s + nbytes / rates.link_bytes_per_s
    return total


def _comm_total(ev: Evaluation) -> Arr:
    return sum((c.comm_s for c in ev.op_costs if c.op.op_class == "comm"), 0.0 * ev.ttft_s)


def _pipelined(ev: Evaluation, ev_mb: Evaluation, pp: int, m: int, p2p_pre: Arr,
               p2p_step: Arr) -> Evaluation:
    """Stage latencies, TTFT, TPOT and e2e with pp stages and m prefill microbatches."""
    st = ev.stages
    pre = (m + pp - 1) / pp * ev_mb.stages["prefill"].latency_s + p2p_pre
    dec = st["decode"].latency_s + ev.decode_steps * p2p_step
    ttft = st["vision"].latency_s + st["projector"].latency_s + pre
    e2e = ttft + dec
    batch_tokens = ev.tokens_per_s * ev.e2e_latency_s  # batch x output tokens
    stages = {**st, "prefill": dataclasses.replace(st["prefill"], latency_s=pre),
              "decode": dataclasses.replace(st["decode"], latency_s=dec)}
    return dataclasses.replace(ev, stages=stages, ttft_s=ttft, tpot_s=ev.tpot_s + p2p_step,
                               e2e_latency_s=e2e, tokens_per_s=batch_tokens / e2e)


def _most_loaded_gpu(gpu: ModelSpec, pts: Points, prec: Precision,
                     bounds: tuple[tuple[int, int], ...], like: Arr) -> tuple[Arr, Arr]:
    """(weights, KV cache) bytes of the stage whose weights + KV are largest, per point."""
    w_stage = np.asarray([p * prec.weight for p in stage_params(gpu, bounds)])
    kv_stage = np.stack([stage_kv_bytes(gpu, pts, prec, lo, hi) + 0.0 * like
                         for lo, hi in bounds])
    worst = np.argmax(kv_stage + w_stage.reshape((-1,) + (1,) * (kv_stage.ndim - 1)), axis=0)
    return w_stage[worst], np.take_along_axis(kv_stage, worst[None], axis=0)[0]


def evaluate_parallel(spec: ModelSpec, pts: Points, prec: Precision, rates: Rates,
                      capacity_bytes: Arr, par: Parallelism, flash: bool = True,
                      overlap: str = "roofline",
                      all_logits: bool = False,
                      convention: str = "costmodel",
                      compression: Compression | None = None) -> tuple[Evaluation, ParallelResult]:
    """`evaluate` for one model replica on tp x pp GPUs. For tp = pp = 1 the Evaluation is
    exactly `evaluate`'s. Memory fields of the Evaluation stay whole-model (one copy of the
    weights and of the logical KV cache); `fits` becomes "every GPU fits"."""
    tp, pp, m = par.tp, par.pp, par.m
    if par.gpus > 1 and not np.all(np.isfinite(rates.link_bytes_per_s)):
        raise CostmodelError("interconnect: the hardware profile has no GPU-to-GPU link "
                             "bandwidth; add interconnect.bandwidth_GBps or use --tp 1 --pp 1")
    gpu = shard_spec(spec, tp)
    if convention != "costmodel" and par.gpus > 1:
        raise CostmodelError("convention: llm-viewer is single-GPU here; drop --tp/--pp")
    kw = {"flash": flash, "overlap": overlap, "all_logits": all_logits, "tp": tp,
          "convention": convention, "compression": compression}
    ev = evaluate(gpu, pts, prec, rates, capacity_bytes, **kw)
    bounds = stage_bounds(spec.llm.num_layers, pp)
    p2p_pre = p2p_step = 0.0 * ev.ttft_s
    if pp > 1:
        ev_mb = ev if m == 1 else evaluate(
            gpu, dataclasses.replace(pts, batch=pts.batch / m), prec, rates, capacity_bytes, **kw)
        p2p_pre = _p2p_s(gpu, pts, prec, rates, bounds, None, pts.batch / m)
        p2p_step = _p2p_s(gpu, pts, prec, rates, bounds, np.ones_like(pts.batch), pts.batch)
        ev = _pipelined(ev, ev_mb, pp, m, p2p_pre, p2p_step)
    w_gpu, kv_gpu = _most_loaded_gpu(gpu, pts, prec, bounds, ev.ttft_s)
    total_gpu = w_gpu + kv_gpu + ev.activation_bytes
    fits = total_gpu <= capacity_bytes
    if par.gpus > 1:
        w_all = spec.param_counts()["total"] * prec.weight + 0.0 * ev.ttft_s
        kv_all = stage_kv_bytes(spec, pts, prec, 0, spec.llm.num_layers) + 0.0 * ev.ttft_s
        ev = dataclasses.replace(ev, weights_bytes=w_all, kv_cache_bytes=kv_all,
                                 total_bytes=w_all + kv_all + ev.activation_bytes, fits=fits)
    result = ParallelResult(
        par=par, stage_layers=bounds, comm_s=_comm_total(ev),
        p2p_s=p2p_pre + ev.decode_steps * p2p_step,
        prefill_bubble_fraction=(pp - 1) / (m + pp - 1), per_gpu_weights_bytes=w_gpu,
        per_gpu_kv_cache_bytes=kv_gpu, per_gpu_activation_bytes=ev.activation_bytes,
        per_gpu_total_bytes=total_gpu, per_gpu_fits=fits)
    return ev, result
