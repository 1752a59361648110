"""Estimated joules per request per device: the records of `costmodel energy` and its Python
API, `costmodel.energy(...)` -> EnergyEstimate.

The CLI command builds its rows with `energy_records` over the same Fleet
(analysis/devices.evaluate_fleet) and the same default device list
(device_ranking.default_devices), after the same refusal (`refuse_no_power`: no device of
the list gives a power figure), and prints them: `--format json` is `EnergyEstimate.records()`,
`--format csv` the same rows (`frame()` as a DataFrame), so the notebook and the command
cannot disagree (tests/cli/test_energy_api.py). The estimate is analysis/devices.energy's:
GPUs x power x each stage's latency, per request. Base units throughout (watts, joules).
Pure: no I/O.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from costmodel.analysis.arguments import ModelArg
from costmodel.analysis.device_ranking import Rows, device_fields, devices_for, model_and_workload
from costmodel.analysis.devices import Fleet, evaluate_fleet, power_W
from costmodel.analysis.devices import energy as fleet_energy
from costmodel.core.evaluate import STAGES
from costmodel.core.ops import Arr
from costmodel.errors import CostmodelError
from costmodel.specs.hardware import HardwareProfile
from costmodel.specs.workload import Workload
from costmodel.units import si

if TYPE_CHECKING:
    pass

PYTHON_SUPPLY = "load_hardware(ID, sets=['tdp_W=WATTS'])"  # how Python supplies a power figure
CLI_SUPPLY = "--set tdp_W=WATTS"


def refuse_no_power(profiles: Sequence[HardwareProfile], watts: Arr, name: str = "hardware",
                    supply: str = PYTHON_SUPPLY) -> None:
    """No device of the list gives a power figure (TDP, or the power mode's): nothing to
    report, refused before any work (`name`, `supply`: the argument and the way to give a
    figure, as the caller spells them). Some devices without one are their rows' NaN."""
    if np.isfinite(watts).any():
        return
    verb = "gives" if len(profiles) == 1 else "give"
    raise CostmodelError(f"{name}: {', '.join(h.id for h in profiles)} {verb} no power figure "
                         f"(tdp_W); add `tdp_W:` with its source to the profile, or {supply}")


def energy_records(f: Fleet, watts: Arr, power_mode: str | None) -> list[dict[str, Any]]:
    """One record per device of the fleet, in its order: the power (per GPU; NaN where the
    profile gives none), the GPUs, each stage's joules per request, the request's and an
    output token's (GPUs x power x latency: analysis/devices.energy), and whether the
    footprint fits every GPU (the joules of a run that does not fit are still priced)."""
    en = fleet_energy(f, watts)
    return [{**device_fields(h),
             "power_W": float(en.power_W[d, 0]), "gpus": f.workload.parallel.gpus,
             "power_source": f"power mode {power_mode}" if power_mode else "TDP",
             **{f"{s}_J": float(en.stage_J[s][d, 0]) for s in STAGES},
             "per_request_J": float(en.request_J[d, 0]),
             "per_output_token_J": float(en.output_token_J[d, 0]),
             "fits": bool(f.ev.fits[d, 0]), "method": "estimate"}
            for d, h in enumerate(f.profiles)]


@dataclass(frozen=True)
class EnergyEstimate(Rows):
    """Per device, estimated joules per request, split by stage, and per output token, as if
    the device drew its TDP (or the power mode's budget) throughout: `costmodel energy` (an
    upper-bound style estimate; measured power is usually lower; records(): NaN where a device
    gives no power figure, which the CLI writes as null)."""

    power_mode: str | None
    fleet: Fleet

    def __repr__(self) -> str:
        n = len(self.rows)
        priced = [r for r in self.rows if np.isfinite(r["per_request_J"])]
        least = min(priced, key=lambda r: r["per_request_J"])
        gaps = n - len(priced)
        tail = f" | {gaps} without a power figure" if gaps else ""
        power = f"power mode {self.power_mode}" if self.power_mode else "TDP"
        return (f"<EnergyEstimate {self.model.name}, {n} device{'s' * (n != 1)} on "
                f"{self.engine} at {power} | least per request: {least['hardware']} "
                f"{si(least['per_request_J'], 'J')} "
                f"({si(least['per_output_token_J'], 'J')} per output token){tail}>")


def _power_mode(power_mode: Any) -> str | None:
    if power_mode is None or isinstance(power_mode, str):
        return power_mode
    raise CostmodelError(f"power_mode: got {type(power_mode).__name__}; give a mode's name "
                         "such as '30W' (None: the TDP)")


def energy(model: ModelArg, hardware: Any = None, workload: Workload | None = None, *,
           engine: str | os.PathLike[str] | None = None, power_mode: str | None = None,
           **fields: Any) -> EnergyEstimate:
    """`costmodel energy` from Python: per device, the estimated joules per request (each
    stage's and the total) and per output token, power (TDP, or power_mode's budget, e.g.
    '30W': the CLI's --power-mode) x latency. hardware: an id, a YAML path, a HardwareProfile
    or a list of them (None: the CLI's default list, every bundled device that runs the
    workload like for like); engine: an id or YAML path. Model, workload and keyword fields as
    `costmodel.estimate`; without act_dtype each device computes in bf16 where it has it, else
    fp16, as the CLI without --dtype. Bad input raises CostmodelError: the CLI's line."""
    mode = _power_mode(power_mode)
    spec, w, auto = model_and_workload(model, workload, engine, fields)
    profiles = devices_for(hardware, auto, mode)(w)
    watts = power_W(profiles, mode)
    refuse_no_power(profiles, watts)
    f = evaluate_fleet(spec, profiles, w, auto_dtype=auto)
    return EnergyEstimate(model=spec, workload=w, engine=f.engine,
                          rows=tuple(energy_records(f, watts, mode)), power_mode=mode, fleet=f)
