"""`costmodel validate --kernels`: measured kernel tables vs the kernel efficiency model.

Imports neither torch nor matplotlib. Errors: costmodel.errors.CostmodelError (one line, exit 2).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import typer

from costmodel.cli.output import Format, dumps, percent, table
from costmodel.units import seconds

ROW_COLS = ("source", "kind", "label", "measured_s", "predicted_s", "bound_s", "abs_error")


def evaluate(files: list[Path], hardware: str, held_out_only: bool = False):  # noqa: ANN201
    """(hardware profile, frame with predicted_s, bound_s, label, abs_error, summary)."""
    from costmodel.calibration import kernel_tables as kt
    from costmodel.core.efficiency import params_of
    from costmodel.errors import CostmodelError
    from costmodel.loading.load import load_hardware

    hw = load_hardware(hardware)
    if hw.kernel_params is None:
        raise CostmodelError(f"kernel_efficiency: {hw.id} has none; add a `kernel_efficiency:` "
                             "block (see docs/validation.md) or use a100-80gb / h100-sxm")
    frame = kt.read_tables(files)
    if "device" in frame:
        warn_other_device(sorted(set(frame["device"].astype(str))), hw.id, hw.name)
    if held_out_only:
        frame = frame[kt.held_out(frame)].reset_index(drop=True)
    by_engine = {e: params_of(k) for e, k in hw.kernel_params_by_engine.items()}
    pred, bound = kt.predict(frame, hw, params_of(hw.kernel_params), by_engine)
    frame["predicted_s"], frame["bound_s"] = pred, bound
    frame["label"] = kt.labels(frame, bound)
    frame["abs_error"] = np.abs(pred - frame["measured_s"]) / frame["measured_s"]
    summary = kt.summarise(frame["label"].to_numpy(), pred, frame["measured_s"].to_numpy())
    return hw, frame, summary


def gpu_models(name: str) -> set[str]:
    """The model numbers in a device name ('NVIDIA A100-SXM4-80GB' -> {'A100'}, 'NVIDIA
    GeForce RTX 4090' -> {'4090'}, 'NVIDIA L40S' -> {'L40S'}; none in 'Jetson AGX Orin'):
    words of up to 3 letters, 2 to 4 digits and at most one letter (not SXM4 or 80GB)."""
    return {w for w in re.split(r"[^A-Z0-9]+", name.upper())
            if re.fullmatch(r"[A-Z]{0,3}\d{2,4}[A-Z]?", w)}


def warn_other_device(devices: list[str], hw_id: str, hw_name: str) -> None:
    """One warning where the tables' `device` column names a GPU model the profile's name does
    not (an A100 table checked against -H h100-sxm): its errors are of a prediction for
    another device. Names without a model number (a Jetson, a custom name) are not judged."""
    mine = gpu_models(hw_name)
    other = [d for d in devices if gpu_models(d) and mine and not gpu_models(d) & mine]
    if other:
        warnings.warn(f"--kernels: the tables were measured on {', '.join(other)}, and -H "
                      f"{hw_id} is {hw_name}: their errors are those of a prediction for "
                      "another device; give the profile of the device they ran on",
                      UserWarning, stacklevel=2)


def _pct(x: float) -> str:
    return "n/a" if not np.isfinite(x) else percent(x)


def run(files: list[Path], hardware: str, fmt: Format, per_row: bool,
        held_out_only: bool) -> None:
    hw, frame, summary = evaluate(files, hardware, held_out_only)
    if fmt == Format.json:
        doc = {"hardware": hw.id, "files": [str(f) for f in files],
               "held_out_only": held_out_only, "summary": summary}
        if per_row:
            doc["rows"] = frame[list(ROW_COLS)].to_dict(orient="records")
        typer.echo(dumps(doc))
        return
    if fmt == Format.csv:
        cols = list(ROW_COLS) if per_row else None
        out = frame[cols] if cols else _summary_frame(summary)
        typer.echo(out.to_csv(index=False).rstrip())
        return
    if per_row:
        rows = [[r.source, r.label, seconds(r.measured_s), seconds(r.predicted_s),
                 _pct(r.abs_error)] for r in frame.itertuples()]
        typer.echo(table(rows, ["file", "kind", "measured", "predicted", "|err| %"],
                         right={2, 3, 4}))
    typer.echo(f"{len(frame)} kernel rows from {len(files)} file(s) vs {hw.id}"
               f"{' (held-out half only)' if held_out_only else ''}; |error| = "
               "|predicted - measured| / measured; <10us = bound below 10 us")
    rows = [[k, str(s["rows"]), _pct(s["median_abs_error"]), _pct(s["p90_abs_error"]),
             _pct(s["max_abs_error"])] for k, s in summary.items()]
    typer.echo(table(rows, ["kind", "rows", "median %", "p90 %", "max %"], right={1, 2, 3, 4}))
    skipped = [f"{k} {s['skipped']}" for k, s in summary.items() if s.get("skipped")]
    if skipped:
        typer.echo(f"not priced (rows): {', '.join(skipped)}: {hw.id} has no peak for their "
                   "dtype")


def _summary_frame(summary: dict):  # noqa: ANN202
    import pandas as pd

    return pd.DataFrame([{"kind": k, **v} for k, v in summary.items()])
