"""Devices (and engines) ranked for one workload: the records of `costmodel compare` and its
Python API, `costmodel.compare(...)` -> DeviceComparison.

The CLI command builds its rows with `compare_records` and `rank` over the same Fleets
(analysis/devices.evaluate_fleet, analysis/engine_fleets.evaluate_engines) and the same
default device list (`default_devices`), and prints `run_columns` of them: `--format json` is
`DeviceComparison.records()`, `--format csv` the same rows (`frame()` as a DataFrame), so the
notebook and the command cannot disagree (tests/cli/test_compare_api.py). Base units
throughout (seconds, bytes, watts, joules). Pure: no I/O, no printing (warnings aside).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

import numpy as np

from costmodel.analysis.arguments import (
    ModelArg,
    hardware_arg,
    listed,
    model_arg,
    nonempty,
    once,
    user_level,
    workload_arg,
)
from costmodel.analysis.compression_options import refuse_count_above
from costmodel.analysis.devices import (
    Fleet,
    energy,
    evaluate_fleet,
    has_mode,
    power_W,
    stage_bounds,
    unlike_devices,
)
from costmodel.analysis.engine_fleets import evaluate_engines
from costmodel.analysis.prepare import workload_engine
from costmodel.analysis.refusals import refuse_unused
from costmodel.core.evaluate import STAGES
from costmodel.errors import CostmodelError, UnlikeDevicesWarning
from costmodel.loading.load import hardware_ids, load_hardware
from costmodel.specs.engine import Engine
from costmodel.specs.hardware import HardwareProfile
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import Workload
from costmodel.units import DType, seconds

if TYPE_CHECKING:
    import pandas as pd


class RankBy(str, Enum):
    """What `compare` ranks by (--rank-by): the record field of each, RANK_FIELDS."""

    e2e = "e2e"
    ttft = "ttft"
    tpot = "tpot"
    throughput = "throughput"
    energy = "energy"


RANK_FIELDS = {"e2e": "e2e_latency_s", "ttft": "ttft_s", "tpot": "tpot_s",
               "throughput": "tokens_per_s", "energy": "energy_per_request_J"}


def device_fields(h: HardwareProfile) -> dict[str, str]:
    """A record's device: its id and its what-if changes ('key old -> new; ...', '' for none)."""
    return {"hardware": h.id, "hardware_changes": "; ".join(h.changes)}


def compare_records(f: Fleet, power_mode: str | None) -> list[dict[str, Any]]:
    """One record per device of the fleet (its first column): latencies on the engine and at
    the bound, memory against one GPU's capacity, the bound of each stage, and the energy
    estimate at TDP or `power_mode` (a mode no device lists is refused: power_W)."""
    ev, bounds = f.ev, stage_bounds(f.ev)
    en = energy(f, power_W(f.profiles, power_mode))
    recs = []
    for d, h in enumerate(f.profiles):
        recs.append({
            **device_fields(h),
            "math_dtype": f.dtypes[d].value, "engine": f.engine, "batch": f.workload.batch,
            "ttft_s": float(ev.ttft_s[d, 0]), "tpot_s": float(ev.tpot_s[d, 0]),
            "e2e_latency_s": float(ev.e2e_latency_s[d, 0]),
            "tokens_per_s": float(ev.tokens_per_s[d, 0]),
            "bound_ttft_s": float(ev.bound.ttft_s[d, 0]),
            "bound_tpot_s": float(ev.bound.tpot_s[d, 0]),
            "bound_e2e_latency_s": float(ev.bound.e2e_latency_s[d, 0]),
            "total_memory_bytes": float(ev.total_memory_bytes[d, 0]),
            "per_gpu_total_memory_bytes": float(ev.per_gpu_total_memory_bytes[d, 0]),
            "capacity_bytes": h.memory_bytes,
            "fits": bool(ev.fits[d, 0]),
            **{f"{s}_bound_by": str(bounds[s][d, 0]) for s in STAGES},
            "power_W": float(en.power_W[d, 0]),
            "energy_per_request_J": float(en.request_J[d, 0]),
            "energy_per_output_token_J": float(en.output_token_J[d, 0]),
        })
    return recs


