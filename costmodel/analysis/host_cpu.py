"""Whose host the engine's host figures describe (docs/methodology.md, "The host CPU").

An engine's host terms (`host_overhead_per_kernel_us` per kernel launch, `step_overhead_us` per
decode step, `prefill_overhead_us` per prefill) are figures of the host the engine ran on where
they were fitted or assumed: data-centre GPU servers (the published A100 runs; the servers'
CPUs are not published). A discrete GPU's profile says nothing of its host, so they apply as
they are. A device whose host CPU is part of it (`host_cpu` in the profile: the Jetson modules'
Arm Cortex-A78AE) runs the same Python and framework code on that CPU; no source in the data
gives how much slower or faster it is per kernel launch or per step, so the figures apply
unscaled and the estimate says so in one line (`host_note`). Pure: no I/O, no printing.
"""

from __future__ import annotations

from collections.abc import Sequence

from costmodel.specs.engine import Engine
from costmodel.specs.hardware import HardwareProfile
from costmodel.units import seconds


def host_terms(engine: Engine) -> list[str]:
    """The engine's non-zero host figures in words ('59.6 us per kernel launch', ...); [] for
    an engine that charges none (the bound, CUDA-graph-only engines with no fixed overhead).
    A per-kernel figure counts only where the engine launches kernels from the host."""
    if engine.kernels == "bound":
        return []
    per_kernel = engine.host_overhead_per_kernel_s if engine.launch_per_kernel else 0.0
    terms = ((per_kernel, "per kernel launch"), (engine.step_overhead_s, "per decode step"),
             (engine.prefill_overhead_s, "per prefill"))
    return [f"{seconds(v)} {what}" for v, what in terms if v > 0]


def host_note(hardware: HardwareProfile, engine: Engine) -> str:
    """One line where the device names its own host CPU and the engine charges host time: the
    figures are the data-centre servers', applied unscaled; "" otherwise."""
    return devices_host_note([hardware], engine)


def devices_host_note(profiles: Sequence[HardwareProfile], engine: Engine) -> str:
    """host_note over several devices (a table of compare, plan, sweep, ...): one line naming
    every host CPU among them, once each; "" where none names one or the engine charges none."""
    terms = host_terms(engine)
    cpus = list(dict.fromkeys(h.host_cpu for h in profiles if h.host_cpu is not None))
    if not cpus or not terms:
        return ""
    whose, cpu = (("this device's host", "this CPU") if len(cpus) == 1 else
                  ("these devices' hosts", "these CPUs"))
    return (f"host time: {engine.id}'s figures ({', '.join(terms)}) come from data-centre GPU "
            f"servers (fitted on their published runs, or assumed), not from {whose} "
            f"({'; '.join(cpus)}); applied unscaled (no sourced figure for {cpu}), so the "
            "host time may be understated")
