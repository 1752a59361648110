"""Several engines side by side: one `Fleet` per engine (`costmodel compare --engine a,b`).

Each engine is one vectorised evaluation over the devices (analysis/devices.evaluate_fleet)
of the workload with its `engine` replaced; engines are few, so they are a plain loop. A pair
(device, engine) is what `estimate` gives for that device and engine with the same workload
(tests/cli/test_compare_engines.py). Pure: no I/O, no printing (warnings aside, as
evaluate_fleet's).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from costmodel.analysis.arguments import once
from costmodel.analysis.devices import Fleet, evaluate_fleet
from costmodel.errors import CostmodelError
from costmodel.loading.load import load_engine
from costmodel.specs.hardware import HardwareProfile
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import Workload

Devices = Sequence[HardwareProfile] | Callable[[Workload], Sequence[HardwareProfile]]


@dataclass(frozen=True)
class EngineFleets:
    """The Fleet of every engine that prices the workload, in the order given, and the
    one-line refusal of each engine that does not (keyed by the engine as given)."""

    fleets: tuple[Fleet, ...]
    refused: dict[str, str]

    @property
    def engines(self) -> tuple[str, ...]:
        """The engine id of each fleet (a YAML's `id`, not its path)."""
        return tuple(f.engine for f in self.fleets)


def with_engine(w: Workload, engine: str | None) -> Workload:
    """The workload on `engine` (None: the convention's default), every other field as is."""
    return w.model_copy(update={"engine": engine})


def evaluate_engines(spec: ModelSpec, w: Workload, engines: Sequence[str], devices: Devices,
                     auto_dtype: bool = True) -> EngineFleets:
    """One evaluate_fleet per engine. `devices`: the same devices for every engine, or a
    function of each engine's workload giving them (the CLI's default list leaves datasheet-
    only profiles out on an engine that runs measured kernels, fleet_common.devices). An
    engine's warnings are held and given again only when it is evaluated. Every
    engine is loaded first, so an unknown one, or one listed twice (its id), is refused before
    any work. An engine that
    refuses the workload or the devices (a CostmodelError: a convention that prices only the
    bound, a figure set no device carries, ...) is left out with its line in `refused`, as
    `compare` with that engine alone refuses it; when every engine refuses, the first
    engine's error is raised."""
    once("engine", [load_engine(e).id for e in engines], "engine")
    fleets: list[Fleet] = []
    refused: dict[str, str] = {}
    first: CostmodelError | None = None
    said: set[tuple[type[Warning], str]] = set()
    for e in engines:
        with warnings.catch_warnings(record=True) as held:
            warnings.simplefilter("always")
            try:
                fleets.append(_one(spec, with_engine(w, e), devices, auto_dtype))
            except CostmodelError as err:
                refused[e] = str(err)
                first = first or err
        if e not in refused:
            _say(held, said)
    if not fleets and first is not None:
        raise first
    return EngineFleets(tuple(fleets), refused)


def _one(spec: ModelSpec, w: Workload, devices: Devices, auto_dtype: bool) -> Fleet:
    profiles = devices(w) if callable(devices) else devices
    return evaluate_fleet(spec, profiles, w, auto_dtype=auto_dtype)


def _say(held: list[warnings.WarningMessage], said: set[tuple[type[Warning], str]]) -> None:
    """Warn again what an engine's evaluation warned (held, so a refused engine's warnings are
    dropped with it), each distinct warning once over all engines (the model's context once,
    not once per engine)."""
    for m in held:
        key = (m.category, str(m.message))
        if key not in said:
            said.add(key)
            warnings.warn_explicit(m.message, m.category, m.filename, m.lineno)
