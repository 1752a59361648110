"""The sweep figure: TTFT, TPOT, FLOPs and memory against visual tokens."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from costmodel.plots.common import MILLI, POINT_KEYS, plain_log_ticks, require, titled
from costmodel.units import GIGA, TERA

# A sweep's visual-input columns (costmodel sweep --images/--image-size/--seconds/--fps/
# --video-frames), where the frame has them: part of a point's identity (two inputs may give
# the same visual tokens); the image size and fps, beside the main axis, a line each.
INPUT_KEYS = ("image_size", "images", "video_fps", "video_seconds", "video_frames")
LINE_INPUTS = {"image_size": "{}", "video_fps": "{:g} fps"}


def sweep_figure(sweep_df: pd.DataFrame, capacity_bytes: Mapping[str, float] | None = None,
                 title: str | None = None) -> Figure:
    """TTFT, TPOT, FLOPs per request and memory footprint against visual tokens; one line per
    hardware (and per model/batch/... when those vary). FLOPs and memory do not depend on
    the device, so those panels draw one line per model when all devices agree.
    capacity_bytes (hardware id -> device memory) adds a dashed capacity line per device;
    `title` (models, devices, workload) heads the figure."""
    cols = (*POINT_KEYS, "visual_tokens", "stage", "flops", "ttft_s", "tpot_s",
            "total_memory_bytes")
    require(sweep_df, cols, "sweep frame")
    pts = _points(sweep_df)
    keys = [k for k in (*POINT_KEYS, *LINE_INPUTS) if k in pts and pts[k].nunique() > 1] or [
        "hardware"]
    fig = Figure(figsize=(12, 8), layout="constrained")
    axes = fig.subplots(2, 2, sharex=True).ravel()
    panels = (("ttft_s", MILLI, "TTFT (ms)", True), ("tpot_s", MILLI, "TPOT (ms)", True),
              ("flops", TERA, "FLOPs per request (TFLOP)", True),
              ("total_memory_bytes", GIGA, "memory footprint (GB)", False))
    for ax, (col, scale, label, logy) in zip(axes, panels, strict=True):
        device_free = col in ("flops", "total_memory_bytes")
        _lines(ax, pts, col, scale, _line_keys(pts, keys, col) if device_free else keys)
        ax.set(ylabel=label, title=label.split(" (")[0], yscale="log" if logy else "linear")
        if logy:
            plain_log_ticks(ax.yaxis)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True, steps=[1, 2, 2.5, 4, 5, 10]))
        ax.grid(True, which="major", alpha=0.3)
    by_cap: dict[float, list[str]] = {}
    for hw, cap in (capacity_bytes or {}).items():
        by_cap.setdefault(cap, []).append(hw)
    for cap, hws in by_cap.items():
        axes[3].axhline(cap / GIGA, ls="--", lw=1, color="gray")
        axes[3].annotate(f"capacity {cap / GIGA:g} GB: {', '.join(hws)}", (0, cap / GIGA),
                         xycoords=("axes fraction", "data"), xytext=(4, 2),
                         textcoords="offset points", fontsize=7, color="gray")
    for ax in axes[2:]:
        ax.set_xlabel("visual tokens per request")
        ax.legend(fontsize=8)
    handles, names = axes[0].get_legend_handles_labels()  # TTFT and TPOT share their lines
    fig.legend(handles, names, loc="outside lower center", ncols=min(len(names), 4), fontsize=9)
    return titled(fig, title)


def _points(sweep_df: pd.DataFrame) -> pd.DataFrame:
    """One row per point: per-point columns, FLOPs summed over the point's stages."""
    key = [*POINT_KEYS, *(c for c in INPUT_KEYS if c in sweep_df), "visual_tokens"]
    flops = sweep_df.groupby(key, sort=False, observed=True)["flops"].sum().rename("flops")
    per_point = sweep_df.drop_duplicates(key)[
        [*key, "ttft_s", "tpot_s", "total_memory_bytes"]].set_index(key)
    return per_point.join(flops).reset_index().sort_values("visual_tokens")


def _line_keys(pts: pd.DataFrame, keys: list[str], col: str) -> list[str]:
    """Drop `hardware` from the line key when every device gives the same values."""
    rest = [k for k in keys if k != "hardware"]
    spread = pts.groupby([*rest, "visual_tokens"])[col].agg(lambda s: np.ptp(s.to_numpy()))
    same = bool((spread <= 1e-9 * pts[col].abs().max()).all())
    return rest if same and rest != keys else keys


def _lines(ax: Any, pts: pd.DataFrame, col: str, scale: float, keys: list[str]) -> None:
    if not keys:
        part = pts.drop_duplicates("visual_tokens")
        ax.plot(part.visual_tokens, part[col] / scale, marker=".", label="all devices")
        return
    for vals, part in pts.groupby(keys, sort=False):
        vals = vals if isinstance(vals, tuple) else (vals,)
        label = ", ".join(LINE_INPUTS[k].format(v) if k in LINE_INPUTS else str(v)
                          if k in ("model", "hardware") else f"{k} {v}"
                          for k, v in zip(keys, vals, strict=True))
        part = part.drop_duplicates("visual_tokens")
        ax.plot(part.visual_tokens, part[col] / scale, marker=".", label=label)
