"""Figures from cost-model frames: roofline, sweep, breakdown by operator class, savings.

An edge module: the core and `costmodel estimate` never import it. Every function takes a
DataFrame (and, for the roofline, the hardware profile) and returns a `matplotlib.figure.Figure`;
none computes an estimate. Figures are built without pyplot, so nothing switches the global
backend and rendering is headless (`fig.savefig(path)` uses Agg for PNG).

Input contracts (base units in the frames; display units are chosen here):

- op frame: `Estimate.to_frame()` - one row per operator with stage, op, op_class, flops,
  bytes, latency_s (totals over the operator's instances and, for decode, over all steps).
- sweep frame: one row per point x stage with model, hardware, batch, visual_tokens,
  text_tokens, output_tokens, stage, flops, latency_s and the per-point columns ttft_s,
  tpot_s, total_memory_bytes (repeated on each of the point's stage rows).
- savings frame: tidy, one row per (stage, metric) with
    stage       vision | projector | prefill | decode | total
    metric      flops | bytes | latency_s | bound_latency_s | kv_cache_bytes | ttft_s |
                tpot_s | e2e_latency_s | bound_ttft_s | bound_tpot_s | bound_e2e_latency_s
    baseline    value without compression (FLOPs, bytes or seconds)
    compressed  value with compression (same unit)
    savings_pct 100 * (baseline - compressed) / baseline; positive = saved; NaN if baseline 0
  Per-request metrics (kv_cache_bytes, ttft_s, tpot_s, e2e_latency_s) use stage `total`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from costmodel.errors import CostmodelError
from costmodel.specs.hardware import HardwareProfile
from costmodel.units import GIGA, TERA, DType, seconds, si

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
                             "see the input contracts in costmodel/plots.py")
    if df.empty:
        raise CostmodelError(f"{what}: the frame has no rows")


# --------------------------------------------------------------------------- roofline
def roofline_figure(op_df: pd.DataFrame, hardware: HardwareProfile,
                    dtype: DType = DType.bf16) -> Figure:
    """Operators at (FLOP/byte, achieved FLOP/s = flops / latency_s) under the device's roof
    min(peak, bandwidth x intensity); the ridge point sits at peak / bandwidth."""
    require(op_df, ("stage", "op", "flops", "bytes", "latency_s"), "op frame")
    peak, bw = hardware.peak_flops(dtype), hardware.memory_bandwidth_Bps
    ridge = peak / bw
    df = op_df[(op_df.flops > 0) & (op_df.bytes > 0) & (op_df.latency_s > 0)]
    x = df.flops / df.bytes
    lo = min(x.min() if len(df) else ridge, ridge) / 3
    hi = max(x.max() if len(df) else ridge, ridge) * 5
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
    return fig


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


def _short(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def plain_log_ticks(axis: Any) -> None:
    """Log-axis labels as plain numbers (0.5, 2, 40); minor ticks at 2 and 5 labelled only
    when the axis spans under two decades."""
    def minor(v: float, _: int) -> str:
        lo, hi = sorted(axis.get_view_interval())
        mant = v / 10 ** np.floor(np.log10(v) + 1e-9)
        keep = lo > 0 and hi / lo < 100 and any(abs(mant - k) < 1e-6 for k in (2, 5))
        return f"{v:g}" if keep else ""

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(FuncFormatter(minor))


# --------------------------------------------------------------------------- breakdown
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


def breakdown_figure(op_df: pd.DataFrame) -> Figure:
    """Stacked bars per stage of latency, FLOPs and memory traffic by operator class."""
    require(op_df, ("stage", "op", "op_class", "flops", "bytes", "latency_s"), "op frame")
    df = op_df.assign(group=operator_group(op_df))
    stages = [s for s in STAGES if s in set(df.stage)]
    groups = [g for g in GROUPS if g in set(df.group)]
    panels = (("latency_s", MILLI, "latency (ms)"), ("flops", TERA, "FLOPs (TFLOP)"),
              ("bytes", GIGA, "memory traffic (GB)"))
    fig = Figure(figsize=(12, 4.5), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, (col, scale, label) in zip(axes, panels, strict=True):
        table = df.pivot_table(index="stage", columns="group", values=col, aggfunc="sum",
                               fill_value=0.0).reindex(index=stages, columns=groups,
                                                       fill_value=0.0) / scale
        bottom = np.zeros(len(stages))
        for g in groups:
            ax.bar(stages, table[g], bottom=bottom, color=GROUP_COLOR[g], label=g, width=0.6)
            bottom += table[g].to_numpy()
        for i, total in enumerate(bottom):
            ax.annotate(_short(total), (i, total), ha="center", va="bottom", fontsize=8,
                        xytext=(0, 2), textcoords="offset points")
        ax.set_ylim(0, bottom.max() * 1.12 if bottom.max() > 0 else 1)
        ax.set(ylabel=label, xlabel="stage", title=label.split(" (")[0])
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside upper center", ncols=len(groups), fontsize=9)
    return fig


# --------------------------------------------------------------------------- sweep
def sweep_figure(sweep_df: pd.DataFrame,
                 capacity_bytes: Mapping[str, float] | None = None) -> Figure:
    """TTFT, TPOT, FLOPs per request and memory footprint against visual tokens; one line per
    hardware (and per model/batch/... when those vary). FLOPs and memory do not depend on
    the device, so those panels draw one line per model when all devices agree.
    capacity_bytes (hardware id -> device memory) adds a dashed capacity line per device."""
    cols = (*POINT_KEYS, "visual_tokens", "stage", "flops", "ttft_s", "tpot_s",
            "total_memory_bytes")
    require(sweep_df, cols, "sweep frame")
    pts = _points(sweep_df)
    keys = [k for k in POINT_KEYS if pts[k].nunique() > 1] or ["hardware"]
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
    fig.legend(handles, names, loc="outside upper center", ncols=min(len(names), 4), fontsize=9)
    return fig


def _points(sweep_df: pd.DataFrame) -> pd.DataFrame:
    """One row per point: per-point columns, FLOPs summed over the point's stages."""
    key = [*POINT_KEYS, "visual_tokens"]
    flops = sweep_df.groupby(key, sort=False)["flops"].sum().rename("flops")
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
        label = ", ".join(f"{k} {v}" if k not in ("model", "hardware") else str(v)
                          for k, v in zip(keys, vals, strict=True))
        part = part.drop_duplicates("visual_tokens")
        ax.plot(part.visual_tokens, part[col] / scale, marker=".", label=label)


