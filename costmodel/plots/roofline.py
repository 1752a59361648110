"""The roofline figure: every operator under the device's roof."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from costmodel.errors import CostmodelError
from costmodel.plots.common import STAGE_STYLE, STAGES, require, titled
from costmodel.specs.hardware import HardwareProfile
from costmodel.units import GIGA, TERA, DType


def roofline_figure(op_df: pd.DataFrame, hardware: HardwareProfile,
                    dtype: DType = DType.bf16, title: str | None = None) -> Figure:
    """Operators at (FLOP/byte, achieved FLOP/s = flops / latency_s) under the device's roof
    min(peak, bandwidth x intensity); the ridge point sits at peak / bandwidth."""
    require(op_df, ("stage", "op", "flops", "bytes", "latency_s"), "op frame")
    peak, bw = hardware.peak_flops_per_s(dtype), hardware.memory_bytes_per_s
    ridge = peak / bw
    df = op_df[(op_df.flops > 0) & (op_df.bytes > 0) & (op_df.latency_s > 0)]
    x = df.flops / df.bytes
    lo = min(x.min() if len(df) else ridge, ridge) / 3
    hi = max(x.max() if len(df) else ridge, ridge) * 5
    _check_span(hardware, peak, bw, lo, hi)
    fig = Figure(figsize=(8, 5.5), layout="constrained")
    ax = fig.add_subplot()
    grid = np.geomspace(lo, hi, 200)
    ax.plot(grid, np.minimum(peak, bw * grid) / TERA, color="black", lw=1.5,
            label=f"roof: {peak / TERA:.0f} TFLOP/s, {bw / GIGA:.0f} GB/s")
    ce, me = hardware.compute_efficiency, hardware.memory_efficiency
    if ce < 1 or me < 1:
        ax.plot(grid, np.minimum(peak * ce, bw * me * grid) / TERA, color="black", lw=1, ls="--",
                label=f"achievable roof (compute x{ce:g}, memory x{me:g})")
    ax.axvline(ridge, color="gray", lw=0.8, ls=":")
    ax.plot([ridge], [peak / TERA], "D", color="black", ms=7, ls="none",
            label=f"ridge point: {ridge:.0f} FLOP/byte")
    for stage in [s for s in STAGES if s in set(df.stage)] + sorted(set(df.stage) - set(STAGES)):
        part = df[df.stage == stage]
        color, marker = STAGE_STYLE.get(stage, ("tab:brown", "P"))
        ax.scatter(part.flops / part.bytes, part.flops / part.latency_s / TERA, c=color,
                   marker=marker, s=40, alpha=0.75, edgecolors="white", linewidths=0.5,
                   label=f"{stage} ops ({len(part)})")
    _label_top_ops(ax, df)
    ax.set(xscale="log", yscale="log", xlim=(lo, hi),
           xlabel="arithmetic intensity (FLOP/byte)", ylabel="achieved throughput (TFLOP/s)",
           title=f"Roofline: {hardware.name}{' (what-if)' if hardware.changes else ''}, "
                 f"{dtype.value}")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return titled(fig, title)


MAX_DECADES = 60  # of arithmetic intensity on one chart (every real device and model: < 10)


def _check_span(hardware: HardwareProfile, peak: float, bw: float, lo: float, hi: float) -> None:
    """A roof no chart can draw (--set memory_bandwidth_GBps=1e-300: ridge 3e305 FLOP/byte,
    matplotlib's log ticks overflowed; 1e300: a zero in the roof's grid) refused in one line
    before any drawing."""
    span = np.log10(hi) - np.log10(lo) if lo > 0 and hi > lo else np.inf
    roof = (peak, bw, peak / bw, bw * hi)
    if not (np.isfinite(span) and span <= MAX_DECADES and all(np.isfinite(roof))
            and min(roof) > 0):
        raise CostmodelError(f"hardware: {hardware.id}'s roof ({peak:.3g} FLOP/s, {bw:.3g} "
                             f"B/s, ridge point {peak / bw:.3g} FLOP/byte) and the operators "
                             f"span {lo:.3g}..{hi:.3g} FLOP/byte, beyond a {MAX_DECADES}-decade"
                             " chart; check peak_tflops and memory_bandwidth_GBps (or --set)")


def _label_top_ops(ax: Any, df: pd.DataFrame, n: int = 5) -> None:
    """List the n operators that take the most time (layer ranges stripped) in a corner box;
    ops of one kind share a position on the chart, so labels at the points would collide."""
    total = df.latency_s.sum()
    lines = ["most time (share of latency, FLOP/byte):"]
    for r in df.nlargest(n, "latency_s").itertuples():
        name = "/".join(p for p in r.op.split("/") if not p.startswith("L"))
        lines.append(f"{r.stage} {name}: {100 * r.latency_s / total:.0f}%, "
                     f"{r.flops / r.bytes:.3g}")
    ax.text(0.02, 0.98, "\n".join(lines), transform=ax.transAxes, va="top", fontsize=7,
            bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "lightgray"})