def rank(recs: list[dict[str, Any]], by: RankBy) -> list[dict[str, Any]]:
    """The records best first by `by` (throughput: highest first, the others lowest), those
    that do not fit last, a NaN value after the numbers; each led by its `rank` (1, 2, ...)."""
    key = RANK_FIELDS[by.value]
    sign = -1.0 if by is RankBy.throughput else 1.0

    def order(r: dict[str, Any]) -> tuple[bool, float]:
        v = r[key]
        return (not r["fits"], sign * v if np.isfinite(v) else np.inf)

    ranked = sorted(recs, key=order)
    return [{"rank": i + 1, **r} for i, r in enumerate(ranked)]


def ranked_records(fleets: Sequence[Fleet], by: RankBy,
                   power_mode: str | None) -> list[dict[str, Any]]:
    """Every (device, engine) pair of the fleets (one per engine) in one ranking."""
    return rank([r for f in fleets for r in compare_records(f, power_mode)], by)


def run_columns(records: list[dict[str, Any]], engine: str, w: Workload) -> list[dict[str, Any]]:
    """Each record with the engine of its expected latencies and the compression ('none'
    without one) added after its own fields, as every device table's JSON / CSV carries them;
    a record's own field of that name (capacity's per-scenario compression) is kept."""
    run = {"engine": engine, "compression": w.compression.label if w.compression else "none"}
    return [{**r, **{k: v for k, v in run.items() if k not in r}} for r in records]


def default_devices(w: Workload, sets: Sequence[str] = (), dtype: DType | None = None,
                    power_mode: str | None = None) -> list[HardwareProfile]:
    """Every bundled profile (with the what-if `sets`) that runs the workload like for like:
    on an engine that runs measured kernels not the datasheet-only copies (LLM-Viewer's, for
    its convention; analysis.devices.unlike_devices), with tp/pp/ep > 1 not the devices
    without a GPU-to-GPU link, with a math `dtype` given (--dtype; None: each device's own)
    not the devices without its peak, with a `power_mode` those without that mode (each
    unless none has it: then the refusal names one)."""
    every = [load_hardware(n, tuple(sets)) for n in hardware_ids()]
    bare = set(unlike_devices(every, workload_engine(w)))
    keep = [h for h in every if h.id not in bare]
    if w.parallel.gpus > 1:
        keep = [h for h in keep if h.interconnect_bytes_per_s is not None]
    if dtype is not None:
        keep = [h for h in keep if h.supports(dtype)] or keep
    if power_mode is not None:
        keep = [h for h in keep if has_mode(h, power_mode)] or keep
    return keep


def missing_devices(fleets: Sequence[Fleet]) -> dict[str, tuple[str, ...]]:
    """Per engine, the devices another engine of `fleets` ranks that it leaves out (the
    default list drops the datasheet-only profiles on an engine that runs measured kernels);
    engines with no gap are absent."""
    every = list(dict.fromkeys(h.id for f in fleets for h in f.profiles))
    gaps = {}
    for f in fleets:
        have = {h.id for h in f.profiles}
        gap = tuple(d for d in every if d not in have)
        if gap:
            gaps[f.engine] = gap
    return gaps


def warn_unlike(profiles: Sequence[HardwareProfile], engine: Engine,
                name: str = "--hardware") -> None:
    """One UnlikeDevicesWarning for a list that mixes datasheet-only and calibrated devices
    on an engine that runs measured kernels (`name`: the argument, as the caller spells it)."""
    bare = unlike_devices(profiles, engine)
    if bare:
        warnings.warn(f"{name}: {', '.join(bare)} carr{'ies' if len(bare) == 1 else 'y'} "
                      f"no fitted kernel figures, so {'its' if len(bare) == 1 else 'their'} "
                      f"expected latencies on {engine.id} are the datasheet roofline plus the "
                      "engine's host time, while the others run below their peaks: not like "
                      "for like; give a profile of your own `base: <the nearest bundled "
                      "device>` to take that device's figures (docs/methodology.md, 'A device "
                      "not bundled'), or compare the bounds (--engine ideal)",
                      UnlikeDevicesWarning, stacklevel=user_level())


