"""Decode versus batch and serving capacity per device: the records of `costmodel batching`
and `costmodel capacity` and their Python API, `costmodel.batching(...)` -> BatchingStudy and
`costmodel.capacity(...)` -> ServingCapacity.

The CLI commands build their rows with `batching_records` and `capacity_records` over
analysis/plan.py's `batching` and `capacity` on the same default device list
(device_ranking.default_devices) and print them: `--format json` is `records()`, `--format
csv` the same rows (`frame()` as a DataFrame), so the notebook and the command cannot disagree
(tests/cli/test_serving_api.py). Base units throughout (seconds, bytes). Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from costmodel.analysis.arguments import ModelArg, grid_values
from costmodel.analysis.device_ranking import Rows, device_fields, devices_for, model_and_workload
from costmodel.analysis.plan import Batching, Capacity, Slo
from costmodel.analysis.plan import batching as batching_fleet
from costmodel.analysis.plan import capacity as capacity_fleets
from costmodel.analysis.planning import max_batch_arg, slo_of, slo_text
from costmodel.errors import CostmodelError
from costmodel.specs.workload import MAX_BATCH, Workload

if TYPE_CHECKING:
    pass


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def batching_records(res: Batching) -> list[dict[str, Any]]:
    """One record per (device, batch), devices in order and each device's batches ascending:
    latencies, decode throughput and compute-bound shares, memory, and the device's
    crossings (None: not within the batches)."""
    ev, recs = res.fleet.ev, []
    for d, h in enumerate(res.fleet.profiles):
        turn, lin = float(res.turns_compute[d]), float(res.linears_compute[d])
        for k, b in enumerate(res.batches):
            recs.append({**device_fields(h),
                         "batch": int(b), "tpot_s": float(ev.tpot_s[d, k]),
                         "ttft_s": float(ev.ttft_s[d, k]),
                         "decode_tokens_per_s": float(res.decode_tokens_per_s[d, k]),
                         "decode_compute_share": float(res.decode_share[d, k]),
                         "decode_linear_compute_share": float(res.linear_share[d, k]),
                         "total_memory_bytes": float(ev.total_memory_bytes[d, k]),
                         "per_gpu_total_memory_bytes": float(ev.per_gpu_total_memory_bytes[d, k]),
                         "fits": bool(ev.fits[d, k]),
                         "decode_turns_compute_at": turn if np.isfinite(turn) else None,
                         "decode_linears_compute_at": lin if np.isfinite(lin) else None})
    return recs


def capacity_records(res: dict[str, Capacity], w: Workload) -> list[dict[str, Any]]:
    """One record per (device, scenario: baseline, and compressed with a compression), sorted
    by device: the largest batch in memory, the max-load batch, the SLO batch and the
    requests/s per GPU there (None where there is none)."""
    labels = {"baseline": "none", "compressed": w.compression.label if w.compression else ""}
    recs = []
    for name, c in res.items():
        for d, h in enumerate(c.fleet.profiles):
            recs.append({
                **device_fields(h),
                "scenario": name, "compression": labels[name],
                "max_batch_in_memory": int(c.max_fit[d]),
                "decode_tokens_per_s_at_max_batch": _num(c.decode_tokens_per_s[d]),
                "max_load_batch": int(c.max_load_batch[d]),
                "output_tokens_per_s_at_max_load": _num(c.output_tokens_per_s[d]),
                "largest_batch_meeting_slo": int(c.slo_batch[d]),
                "requests_per_s_per_gpu": float(c.requests_per_s[d]),
                "batch_at_requests_per_s": (None if np.isnan(c.best_batch[d])
                                            else int(c.best_batch[d])),
                "ttft_s": _num(c.ttft_s[d]), "tpot_s": _num(c.tpot_s[d])})
    return sorted(recs, key=lambda r: r["hardware"])


@dataclass(frozen=True, repr=False)
class BatchingStudy(Rows):
    """Decode throughput, TPOT and compute-bound shares versus batch per device, and the batch
    where decode turns compute-bound: `costmodel batching` (one row per device and batch)."""

    result: Batching

    def __repr__(self) -> str:
        grid, devs, res = self.result.batches, self.result.fleet.profiles, self.result

        def at(x: float) -> str:
            return f"{x:g}" if np.isfinite(x) else "-"

        turns = [f"{h.id} {at(t)} (linears {at(lin)})" for h, t, lin in
                 zip(devs, res.turns_compute, res.linears_compute, strict=True)]
        more = f", and {len(turns) - 3} more" if len(turns) > 3 else ""
        return (f"<BatchingStudy {self.model.name}, {len(devs)} device"
                f"{'s' * (len(devs) != 1)} on {self.engine}, {len(grid)} batches "
                f"{grid[0]:g}..{grid[-1]:g} | decode compute-bound at: "
                f"{', '.join(turns[:3])}{more}>")


@dataclass(frozen=True, repr=False)
class ServingCapacity(Rows):
    """Per device, without and with the workload's compression: the largest batch that fits,
    decode throughput there, the max-load batch, and requests/s per GPU meeting the SLO
    (static batching): `costmodel capacity`."""

    slo: Slo
    max_batch: int
    result: dict[str, Capacity]

    def __repr__(self) -> str:
        best = max(self.rows, key=lambda r: r["requests_per_s_per_gpu"])
        n = len(self.result["baseline"].fleet.profiles)
        comp = f" (compression: {best['compression']})" if "compressed" in self.result else ""
        most = (f"most req/s/GPU {best['requests_per_s_per_gpu']:.2f} on {best['hardware']}"
                f"{comp} at batch {best['batch_at_requests_per_s']}"
                if best["batch_at_requests_per_s"] else "no batch meets the SLO")
        return (f"<ServingCapacity {self.model.name}, {slo_text(self.slo)}, batch searched "
                f"1..{self.max_batch}, {n} device{'s' * (n != 1)} on {self.engine} | {most}>")


def _no_batch(fields: dict[str, Any], command: str, instead: str) -> None:
    if "batch" in fields:
        raise CostmodelError(f"batch: {command} searches the batch itself; give {instead}")


def batches_arg(batches: Any) -> np.ndarray:
    """batches: a whole number or a sequence (range, list, array) of them in 1..MAX_BATCH,
    as the CLI's --batch 1:256 or 1,2,4 -> sorted unique floats."""
    grid = np.unique(grid_values("batches", batches))
    if grid[0] < 1 or grid[-1] > MAX_BATCH:
        raise CostmodelError(f"batches: {str(batches)[:40]} holds a batch outside "
                             f"1..{MAX_BATCH}; give e.g. range(1, 257) or [1, 2, 4, 8]")
    return grid


