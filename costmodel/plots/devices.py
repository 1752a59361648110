"""The compare figure: devices side by side for one workload (records of `costmodel compare`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from costmodel.plots.common import plain_log_ticks, titled
from costmodel.units import GIGA

OUTLIER_RATIO = 10.0  # a panel whose largest bar is this many times its smallest goes log
PANELS = (("ttft_s", "TTFT (ms)", 1e3), ("tpot_s", "TPOT (ms)", 1e3),
          ("tokens_per_s", "throughput (tokens/s)", 1.0))
ENGINE_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink",
                 "tab:olive", "tab:cyan")  # no grey: grey marks a pair that does not fit


def compare_figure(records: list[dict[str, Any]], title: str) -> Figure:
    """TTFT, TPOT, throughput bars per device (grey hatched: does not fit in memory); a panel
    whose bars span more than OUTLIER_RATIO goes to a log scale, so one slow device does not
    flatten the others. A fourth panel: each device's memory footprint against its capacity.
    Records of several engines (`compare --engine a,b`): a bar per (device, engine), labelled
    'device | engine' and coloured by engine (a legend names them; ideal: the roofline bound)."""
    engines = list(dict.fromkeys(str(r.get("engine", "")) for r in records))
    several = len(engines) > 1
    wide = max(16.0, 2.0 * len(records)) if several else 16.0  # room for the bars' labels
    fig = Figure(figsize=(wide, 4.8), layout="constrained")
    axes = fig.subplots(1, 4)
    names = [f"{r['hardware']} | {r['engine']}" if several else r["hardware"] for r in records]
    hue = {e: ENGINE_COLORS[i % len(ENGINE_COLORS)] for i, e in enumerate(engines)}
    colors = [(hue[r["engine"]] if several else "tab:blue") if r["fits"] else "tab:gray"
              for r in records]
    for ax, (key, label, scale) in zip(axes[:3], PANELS, strict=True):
        vals = np.array([r[key] * scale for r in records], dtype=float)
        bars = ax.bar(names, vals, color=colors)
        for b, r in zip(bars, records, strict=True):
            if not r["fits"]:
                b.set_hatch("//")
        ax.bar_label(bars, labels=[f"{v:.3g}" if v < 1000 else f"{v:.0f}" for v in vals],
                     fontsize=8)
        _scale(ax, vals)
        ax.set_title(label.split(" (")[0] + (" (log scale)" if ax.get_yscale() == "log" else ""),
                     fontsize=9)
        ax.set_ylabel(label)
    _memory(axes[3], records, names)
    if several:
        _engine_legend(axes[0], hue)
    for ax in axes:
        for t in ax.get_xticklabels():
            t.set(rotation=30, ha="right", fontsize=8)
    return titled(fig, f"{title}\ngrey hatched: does not fit in memory")


def _engine_legend(ax: Any, hue: dict[str, str]) -> None:
    """A legend of the engines' colours (the roofline bound named as such)."""
    handles = [Patch(color=c, label=f"{e} (roofline bound)" if e == "ideal" else e)
               for e, c in hue.items()]
    ax.legend(handles=handles, fontsize=7, loc="upper left", title="engine", title_fontsize=7)


def _scale(ax: Any, vals: np.ndarray) -> None:
    """Log scale when the finite positive bars span more than OUTLIER_RATIO."""
    ok = vals[np.isfinite(vals) & (vals > 0)]
    if ok.size >= 2 and ok.max() / ok.min() > OUTLIER_RATIO:
        ax.set_yscale("log")
        ax.set_ylim(ok.min() / 3, ok.max() * 3)
        plain_log_ticks(ax.yaxis)
    else:
        ax.margins(y=0.15)


def _memory(ax: Any, records: list[dict[str, Any]], names: list[str]) -> None:
    """Footprint bars (GB) with each device's capacity as a black tick across its bar."""
    used = np.array([r.get("per_gpu_total_memory_bytes", r["total_memory_bytes"]) for r in records],
                    dtype=float) / GIGA  # the most loaded GPU under --tp/--pp/--ep
    cap = np.array([r["capacity_bytes"] for r in records], dtype=float) / GIGA
    bars = ax.bar(names, used, color=["tab:blue" if r["fits"] else "tab:red" for r in records],
                  label="footprint")
    ax.bar_label(bars, labels=[f"{u:.3g} / {c:.3g}" for u, c in zip(used, cap, strict=True)],
                 fontsize=7)
    x = np.arange(len(names))
    ax.hlines(cap, x - 0.4, x + 0.4, colors="black", lw=2, label="capacity")
    ax.set_ylim(0, max(float(np.nanmax(used)), float(np.nanmax(cap))) * 1.2)
    ax.set(ylabel="memory (GB)")
    ax.set_title("memory footprint vs capacity (red: does not fit)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