@dataclass(frozen=True)
class Rows:
    """A fleet command's result from Python (compare, plan, batching, capacity, energy): the
    model, the workload as priced, the engine of its expected latencies and the rows the
    command prints. records(): the rows of `--format json` (dicts, base units; None / NaN
    where the CLI writes null), with the engine and compression columns (run_columns);
    frame(): the same rows as a DataFrame."""

    model: ModelSpec
    workload: Workload
    engine: str
    rows: tuple[dict[str, Any], ...]

    def records(self) -> list[dict[str, Any]]:
        """The rows of `--format json` / `--format csv`, as dicts."""
        return run_columns([dict(r) for r in self.rows], self.engine, self.workload)

    def frame(self) -> pd.DataFrame:
        """records() as a DataFrame (`pd.read_csv` of `--format csv` holds the same values;
        it reads whole byte counts back as ints and an empty cell as NaN)."""
        import pandas as pd

        return pd.DataFrame(self.records())


@dataclass(frozen=True)
class DeviceComparison(Rows):
    """Devices (and engines) ranked for one workload: `costmodel compare` (rows ranked best
    first; engine: the first engine's). fleets: one evaluation per engine priced; refused:
    each engine given that refuses the workload, with its one-line reason (compare over
    several engines); missing(): the devices each engine leaves out that another ranks."""

    rank_by: RankBy
    fleets: tuple[Fleet, ...]
    refused: dict[str, str]

    def missing(self) -> dict[str, tuple[str, ...]]:
        """Per engine, the devices another engine ranks that it does not (the CLI's "not
        ranked on ENGINE: ..." lines); {} with one engine or no gap."""
        return missing_devices(self.fleets)

    def __repr__(self) -> str:
        best, n, unfit = self.rows[0], len(self.rows), sum(not r["fits"] for r in self.rows)
        several = len(self.fleets) > 1
        what = f"{n} (device, engine) pairs" if several else f"{n} device{'s' * (n != 1)}"
        on = f" on {best['engine']}" if several else ""
        metric = "" if self.rank_by is RankBy.e2e else \
            f", {self.rank_by.value} {_value(self.rank_by, best)}"
        tail = f" | {unfit} {'does' if unfit == 1 else 'do'} not fit" if unfit else ""
        return (f"<DeviceComparison {self.model.name}, {what} on "
                f"{', '.join(f.engine for f in self.fleets)}, ranked by {self.rank_by.value} | "
                f"best {best['hardware']}{on}: e2e {seconds(best['e2e_latency_s'])}{metric}"
                f"{'' if best['fits'] else ' (does not fit)'}{tail}>")


def _value(by: RankBy, r: dict[str, Any]) -> str:
    v = r[RANK_FIELDS[by.value]]
    if by is RankBy.throughput:
        return f"{v:.1f} tokens/s"
    return f"{v:.3g} J" if by is RankBy.energy else seconds(v)


def _rank_by(value: Any) -> RankBy:
    try:
        return RankBy(value)
    except ValueError:
        raise CostmodelError(f"rank_by: {value!r} is not one of "
                             f"{', '.join(b.value for b in RankBy)}") from None


def _engines(engine: Any) -> list[str | None]:
    """engine= as a list: [None] (the workload's own), one id or path, or several."""
    if engine is None or isinstance(engine, str | os.PathLike):
        return [None if engine is None else os.fspath(engine)]
    if not isinstance(engine, Sequence):
        raise CostmodelError(f"engine: got {type(engine).__name__}; give an id such as 'vllm', "
                             "a YAML path, or a list of them")
    out = nonempty("engine", list(engine))
    for e in out:
        if not isinstance(e, str | os.PathLike):
            raise CostmodelError(f"engine: got {type(e).__name__} in the list; give ids such "
                                 "as 'vllm' or YAML paths")
    return [os.fspath(e) for e in out]


