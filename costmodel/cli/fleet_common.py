"""Options and set-up shared by `compare`, `plan`, `batching` and `energy` (several devices)."""

from __future__ import annotations

from typing import Any

import numpy as np
import typer

from costmodel.cli import compression_options as co
from costmodel.cli.options import (
    CONVENTION,
    ENGINE,
    FLASH,
    FORMAT,
    KV_DTYPE,
    LOGITS,
    MICROBATCHES,
    OUTPUT_TOKENS,
    OVERLAP,
    PP,
    TEXT_TOKENS,
    TP,
    VISUAL_TOKENS,
    WEIGHT_DTYPE,
    refuse_unused,
    workload_from_options,
)
from costmodel.cli.options import IMAGE_SIZE as IMAGE_SIZE  # re-exported for the commands
from costmodel.cli.options import IMAGES as IMAGES
from costmodel.cli.output import Format, dumps, records_csv
from costmodel.errors import CostmodelError
from costmodel.loading.load import hardware_ids, load_hardware, load_model
from costmodel.specs.hardware import HardwareProfile
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import Workload
from costmodel.units import DType

MODEL = typer.Argument(..., help="Zoo id (costmodel models list) or config.json path.")
HARDWARE = typer.Option(None, "--hardware", "-H",
                        help="Comma-separated hardware ids or YAML paths (default: all bundled).")
VISUAL, TEXT, OUTPUT = VISUAL_TOKENS, TEXT_TOKENS, OUTPUT_TOKENS  # shared definitions
DTYPE = typer.Option(None, help="Math dtype (default: bf16 where the device has it, else fp16).")
WDTYPE, KVDTYPE = WEIGHT_DTYPE, KV_DTYPE
SETS = typer.Option([], "--set", help="What-if KEY=VALUE on every device (repeatable).")
FMT = FORMAT
KEEP, AT, METHOD, SCHEDULE, KV_KEEP, KV_POLICY = (co.KEEP, co.AT, co.METHOD, co.SCHEDULE,
                                                   co.KV_KEEP, co.KV_POLICY)
__all__ = ["CONVENTION", "ENGINE", "FLASH", "LOGITS", "MICROBATCHES", "OVERLAP", "PP", "TP"]


def devices(text: str | None, sets: list[str]) -> list[HardwareProfile]:
    """The listed devices, or every bundled profile when none are given."""
    text = ",".join(hardware_ids()) if text is None else text
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise CostmodelError(f"--hardware: '{text}' has an empty entry; "
                             "give ids separated by commas")
    return [load_hardware(n, tuple(sets)) for n in names]


def setup(model: str, hardware: str | None, sets: list[str], batch: int, visual_tokens: int | None,
          images: int, image_size: str | None, text_tokens: int, output_tokens: int,
          dtype: DType | None, weight_dtype: DType | None, kv_dtype: DType | None,
          keep: str | None = None, at: str | None = None, method: str | None = None,
          schedule: str | None = None, kv_keep: str | None = None, kv_policy: str | None = None,
          **options: Any) -> tuple[ModelSpec, list[HardwareProfile], Workload]:
    """Model, devices and the Workload from the shared options (cli/options.workload_from_options);
    compression from cli/compression_options; `options` are the remaining workload options."""
    comp = co.compression_from_options(keep, at, method, schedule, kv_keep, kv_policy)
    w = workload_from_options(batch=batch, visual_tokens=visual_tokens, images=images,
                              image_size=image_size, text_tokens=text_tokens,
                              output_tokens=output_tokens, dtype=dtype, weight_dtype=weight_dtype,
                              kv_dtype=kv_dtype, compression=comp, **options)
    spec = load_model(model)
    refuse_unused(spec, w)
    return spec, devices(hardware, sets), w


def label(h: HardwareProfile) -> str:
    return h.id


def emit(records: list[dict[str, Any]], fmt: Format, table_text: str) -> None:
    """Print records as JSON / CSV, or the ready-made table."""
    if fmt is Format.json:
        typer.echo(dumps(records))
    elif fmt is Format.csv:
        typer.echo(records_csv(records), nl=False)
    else:
        typer.echo(table_text)


def num(x: Any) -> float:
    """A plain float (numpy scalars and 1-element arrays too)."""
    return float(np.asarray(x).reshape(-1)[0])


def factor(x: float) -> str:
    return "-" if not np.isfinite(x) else f"x{x:.2f}"