# --------------------------------------------------------------------------- savings
def savings_figure(savings_df: pd.DataFrame, title: str = "Savings from compression") -> Figure:
    """One horizontal bar per (stage, metric): savings in percent, annotated with
    baseline -> compressed in display units. Rows with no baseline (NaN savings) are left out."""
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
    ax.set(xlabel="savings (% of baseline; positive = less)", title=title)
    ax.grid(True, axis="x", alpha=0.3)
    return fig


def _savings_rows(savings_df: pd.DataFrame) -> pd.DataFrame:
    """Checked rows with a savings figure, ordered for plotting (first stage at the top)."""
    require(savings_df, ("stage", "metric", "baseline", "compressed", "savings_pct"),
            "savings frame")
    bad = [c for c in ("baseline", "compressed", "savings_pct")
           if not pd.api.types.is_numeric_dtype(savings_df[c])]
    if bad:
        raise CostmodelError(f"savings frame: column(s) {', '.join(bad)} must be numbers in "
                             "base units (FLOPs, bytes, seconds, percent)")
    df = savings_df.dropna(subset=["savings_pct"])
    if df.empty:
        raise CostmodelError("savings frame: every savings_pct is empty (baselines are zero)")
    order = {s: i for i, s in enumerate((*STAGES, "total"))}
    morder = {m: i for i, m in enumerate(METRIC_LABEL)}
    return df.assign(_s=df.stage.map(order).fillna(len(order)),
                     _m=df.metric.map(morder).fillna(len(morder))).sort_values(
                         ["_s", "_m"], ascending=False)


def _human(value: float, metric: str) -> str:
    if metric.endswith("_s"):
        return seconds(value)
    return si(value, "FLOP" if metric == "flops" else "B")


