"""Predicted against measured: `validate --measurements` and `validate --published`."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from costmodel.plots.common import MILLI, require, titled


def validation_figure(err: pd.DataFrame, title: str) -> Figure:
    """Predicted vs measured (columns measured_s, predicted_s, group), log-log, one colour per
    group prefix (op or stage), with the y = x line."""
    require(err, ("measured_s", "predicted_s", "group"), "validation frame")
    fig = Figure(figsize=(7, 6.4), layout="constrained")
    ax = fig.subplots()
    label = err["group"].str.split(" ").str[0]
    for name in dict.fromkeys(label):
        sel = label == name
        ax.scatter(err.loc[sel, "measured_s"] / MILLI, err.loc[sel, "predicted_s"] / MILLI, s=8,
                   label=name, alpha=0.7)
    lo = float(min(err["measured_s"].min(), err["predicted_s"].min()) / MILLI)
    hi = float(max(err["measured_s"].max(), err["predicted_s"].max()) / MILLI)
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="predicted = measured")
    ax.set(xscale="log", yscale="log", xlabel="measured (ms)", ylabel="predicted (ms)")
    ax.legend(fontsize=7)
    return titled(fig, title)


def _published_panel(ax: Axes, frame: pd.DataFrame, scale: float, what: str) -> None:
    measured, predicted, bound = (frame[f"{c}_work"].to_numpy(float) / scale
                                  for c in ("value", "predicted", "bound"))
    for name in sorted(frame["engine"].unique()):
        sel = (frame["engine"] == name).to_numpy()
        dots = ax.scatter(measured[sel], predicted[sel], s=14, label=name, alpha=0.8)
        ax.scatter(measured[sel], bound[sel], s=14, facecolors="none",
                   edgecolors=dots.get_facecolor(), alpha=0.6)
    lo = float(min(measured.min(), predicted.min(), bound.min()))
    hi = float(max(measured.max(), predicted.max(), bound.max()))
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="predicted = measured")
    ax.set(xscale="log", yscale="log", xlabel=f"measured ({what})", ylabel="predicted")
    ax.legend(fontsize=7, title="filled: expected, hollow: bound", title_fontsize=7)


def published_figure(frame: pd.DataFrame, title: str) -> Figure:
    """Predicted vs measured published runs, log-log, one colour per engine; hollow markers:
    the roofline bound; with the y = x line. Columns metric, engine and value_work,
    predicted_work, bound_work: each figure as seconds of work (calibration.published.as_time:
    rates inverted), memory rows (memory_bytes) in bytes, drawn in their own panel in GB."""
    require(frame, ("metric", "engine", "value_work", "predicted_work", "bound_work"),
            "published frame")
    memory = (frame["metric"] == "memory_bytes").to_numpy()
    panels = [(frame[~memory], 1.0, "s; time per token for decode rates, whole run for "
               "throughput"), (frame[memory], 1e9, "GB of GPU memory, summed over the GPUs")]
    panels = [p for p in panels if len(p[0])]
    fig = Figure(figsize=(7 * len(panels), 6.4), layout="constrained")
    for ax, (part, scale, what) in zip(np.atleast_1d(fig.subplots(1, len(panels))), panels,
                                       strict=True):
        _published_panel(ax, part, scale, what)
    return titled(fig, title)
