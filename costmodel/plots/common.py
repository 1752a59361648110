"""Shared pieces of the figures: stage and group styles, input checks, tick formatters and
the title every figure carries (built by the caller, set here as the figure's suptitle and read
back by the writer for the file's metadata)."""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from costmodel.errors import CostmodelError

STAGES = ("vision", "projector", "prefill", "decode")
STAGE_STYLE = {"vision": ("tab:blue", "o"), "projector": ("tab:purple", "s"),
               "prefill": ("tab:orange", "^"), "decode": ("tab:green", "v")}
GROUPS = ("vision encoder", "projector", "attention", "MLP", "other")
GROUP_COLOR = dict(zip(GROUPS, ("tab:blue", "tab:purple", "tab:red", "tab:olive", "tab:gray"),
                       strict=True))
POINT_KEYS = ("model", "hardware", "batch", "text_tokens", "output_tokens")
MILLI = 1e-3  # divide seconds by this for ms
METRIC_LABEL = {"flops": "FLOPs", "bytes": "memory traffic", "latency_s": "latency",
                "bound_latency_s": "latency (bound)", "kv_cache_bytes": "KV cache",
                "ttft_s": "TTFT", "bound_ttft_s": "TTFT (bound)", "tpot_s": "TPOT",
                "bound_tpot_s": "TPOT (bound)", "e2e_latency_s": "end-to-end latency",
                "bound_e2e_latency_s": "end-to-end (bound)",
                "total_memory_bytes": "memory footprint"}


def require(df: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    """Raise a one-line CostmodelError naming the missing columns of an input frame."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise CostmodelError(f"{what}: missing column(s) {', '.join(missing)}; "
                             "see the input contracts in costmodel/plots/__init__.py")
    if df.empty:
        raise CostmodelError(f"{what}: the frame has no rows")


def titled(fig: Figure, title: str | None) -> Figure:
    """Set the figure's title (its suptitle): what the figure shows (model, device, workload,
    engine, compression), written by the caller. `figure_title` reads it back."""
    if title:
        # each line wrapped to the figure's width (9 pt text: about 5 pt a character), so a
        # long list of models or engines is not cut off at the edges
        width = max(40, int(fig.get_figwidth() * 72 / 5))
        lines = [textwrap.fill(line, width) for line in title.splitlines()]
        fig.suptitle("\n".join(lines), fontsize=9)
        fig._costmodel_title = title  # type: ignore[attr-defined]  # read by figure_title
    return fig


def figure_title(fig: Figure) -> str:
    """The title set by `titled` (one line: newlines become ' | '), or ''."""
    text = getattr(fig, "_costmodel_title", None)
    if text is None:
        sup = getattr(fig, "_suptitle", None)
        text = sup.get_text() if sup is not None else ""
    return " | ".join(p.strip() for p in text.splitlines() if p.strip())


def short(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def plain_log_ticks(axis: Any) -> None:
    """Log-axis labels as plain numbers (0.5, 2, 40). Minor ticks are labelled by the span
    shown: all of them under one decade (so a narrow axis always has numbers), those at 2 and
    5 under two decades, none above."""
    def minor(v: float, _: int) -> str:
        lo, hi = sorted(axis.get_view_interval())
        if lo <= 0 or v <= 0:
            return ""
        mant = round(v / 10 ** np.floor(np.log10(v) + 1e-9), 6)
        span = hi / lo
        keep = span < 10 or (span < 100 and mant in (2.0, 5.0))
        return f"{v:g}" if keep else ""

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(FuncFormatter(minor))