def devices_for(hardware: Any, auto: bool = True, power_mode: str | None = None,
                ) -> Callable[[Workload], list[HardwareProfile]]:
    """The devices of each engine's workload: those given (one warning where they are not
    like for like) or, for None, the CLI's default list (default_devices; auto: each device
    computes in its own dtype, else in the workload's act_dtype, which a device must have;
    power_mode: the mode a device must list)."""
    if hardware is None:
        return lambda w: default_devices(w, dtype=None if auto else w.act_dtype,
                                         power_mode=power_mode)
    profiles = [hardware_arg(h) for h in nonempty("hardware", listed(hardware))]
    once("hardware", [h.id for h in profiles], "device")

    def given(w: Workload) -> list[HardwareProfile]:
        warn_unlike(profiles, workload_engine(w), "hardware")
        return profiles

    return given


def auto_dtype(workload: Workload | None, fields: dict[str, Any]) -> bool:
    """Each device computes in bf16 where it has it, else fp16 (the CLI without --dtype):
    act_dtype given neither as a keyword nor as a field the Workload was built with."""
    return "act_dtype" not in fields and "act_dtype" not in getattr(workload,
                                                                    "model_fields_set", ())


def _evaluate(spec: ModelSpec, w: Workload, engines: list[str | None],
              devices: Callable[[Workload], list[HardwareProfile]],
              auto: bool) -> tuple[tuple[Fleet, ...], dict[str, str]]:
    """One fleet (one engine, as `compare` prices it) or one per engine (`--engine a,b`)."""
    if len(engines) == 1:
        return (evaluate_fleet(spec, devices(w), w, auto_dtype=auto),), {}
    runs = evaluate_engines(spec, w, [str(e) for e in engines], devices, auto_dtype=auto)
    for e, why in runs.refused.items():
        warnings.warn(f"not ranked on {e}: {why}", UserWarning, stacklevel=user_level())
    return runs.fleets, runs.refused


def model_and_workload(model: ModelArg, workload: Workload | None, engine: Any,
                       fields: dict[str, Any]) -> tuple[ModelSpec, Workload, bool]:
    """The model, the workload (engine: an id or YAML path, None: the workload's) and whether
    the dtype is each device's own (auto_dtype), with the CLI's set-up refusals: the set-up of
    every fleet command's Python API."""
    auto = auto_dtype(workload, fields)
    if engine is not None:
        if not isinstance(engine, str | os.PathLike):
            raise CostmodelError(f"engine: got {type(engine).__name__}; give an id such as "
                                 "'vllm' or a YAML path")
        fields = {**fields, "engine": os.fspath(engine)}
    w = workload_arg(workload, fields)
    spec = model_arg(model)
    refuse_unused(spec, w)
    refuse_count_above(spec, w)
    return spec, w, auto


def compare(model: ModelArg, hardware: Any = None, workload: Workload | None = None, *,
            engine: Any = None, rank_by: RankBy | str = "e2e", power_mode: str | None = None,
            **fields: Any) -> DeviceComparison:
    """`costmodel compare` from Python: the devices ranked for one workload. hardware: an id,
    a YAML path, a HardwareProfile or a list of them (None: the CLI's default list, every
    bundled device that runs the workload like for like); engine: an id or YAML path, or a
    list of them (every (device, engine) pair in one ranking, as `--engine a,b`); rank_by:
    'e2e', 'ttft', 'tpot', 'throughput' or 'energy'; power_mode: the mode the energy is priced
    at (e.g. '30W'; default TDP). Model, workload and keyword fields as `costmodel.estimate`;
    without act_dtype each device computes in bf16 where it has it, else fp16, as the CLI
    without --dtype. Bad input raises CostmodelError: the CLI's line."""
    by, engines = _rank_by(rank_by), _engines(engine)
    spec, w, auto = model_and_workload(model, workload, engines[0], fields)
    fleets, refused = _evaluate(spec, w, engines, devices_for(hardware, auto, power_mode), auto)
    rows = ranked_records(fleets, by, power_mode)
    return DeviceComparison(model=spec, workload=w, engine=fleets[0].engine, rows=tuple(rows),
                            rank_by=by, fleets=fleets, refused=refused)