def compare_figure(records: list[dict[str, Any]], title: str) -> Figure:
    """Devices side by side (records of `costmodel compare`): TTFT, TPOT, throughput bars;
    grey hatched bars do not fit in memory."""
    fig = Figure(figsize=(13, 4.2))
    axes = fig.subplots(1, 3)
    names = [r["hardware"] for r in records]
    panels = (("ttft_s", "TTFT (ms)", 1e3), ("tpot_s", "TPOT (ms)", 1e3),
              ("tokens_per_s", "throughput (tokens/s)", 1.0))
    for ax, (key, label, scale) in zip(axes, panels, strict=True):
        vals = [r[key] * scale for r in records]
        bars = ax.bar(names, vals, color=["tab:blue" if r["fits"] else "tab:gray" for r in records])
        for b, r in zip(bars, records, strict=True):
            if not r["fits"]:
                b.set_hatch("//")
        ax.bar_label(bars, labels=[f"{v:.3g}" if v < 1000 else f"{v:.0f}" for v in vals],
                     fontsize=8)
        ax.set_ylabel(label)
        for t in ax.get_xticklabels():
            t.set(rotation=30, ha="right", fontsize=8)
    fig.suptitle(f"{title}  (grey hatched: does not fit in memory)", fontsize=10)
    fig.tight_layout()
    return fig


def validation_figure(err: pd.DataFrame, title: str) -> Figure:
    """Predicted vs measured (columns measured_s, predicted_s, group), log-log, one colour per
    group prefix (op or stage), with the y = x line."""
    require(err, ("measured_s", "predicted_s", "group"), "validation frame")
    fig = Figure(figsize=(7, 6))
    ax = fig.subplots()
    label = err["group"].str.split(" ").str[0]
    for name in dict.fromkeys(label):
        sel = label == name
        ax.scatter(err.loc[sel, "measured_s"] / MILLI, err.loc[sel, "predicted_s"] / MILLI, s=8,
                   label=name, alpha=0.7)
    lo = float(min(err["measured_s"].min(), err["predicted_s"].min()) / MILLI)
    hi = float(max(err["measured_s"].max(), err["predicted_s"].max()) / MILLI)
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="predicted = measured")
    ax.set(xscale="log", yscale="log", xlabel="measured (ms)", ylabel="predicted (ms)",
           title=title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def published_figure(frame: pd.DataFrame, title: str) -> Figure:
    """Predicted vs measured published runs (columns metric, value, predicted, bound, engine),
    log-log, as seconds of work per figure (rates inverted), one colour per engine; hollow
    markers: the roofline bound; with the y = x line."""
    require(frame, ("metric", "value", "predicted", "bound", "engine", "batch", "output_tokens"),
            "published frame")
    rate = frame["metric"].isin(("decode_tokens_per_s", "output_tokens_per_s"))
    work = np.where(frame["metric"] == "output_tokens_per_s",
                    frame["batch"] * frame["output_tokens"], 1.0)

    def as_s(col: str) -> np.ndarray:
        v = frame[col].to_numpy(float)
        return np.where(rate, work / v, v)

    measured, predicted, bound = as_s("value"), as_s("predicted"), as_s("bound")
    fig = Figure(figsize=(7, 6))
    ax = fig.subplots()
    for name in sorted(frame["engine"].unique()):
        sel = (frame["engine"] == name).to_numpy()
        dots = ax.scatter(measured[sel], predicted[sel], s=14, label=name, alpha=0.8)
        ax.scatter(measured[sel], bound[sel], s=14, facecolors="none",
                   edgecolors=dots.get_facecolor(), alpha=0.6)
    lo = float(min(measured.min(), predicted.min(), bound.min()))
    hi = float(max(measured.max(), predicted.max(), bound.max()))
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="predicted = measured")
    ax.set(xscale="log", yscale="log", xlabel="measured (s; time per token for decode rates, "
           "whole run for throughput)", ylabel="predicted (s)", title=title)
    ax.legend(fontsize=7, title="filled: expected, hollow: bound", title_fontsize=7)
    fig.tight_layout()
    return fig
