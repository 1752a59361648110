"""A device lacking the default compute dtype's peak, refused before any work naming the cause
(a --set that removed it, or the profile without it) and the fix, when --dtype was not given:
estimate, sweep (and plot sweep) and compare-compression share it."""

from __future__ import annotations

import importlib

import typer

from costmodel.errors import CostmodelError
from costmodel.specs.hardware import HardwareProfile
from costmodel.units import DType


def dtype_given() -> bool:
    """Whether --dtype was on the command line (True outside a click context: a direct call).
    Newer typer vendors click: its context is found through typer.Context's own base class."""
    pkg = typer.Context.__mro__[1].__module__.rsplit(".", 1)[0]  # click or typer._click
    ctx = importlib.import_module(f"{pkg}.globals").get_current_context(silent=True)
    src = ctx.get_parameter_source("dtype") if ctx is not None else None
    return src is None or src.name != "DEFAULT"


def refuse_default_dtype(hw: HardwareProfile, dtype: DType, command: str) -> None:
    """Without --dtype, a device lacking the default dtype's peak is refused naming the cause:
    a --set (or a YAML over a base) that removed it, or the profile without it; and the fix.
    With --dtype given the evaluation's UnsupportedDtype ('--dtype: ...') stands."""
    if hw.supports(dtype) or dtype_given():
        return
    have = [d.value for d in hw.peak_flops_per_s_by_dtype]
    pick = "fp16" if "fp16" in have else (have[0] if have else "")
    gone = [c.split(" ")[0] for c in hw.changes
            if c.startswith(f"peak_tflops.{dtype.value} ") and c.endswith("-> null")]
    cause = (f"--set {gone[0]}=null removed {hw.id}'s {dtype.value} peak" if gone
             else f"the {hw.id} profile has no {dtype.value} peak")
    raise CostmodelError(f"{cause}, and {command} computes in {dtype.value} unless --dtype says "
                         f"otherwise (the device has {', '.join(have) or 'no peak'}); give "
                         f"--dtype {pick} (or another of those)"
                         + (", or drop that --set" if gone else ""))
