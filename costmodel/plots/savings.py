"""The savings figure: what a token compression saves, per stage and metric."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from costmodel.errors import CostmodelError
from costmodel.plots.common import METRIC_LABEL, STAGES, require, titled
from costmodel.units import seconds, si


def savings_figure(savings_df: pd.DataFrame, title: str = "Savings from compression") -> Figure:
    """One horizontal bar per (stage, metric): savings in percent, annotated with
    baseline -> compressed in display units. Rows with no baseline (NaN savings) are left out.
    `title` (what was compressed, on which model, device and workload) heads the figure."""
    df = _savings_rows(savings_df)
    fig = Figure(figsize=(9, 1.2 + 0.38 * len(df)), layout="constrained")
    ax = fig.add_subplot()
    colors = dict(zip(METRIC_LABEL, ("tab:blue", "tab:orange", "tab:green", "palegreen",
                                     "tab:purple", "tab:red", "lightcoral", "tab:brown",
                                     "burlywood", "tab:cyan", "paleturquoise", "tab:gray"),
                      strict=True))
    y = np.arange(len(df))
    ax.barh(y, df.savings_pct, color=[colors.get(m, "tab:gray") for m in df.metric],
            height=0.7)
    names = [f"{s}: {METRIC_LABEL.get(m, m)}"
             for s, m in zip(df.stage, df.metric, strict=True)]
    ax.set_yticks(y, names, fontsize=8)
    r: Any  # a row of df; its columns' types are known at run time only
    for yi, r in zip(y, df.itertuples(), strict=True):
        text = (f"{_human(r.baseline, r.metric)} -> {_human(r.compressed, r.metric)}"
                f"  ({r.savings_pct:+.1f}%)")
        ax.annotate(text, (max(r.savings_pct, 0), yi), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=7)
    pct: pd.Series[float] = df.savings_pct
    hi = max(pct.max(), 0)
    ax.set_xlim(min(pct.min(), 0) * 1.1, hi * 1.6 + 10)
    ax.axvline(0, color="black", lw=0.8)
    for yi in y[1:][df.stage.to_numpy()[1:] != df.stage.to_numpy()[:-1]]:
        ax.axhline(yi - 0.5, color="lightgray", lw=0.8)
    ax.set(xlabel="savings (% of baseline; positive = less)")
    ax.grid(True, axis="x", alpha=0.3)
    return titled(fig, title)


def _savings_rows(savings_df: pd.DataFrame) -> pd.DataFrame:
    """Checked rows with a savings figure, ordered for plotting (first stage at the top)."""
    require(savings_df, ("stage", "metric", "baseline", "compressed", "savings_pct"),
            "savings frame")
    bad = [c for c in ("baseline", "compressed", "savings_pct")
           if not pd.api.types.is_numeric_dtype(savings_df[c])]
    if bad:
        raise CostmodelError(f"savings frame: column(s) {', '.join(bad)} must be numbers in "
                             "base units (FLOPs, bytes, seconds, percent)")
    _one_scenario(savings_df)
    df = savings_df.dropna(subset=["savings_pct"])
    if df.empty:
        raise CostmodelError("savings frame: every savings_pct is empty (baselines are zero)")
    for c in ("baseline", "compressed", "savings_pct"):  # inf made the axis limits inf
        bad = ~np.isfinite(df[c].to_numpy(float))
        if bad.any():
            i = int(np.argmax(bad))
            raise CostmodelError(f"savings frame: row {df.index[i] + 1}, {c}: {df[c].iloc[i]} "
                                 "is not a finite number; fix or drop the row")
    order = {s: i for i, s in enumerate((*STAGES, "total"))}
    morder = {m: i for i, m in enumerate(METRIC_LABEL)}
    return df.assign(_s=df.stage.map(order).fillna(len(order)),
                     _m=df.metric.map(morder).fillna(len(morder))).sort_values(
                         ["_s", "_m"], ascending=False)


def _one_scenario(savings_df: pd.DataFrame) -> None:
    """A frame of several scenarios (compare_compression(keep=[...]).frame(), or frames
    concatenated) would draw each (stage, metric) bar once per scenario under the same label:
    refused, as `compare-compression --plot` refuses a --keep list."""
    for col in ("keep", "compression", "model", "hardware"):
        if col in savings_df and savings_df[col].nunique(dropna=False) > 1:
            values = ", ".join(str(v) for v in savings_df[col].unique()[:4])
            first = savings_df[col].iloc[0]  # a numpy scalar's repr would be np.float64(0.5)
            first = first.item() if isinstance(first, np.generic) else first
            raise CostmodelError(f"savings frame: rows of {savings_df[col].nunique(dropna=False)}"
                                 f" scenarios ({col} {values}); draw one at a time, the rows "
                                 f"of one {col} (frame[frame.{col} == {first!r}])")


def _human(value: float, metric: str) -> str:
    if metric.endswith("_s"):
        return seconds(value)
    return si(value, "FLOP" if metric == "flops" else "B")