def batching(model: ModelArg, hardware: Any = None, workload: Workload | None = None, *,
             batches: Any = range(1, 257), engine: Any = None,
             **fields: Any) -> BatchingStudy:
    """`costmodel batching` from Python: per device and batch (batches: the CLI's --batch,
    default 1..256), TTFT, TPOT, decode tokens/s and the compute-bound shares, and the batch
    where decode turns compute-bound. hardware, engine, model, workload and keyword fields as
    `costmodel.plan` (a Workload's batch is replaced by the grid's). Bad input raises
    CostmodelError: the CLI's line."""
    _no_batch(fields, "batching", "batches=[1, 2, 4] or range(1, 257)")
    grid = batches_arg(batches)
    spec, w, auto = model_and_workload(model, workload, engine, {**fields, "batch": int(grid[0])})
    res = batching_fleet(spec, devices_for(hardware, auto)(w), w, grid, auto_dtype=auto)
    return BatchingStudy(spec, w, res.fleet.engine, tuple(batching_records(res)), res)


def capacity(model: ModelArg, hardware: Any = None, workload: Workload | None = None, *,
             ttft_s: float | None = None, tpot_s: float | None = None, max_batch: int = 1024,
             engine: Any = None, **fields: Any) -> ServingCapacity:
    """`costmodel capacity` from Python: per device, without and with the workload's
    compression, the largest batch in memory (1..max_batch), the max-load batch, and the
    requests/s per GPU meeting the SLO (ttft_s, tpot_s: seconds, either or none; the CLI's
    --ttft / --tpot). hardware, engine, model, workload and keyword fields as `costmodel.plan`
    (a Workload's batch is replaced by 1). Bad input raises CostmodelError: the CLI's line
    (the SLO's arguments spelled as here)."""
    _no_batch(fields, "capacity", "max_batch=, the largest batch searched")
    spec, w, auto = model_and_workload(model, workload, engine, {**fields, "batch": 1})
    slo = slo_of(ttft_s, tpot_s, w.output_tokens, required=False)
    top = max_batch_arg(max_batch)
    res = capacity_fleets(spec, devices_for(hardware, auto)(w), w, slo, max_batch=top,
                          auto_dtype=auto)
    return ServingCapacity(spec, w, res["baseline"].fleet.engine,
                           tuple(capacity_records(res, w)), slo, top, res)
