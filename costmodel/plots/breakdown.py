"""The breakdown figure: latency, FLOPs and memory traffic per stage by operator class."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from costmodel.plots.common import (
    GROUP_COLOR,
    GROUPS,
    MILLI,
    STAGES,
    plain_log_ticks,
    require,
    short,
    titled,
)
from costmodel.units import GIGA, TERA


def operator_group(op_df: pd.DataFrame) -> pd.Series:
    """Class of each operator: every vision-stage op is `vision encoder`, every projector op
    `projector`; in the LLM, ops under `/attn/` (q/k/v/o projections, RoPE, the attention
    core, the attention residual add) are `attention`, ops under `/mlp/` are `MLP`, and the
    rest (norms, embedding, final norm, lm_head) are `other`."""
    name = op_df["op"].astype(str)
    attn = name.str.contains("/attn/") | (op_df["op_class"] == "attention")
    choices = [op_df.stage == "vision", op_df.stage == "projector", attn,
               name.str.contains("/mlp/")]
    return pd.Series(np.select(choices, list(GROUPS[:4]), "other"), index=op_df.index)


def breakdown_figure(op_df: pd.DataFrame, title: str | None = None) -> Figure:
    """Stacked bars per stage of latency, FLOPs and memory traffic by operator class, on a
    log scale so that a stage 1000x smaller than decode is still a visible bar; each bar's
    total is written above it. `title` (model, device, workload) heads the figure."""
    require(op_df, ("stage", "op", "op_class", "flops", "bytes", "latency_s"), "op frame")
    df = op_df.assign(group=operator_group(op_df))
    stages = [s for s in STAGES if s in set(df.stage)]
    groups = [g for g in GROUPS if g in set(df.group)]
    panels = (("latency_s", MILLI, "latency (ms)"), ("flops", TERA, "FLOPs (TFLOP)"),
              ("bytes", GIGA, "memory traffic (GB)"))
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, (col, scale, label) in zip(axes, panels, strict=True):
        table = df.pivot_table(index="stage", columns="group", values=col, aggfunc="sum",
                               fill_value=0.0).reindex(index=stages, columns=groups,
                                                       fill_value=0.0) / scale
        _stacked(ax, stages, groups, table)
        ax.set(ylabel=label, xlabel="stage", title=f"{label.split(' (')[0]} (log scale)")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=len(groups), fontsize=9)
    return titled(fig, title)


def _stacked(ax: Any, stages: list[str], groups: list[str], table: pd.DataFrame) -> None:
    """Stacked bars on a log axis whose floor sits a decade under the smallest stage total."""
    bottom = np.zeros(len(stages))
    for g in groups:
        ax.bar(stages, table[g], bottom=bottom, color=GROUP_COLOR[g], label=g, width=0.6)
        bottom += table[g].to_numpy()
    for i, total in enumerate(bottom):
        ax.annotate(short(total), (i, total), ha="center", va="bottom", fontsize=8,
                    xytext=(0, 2), textcoords="offset points")
    positive = bottom[bottom > 0]
    if positive.size:
        ax.set_yscale("log")
        ax.set_ylim(positive.min() / 10, positive.max() * 3)
        plain_log_ticks(ax.yaxis)
    ax.grid(True, axis="y", which="major", alpha=0.3)
