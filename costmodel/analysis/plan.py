"""Capacity planning against a latency SLO, and decode batching. Pure: no I/O.

plan (per device, one vectorised evaluation over the batch grid):
- meets(b) = TTFT(b) <= ttft_slo and TPOT(b) <= tpot_slo and the footprint fits in memory.
- largest batch = the last b of the longest run 1, 2, ..., b (of the grid) where meets holds,
  0 when batch 1 fails.
- limiting resource, read at the first failing batch (largest + 1, or 1): 'capacity' if the
  footprint does not fit; for a violated TTFT / TPOT, 'host' when >= half of that metric's
  latency is in host-bound stages (the engine's launches take longer than the device, as
  `compare` marks H), else the resource holding most of it (devices.resource): 'compute'
  (compute-bound operators), 'interconnect' (tp / ep communication operators) or
  'bandwidth' (memory-bound operators); on one GPU: 'compute' when >= half is compute-bound.
- scaling that would meet the SLO at a target batch: the smallest factor on peak FLOP/s alone,
  on memory bandwidth alone, and on both together, found by re-evaluating the device with
  scaled rates over a geometric grid of factors (1% steps, 1x..1000x); inf where no factor in
  the grid meets it (the other roofline term is the floor). Capacity: footprint / memory.

batching: decode throughput = batch / TPOT (tokens/s over the decode phase). Decode turns
compute-bound at the smallest batch where >= half of the decode latency is in compute-bound
operators (latency-weighted); the same test on the decode linear layers alone (attention reads
the KV cache, whose bytes grow with the batch, and never turns compute-bound) gives the
'linears' crossing, which sits near the device's ridge point x weight bytes / 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from costmodel.analysis.devices import Fleet, evaluate_fleet, resource
from costmodel.core.evaluate import Evaluation
from costmodel.core.metrics import compute_share
from costmodel.core.ops import Arr
from costmodel.errors import CostmodelError
from costmodel.specs.hardware import HardwareProfile
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import Workload

FACTORS = np.geomspace(1.0, 1000.0, int(np.ceil(np.log(1000.0) / np.log(1.01))) + 1)
TTFT_STAGES = ("vision", "projector", "prefill")
LIMIT_OF = {"compute": "compute", "memory": "bandwidth", "comm": "interconnect"}


@dataclass(frozen=True)
class Slo:
    ttft_s: float = np.inf
    tpot_s: float = np.inf


def meets(ev: Evaluation, slo: Slo, latency_only: bool = False) -> Arr:
    ok = (ev.ttft_s <= slo.ttft_s) & (ev.tpot_s <= slo.tpot_s)
    return ok if latency_only else ok & ev.fits


def largest_batch(ok: Arr, batches: Arr) -> tuple[Arr, Arr]:
    """(largest batch of the leading run of True per row (0 if none), index of first False)."""
    run = np.cumprod(ok, axis=1).sum(axis=1).astype(int)
    b = np.where(run > 0, batches.reshape(-1)[np.maximum(run - 1, 0)], 0)
    return b, run


def _host_share(ev: Evaluation, stages: Sequence[str], d: int, k: int) -> float:
    """Share of the stages' latency in host-bound stages (the engine's launches, overlapping
    the device, take longer: StageTotals.host_bound), as `compare` marks them H."""
    def at(x: Arr | float) -> float:
        return float(np.broadcast_to(x, ev.ttft_s.shape)[d, k])

    lat = {s: at(ev.stages[s].latency_s) for s in stages}
    host = sum(v for s, v in lat.items() if at(ev.stages[s].host_bound))
    return host / sum(lat.values()) if sum(lat.values()) > 0 else 0.0


def _limits(ev: Evaluation, slo: Slo, d: int, k: int) -> str:
    why = [] if bool(ev.fits[d, k]) else ["capacity"]
    for metric, stages, limit in (("ttft", TTFT_STAGES, slo.ttft_s),
                                  ("tpot", ("decode",), slo.tpot_s)):
        if getattr(ev, f"{metric}_s")[d, k] > limit:
            side = LIMIT_OF[str(np.broadcast_to(resource(ev, stages), ev.ttft_s.shape)[d, k])]
            why.append(f"{'host' if _host_share(ev, stages, d, k) >= 0.5 else side} "
                       f"({metric.upper()})")
    return ", ".join(why)


@dataclass(frozen=True)
class PlanResult:
    fleet: Fleet  # over the batch grid
    batches: Arr  # (K,)
    largest: Arr  # (D,) 0 = not met at batch 1
    limit: list[str]  # limiting resource per device
    target_batch: int
    scale: dict[str, Arr]  # 'compute' | 'bandwidth' | 'both' | 'capacity' -> (D,)


def _smallest_factor(ok: Arr) -> Arr:
    idx = np.argmax(ok, axis=1)
    return np.where(ok.any(axis=1), FACTORS[idx], np.inf)


def scaling(spec: ModelSpec, profiles: Sequence[HardwareProfile], w: Workload, slo: Slo,
            auto_dtype: bool) -> dict[str, Arr]:
    """Smallest factor per resource that meets the latency SLO at w.batch (see module doc)."""
    f = FACTORS[None, :]
    out = {}
    for name, c, bw in (("compute", f, 1.0), ("bandwidth", 1.0, f), ("both", f, f)):
        ev = evaluate_fleet(spec, profiles, w, auto_dtype=auto_dtype, compute_scale=c,
                            bandwidth_scale=bw).ev
        out[name] = _smallest_factor(meets(ev, slo, latency_only=True))
    base = evaluate_fleet(spec, profiles, w, auto_dtype=auto_dtype)
    out["capacity"] = np.maximum(base.ev.per_gpu_total_memory_bytes[:, 0] / base.capacity_bytes[:, 0], 1.0)
    return out


def plan(spec: ModelSpec, profiles: Sequence[HardwareProfile], w: Workload, slo: Slo,
         max_batch: int = 1024, auto_dtype: bool = True) -> PlanResult:
    batches = np.arange(1, max_batch + 1, dtype=float)
    fl = evaluate_fleet(spec, profiles, w, batch=batches, auto_dtype=auto_dtype)
    largest, first_fail = largest_batch(meets(fl.ev, slo), batches)
    limit = [("none up to batch " + str(max_batch)) if k >= len(batches)
             else _limits(fl.ev, slo, d, int(k)) for d, k in enumerate(first_fail)]
    return PlanResult(fl, batches, largest, limit, w.batch,
                      scaling(spec, profiles, w, slo, auto_dtype))


@dataclass(frozen=True)
class Batching:
    fleet: Fleet
    batches: Arr  # (K,)
    decode_tokens_per_s: Arr  # (D, K)
    decode_share: Arr  # (D, K) compute-bound share of decode latency
    linear_share: Arr  # (D, K) same, decode linear layers (incl. lm_head) only
    turns_compute: Arr  # (D,) smallest batch with decode_share >= 0.5 (nan: none)
    linears_compute: Arr  # (D,) smallest batch with linear_share >= 0.5 (nan: none)


def _first(ok: Arr, batches: Arr) -> Arr:
    return np.where(ok.any(axis=1), batches[np.argmax(ok, axis=1)], np.nan)


def batching(spec: ModelSpec, profiles: Sequence[HardwareProfile], w: Workload, batches: Arr,
             auto_dtype: bool = True) -> Batching:
    """Decode throughput, TPOT and compute-bound shares over `batches`. The shares are of the
    decode steps, so 1 output token (no step) is refused."""
    if w.output_tokens < 2:
        raise CostmodelError("output_tokens: with 1 output token no decode step runs, and "
                             "batching studies the decode steps; give 2 or more")
    fl = evaluate_fleet(spec, profiles, w, batch=batches, auto_dtype=auto_dtype)
    ev = fl.ev
    share = compute_share(ev.op_costs, ("decode",), ev.ttft_s)
    lin = compute_share(ev.op_costs, ("decode",), ev.ttft_s, classes=("linear", "lm_head"))
    return Batching(fl, batches, fl.batch / ev.tpot_s, share, lin,
                    _first(share >= 0.5, batches), _first(lin >= 0.5, batches))


@dataclass(frozen=True)
class Capacity:
    """Serving capacity of one workload per device, static batching (docs/methodology.md,
    "Serving capacity"): a batch of b requests runs prefill together, then decodes together
    until the last token; the next batch starts when it ends. `output_tokens_per_s` is the
    max-load throughput: an engine fed requests at an infinite rate that admits a request only
    when the KV cache of its whole sequence fits (TensorRT-LLM's "guaranteed no evict") and
    prefills requests as they are admitted, so beside the weights and every request's KV cache
    it holds one request's activations, not a static batch's; its in-flight batching priced as
    a static batch of that size (methodology, "Max load")."""

    fleet: Fleet
    batches: Arr  # (K,)
    max_fit: Arr  # (D,) largest batch whose footprint (weights + KV cache of all) fits
    decode_tokens_per_s: Arr  # (D,) batch / TPOT at max_fit (nan when batch 1 does not fit)
    max_load_batch: Arr  # (D,) largest batch whose weights + KV cache + one request's
    #                      activations fit (in-flight batching; 0 if none)
    output_tokens_per_s: Arr  # (D,) batch x output tokens / end-to-end latency there
    slo_batch: Arr  # (D,) largest batch that fits and meets the SLO (0: none)
    requests_per_s: Arr  # (D,) per GPU: max over b <= slo_batch of b / e2e(b) / GPUs
    ttft_s: Arr  # (D,) at the batch giving requests_per_s (nan: none)
    tpot_s: Arr  # (D,)
    best_batch: Arr  # (D,) the batch giving requests_per_s (nan: none)


def _at(x: Arr, idx: Arr, ok: Arr) -> Arr:
    return np.where(ok, np.take_along_axis(x, np.maximum(idx, 0)[:, None], axis=1)[:, 0], np.nan)


def _inflight_fits(fl: Fleet) -> Arr:
    """(D, K): the weights and KV cache of every request of batch b (its whole sequence) and
    one request's activation peak (the batch-1 column: requests are prefilled as admitted) fit
    on every GPU. Bytes against the device's memory, as Evaluation.fits."""
    ev = fl.ev
    one = np.broadcast_to(ev.activation_bytes, ev.per_gpu_total_memory_bytes.shape)[:, :1]
    return ev.per_gpu_weights_bytes + ev.per_gpu_kv_cache_bytes + one <= fl.capacity_bytes


def capacity_of(spec: ModelSpec, profiles: Sequence[HardwareProfile], w: Workload, slo: Slo,
                max_batch: int = 1024, auto_dtype: bool = True) -> Capacity:
    batches = np.arange(1, max_batch + 1, dtype=float)
    fl = evaluate_fleet(spec, profiles, w, batch=batches, auto_dtype=auto_dtype)
    ev = fl.ev
    fit, n_fit = largest_batch(ev.fits, batches)
    slo_b, n_ok = largest_batch(meets(ev, slo), batches)
    rate = batches[None, :] / ev.e2e_latency_s / w.parallel.gpus
    lead = np.arange(len(batches))[None, :] < n_ok[:, None]  # the run that meets the SLO
    best = np.argmax(np.where(lead, rate, -1.0), axis=1)
    ok, fits = n_ok > 0, n_fit > 0
    load, n_load = largest_batch(_inflight_fits(fl), batches)
    out = batches[None, :] * w.output_tokens / ev.e2e_latency_s  # max load: every slot filled
    return Capacity(fl, batches, fit, _at(batches[None, :] / ev.tpot_s, n_fit - 1, fits),
                    load, _at(out, n_load - 1, n_load > 0), slo_b,
                    np.where(ok, _at(rate, best, ok), 0.0),
                    _at(ev.ttft_s, best, ok), _at(ev.tpot_s, best, ok),
                    _at(batches[None, :], best, ok))


def capacity(spec: ModelSpec, profiles: Sequence[HardwareProfile], w: Workload, slo: Slo,
             max_batch: int = 1024, auto_dtype: bool = True) -> dict[str, Capacity]:
    """Capacity without and with the workload's compression, side by side."""
    out = {"baseline": capacity_of(spec, profiles, w.model_copy(update={"compression": None}),
                                   slo, max_batch, auto_dtype)}
    if w.compression is not None:
        out["compressed"] = capacity_of(spec, profiles, w, slo, max_batch, auto_dtype)
    return out
