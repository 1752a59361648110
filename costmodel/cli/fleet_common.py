"""Options and set-up shared by `compare`, `plan`, `batching` and `energy` (several devices)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import typer

from costmodel.analysis.arguments import once
from costmodel.analysis.device_ranking import default_devices, run_columns, warn_unlike
from costmodel.analysis.device_ranking import device_fields as device_fields  # for the commands
from costmodel.analysis.plan import Slo
from costmodel.analysis.planning import CLI, slo_of
from costmodel.analysis.planning import slo_text as slo_text  # for the commands
from costmodel.analysis.prepare import workload_engine
from costmodel.analysis.refusals import refuse_unused
from costmodel.cli import compression_options as co
from costmodel.cli.options import BATCH as BATCH
from costmodel.cli.options import (
    CONVENTION,
    ENGINE,
    EP,
    FLASH,
    FORMAT,
    KV_DTYPE,
    LOGITS,
    MICROBATCHES,
    MODEL_HELP,
    OUTPUT_TOKENS,
    OVERLAP,
    PP,
    TEXT_TOKENS,
    TP,
    VISUAL_TOKENS,
    WEIGHT_DTYPE,
    WEIGHT_GROUP,
    WEIGHT_GROUP_BYTES,
    WEIGHT_PARTS,
    workload_from_values,
)
from costmodel.cli.options import FPS as FPS
from costmodel.cli.options import IMAGE_SIZE as IMAGE_SIZE  # re-exported for the commands
from costmodel.cli.options import IMAGES as IMAGES
from costmodel.cli.options import SECONDS as SECONDS
from costmodel.cli.options import VIDEO_FRAMES as VIDEO_FRAMES
from costmodel.cli.output import Format, dumps, records_csv
from costmodel.cli.parsing import id_list
from costmodel.loading.load import load_hardware, load_model
from costmodel.specs.hardware import HardwareProfile
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import Workload
from costmodel.units import DType

MODEL = typer.Argument(..., help=MODEL_HELP)
HARDWARE = typer.Option(None, "--hardware", "-H",
                        help="Comma-separated hardware ids or YAML paths (default: every "
                        "bundled device that runs the workload like for like: not LLM-Viewer's "
                        "datasheet copies on an engine with measured kernels, only devices with "
                        "a GPU-to-GPU link for --tp/--pp/--ep > 1).")
VISUAL, TEXT, OUTPUT = VISUAL_TOKENS, TEXT_TOKENS, OUTPUT_TOKENS  # shared definitions
ENGINES = typer.Option(None, "--engine", help="Inference engine of the expected latency, or "
                       "a comma list to rank every (device, engine) pair in one table, e.g. "
                       "vllm,trtllm,ideal (ideal: the roofline bound): ids of `costmodel "
                       "engines list` or YAML paths (default hf-eager).")
DTYPE = typer.Option(None, help="Math dtype (default: bf16 where the device has it, else fp16).")
WDTYPE, KVDTYPE = WEIGHT_DTYPE, KV_DTYPE
WGROUP, WGROUP_BYTES, WPARTS = WEIGHT_GROUP, WEIGHT_GROUP_BYTES, WEIGHT_PARTS
SETS = typer.Option([], "--set", help="What-if KEY=VALUE on every device (repeatable).")
FMT = FORMAT
KEEP, AT, METHOD, SCHEDULE, KV_KEEP, KV_POLICY = (co.KEEP, co.AT, co.METHOD, co.SCHEDULE,
                                                   co.KV_KEEP, co.KV_POLICY)
SPARSE_DECODE = co.SPARSE_DECODE
__all__ = ["CONVENTION", "ENGINE", "EP", "FLASH", "LOGITS", "MICROBATCHES", "OVERLAP", "PP", "TP"]


def slo_from_options(ttft: float | None, tpot: float | None, output_tokens: int, *,
                     required: bool) -> Slo:
    """The SLO of `plan` and `capacity` from --ttft / --tpot (seconds): analysis.planning's
    slo_of, its refusals naming the options."""
    return slo_of(ttft, tpot, output_tokens, required=required, names=CLI)


def devices(text: str | None, sets: list[str], w: Workload, dtype: DType | None = None,
            power_mode: str | None = None) -> list[HardwareProfile]:
    """The listed devices (one listed twice is refused, as sweep refuses it); or, when none
    are given, every bundled profile that can run the workload like for like
    (analysis.device_ranking.default_devices; with --dtype `dtype` or --power-mode
    `power_mode`, those that have it). A list that mixes datasheet-only and calibrated
    devices on an engine that runs measured kernels gives one warning (warn_unlike)."""
    if text is None:
        return default_devices(w, sets, dtype, power_mode)
    profiles = [load_hardware(n, tuple(sets)) for n in id_list(text, "--hardware")]
    once("--hardware", [h.id for h in profiles], "device")
    warn_unlike(profiles, workload_engine(w))
    return profiles


def setup(values: Mapping[str, Any], **override: Any,
          ) -> tuple[ModelSpec, list[HardwareProfile], Workload]:
    """Model, devices and the Workload from a command's parameters (its `locals()` at the
    call: model, hardware, sets and whichever workload and compression options it has);
    `override` replaces one (batching and capacity search the batch themselves)."""
    v = {**values, **override}
    spec, w = model_and_workload(v)
    return spec, devices(v["hardware"], v["sets"], w, v.get("dtype"), v.get("power_mode")), w


def model_and_workload(values: Mapping[str, Any], **override: Any,
                       ) -> tuple[ModelSpec, Workload]:
    """`setup` without the devices (compare over several engines picks them per engine)."""
    v = {**values, **override}
    w = workload_from_values(v, compression=co.compression_from_values(v))
    spec = load_model(v["model"])
    refuse_unused(spec, w)
    co.refuse_count_above(spec, w)
    return spec, w


def engine_list(text: str | None) -> list[str | None]:
    """--engine as `compare` takes it: one engine (None: the convention's default) or a
    comma list ('vllm,trtllm,ideal'; an empty entry is refused, as -H refuses one)."""
    if text is None or "," not in text:
        return [text]
    return list(id_list(text, "--engine"))


def run_text(engine: str, w: Workload, compression: bool = True) -> str:
    """' | latencies expected on engine ID | compression: LABEL' for a table's first line: the
    engine whose expected latencies the table shows (the bound is the roofline) and the
    compression applied, when there is one (compression=False: the table has its column)."""
    comp = f" | compression: {w.compression.label}" if compression and w.compression else ""
    return f" | latencies expected on engine {engine}{comp}"


def engines_text(engines: Sequence[str], w: Workload) -> str:
    """run_text for a table over several engines: each row's latencies are expected on its
    own engine; `ideal`'s are the roofline bound (without it the table shows no bound)."""
    comp = f" | compression: {w.compression.label}" if w.compression else ""
    bound = ("ideal: the roofline bound" if "ideal" in engines else
             "the roofline bound: --engine ideal, or bound_* of -f json/csv")
    return f" | latencies expected on each row's engine ({bound}){comp}"


def gpus_note(gpus: int, memory: bool = True, joules: bool = True) -> str:
    """A table note's addition for a layout of several GPUs (--tp/--pp/--ep): memory (the most
    loaded GPU's, against one GPU's capacity) and power are per GPU, joules count every GPU;
    '' for one GPU."""
    what = " and ".join(x for x, on in (("memory", memory), ("power", joules)) if on)
    total = f", joules of all {gpus}" if joules else ""
    return "" if gpus == 1 else f"; {gpus} GPUs (tp x pp x ep): {what} per GPU{total}"


def replica_text(gpus: int) -> str:
    """Whose throughput a tokens/s column is: the replica's GPUs (tp x pp x ep) together."""
    return ("the replica's 1 GPU" if gpus == 1
            else f"the whole replica: all {gpus} GPUs (tp x pp x ep) together, not per GPU")


def changed_lines(profiles: list[HardwareProfile]) -> list[str]:
    """'[changed] ID: key old -> new; ...' per what-if device (--set, or a YAML over a base),
    for the end of a table; JSON and CSV carry the same as `hardware_changes`."""
    return [f"[changed] {h.id}: {device_fields(h)['hardware_changes']}" for h in profiles
            if h.changes]


def label(h: HardwareProfile) -> str:
    return h.id


def emit(records: list[dict[str, Any]], fmt: Format, table_text: str, engine: str,
         w: Workload, notes: Sequence[str] = ()) -> None:
    """Print records as JSON / CSV, or the ready-made table and then the non-empty `notes`
    (the fleets' host_note: a Jetson's host time, as estimate says it). Each JSON / CSV record carries the
    engine of its expected latencies and the compression ('none' without one), as the table's
    first line names them; a record's own field of that name (capacity's per-scenario
    compression) is kept."""
    records = run_columns(records, engine, w)
    if fmt is Format.json:
        typer.echo(dumps(records))
    elif fmt is Format.csv:
        typer.echo(records_csv(records), nl=False)
    else:
        typer.echo("\n".join([table_text, *(n for n in notes if n)]))


def num(x: Any) -> float:
    """A plain float (numpy scalars and 1-element arrays too)."""
    return float(np.asarray(x).reshape(-1)[0])


def factor(x: float) -> str:
    return "-" if not np.isfinite(x) else f"x{x:.2f}"
