"""The sweep figure: TTFT, TPOT, FLOPs and memory against the swept input (visual tokens,
images per request, video frames or seconds; an image size or fps when only it varies)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from costmodel.errors import CostmodelError
from costmodel.plots.common import MILLI, POINT_KEYS, plain_log_ticks, require, titled
from costmodel.units import GIGA, TERA

# A sweep's visual-input columns (costmodel sweep --images/--image-size/--seconds/--fps/
# --video-frames), where the frame has them: part of a point's identity (two inputs may give
# the same visual tokens); the image size and fps, beside the main axis, a line each.
INPUT_KEYS = ("image_size", "images", "video_fps", "video_seconds", "video_frames")
LINE_INPUTS = {"image_size": "{}", "video_fps": "{:g} fps"}
# The main input as a line's label, where the x axis is an image size or fps beside it.
MAIN_LABELS = {"images": "images {}", "video_seconds": "{:g} s", "video_frames": "{} frames"}
LINE_LABELS = {**LINE_INPUTS, **MAIN_LABELS}
# The x axis: the sweep's main input, the first of these the frame has (video_frames comes
# with video_seconds too: the frames sampled, not the axis); an image size or fps when the
# main input has one value and it varies.
MAIN_X = ("video_seconds", "video_frames", "images", "visual_tokens")
X_CHOICES = (*MAIN_X, "image_size", "video_fps")


def sweep_figure(sweep_df: pd.DataFrame, capacity_bytes: Mapping[str, float] | None = None,
                 title: str | None = None, x: str | None = None) -> Figure:
    """TTFT, TPOT, FLOPs per request and memory footprint against the swept input (`x`, a
    column of the frame; by default the sweep's axis: visual tokens, images per request, video
    frames or video seconds, or the image size or fps when only it varies); one line per
    hardware (and per model/batch/image size/fps/... when those vary). FLOPs and memory do not
    depend on the device, so those panels draw one line per model when all devices agree.
    capacity_bytes (hardware id -> device memory) adds a dashed capacity line per device;
    `title` (models, devices, workload) heads the figure."""
    cols = (*POINT_KEYS, "visual_tokens", "stage", "flops", "ttft_s", "tpot_s",
            "total_memory_bytes")
    require(sweep_df, cols, "sweep frame")
    pts = _points(sweep_df)
    x = _x_column(pts, x)
    pts = _with_x(pts, x)
    keys = [k for k in (*POINT_KEYS, *LINE_INPUTS, *_main_beside(pts, x)) if k != x
            and k in pts and pts[k].nunique() > 1] or ["hardware"]
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
    _x_ticks(axes[0], pts, x)
    _capacity(axes[3], capacity_bytes)
    for ax in axes[2:]:
        ax.set_xlabel(_x_label(pts, x))
        ax.legend(fontsize=8)
    handles, names = axes[0].get_legend_handles_labels()  # TTFT and TPOT share their lines
    fig.legend(handles, names, loc="outside lower center", ncols=min(len(names), 4), fontsize=9)
    return titled(fig, title)


def _x_column(pts: pd.DataFrame, x: str | None) -> str:
    """The column the x axis shows: `x` as given, else the sweep's own axis."""
    if x is not None:
        if x not in X_CHOICES or x not in pts:
            have = ", ".join(c for c in X_CHOICES if c in pts)
            raise CostmodelError(f"x: {x!r} is not a swept input of this frame; give one of "
                                 f"{have}")
        return x
    main = next(c for c in MAIN_X if c in pts)
    if pts[main].nunique() > 1:
        return main
    return next((c for c in ("video_fps", "image_size") if c in pts and pts[c].nunique() > 1),
                main)


def _main_beside(pts: pd.DataFrame, x: str) -> list[str]:
    """The sweep's main input (images, video seconds or frames) as a line key where the x axis
    is an image size or fps beside it: a line each, so that no point at the same x is
    dropped."""
    main = next(c for c in MAIN_X if c in pts)
    return [main] if x in LINE_INPUTS and main != x and main in MAIN_LABELS else []


def _x_label(pts: pd.DataFrame, x: str) -> str:
    """What the x axis shows, in words: what was swept, with the one size or fps it was at."""
    def one(col: str, words: str) -> str:
        vals: Any = pts[col].unique() if col in pts else []
        if len(vals) != 1:
            return ""
        v = vals[0]
        return words.format(f"{v:g}" if isinstance(v, float | np.floating) else v)

    video = "video_frames" in pts
    lines = "image_size" in pts and pts["image_size"].nunique() > 1
    size = one("image_size", " of {}") or (
        f", a line per {'frame' if video else 'image'} size" if lines else "")
    if x == "image_size":
        count = (one("video_seconds", " ({} s video)") or one("video_frames", " ({} frames)")
                 ) if video else one("images", " ({} images per request)").replace(
                     "(1 images", "(1 image")
        return f"{'video frame' if video else 'image'} size, WIDTHxHEIGHT{count}"
    if x == "video_fps":
        clip = one("video_seconds", " sampled from {} s") or ", a line per video length"
        return f"video frames per second{clip}{size}"
    if x == "video_seconds":
        fps = one("video_fps", "{} fps") or "each line's fps"
        return f"video seconds{size}, frames sampled at {fps}"
    return {"video_frames": f"video frames per request{size}",
            "images": f"images per request{size}"}.get(x, "visual tokens per request")


def _points(sweep_df: pd.DataFrame) -> pd.DataFrame:
    """One row per point: per-point columns, FLOPs summed over the point's stages."""
    key = [*POINT_KEYS, *(c for c in INPUT_KEYS if c in sweep_df), "visual_tokens"]
    flops = sweep_df.groupby(key, sort=False, observed=True)["flops"].sum().rename("flops")
    mem = "per_gpu_total_memory_bytes" if "per_gpu_total_memory_bytes" in sweep_df else (
        "total_memory_bytes")  # the most loaded GPU under --tp/--pp/--ep: what capacity bounds
    per_point = sweep_df.drop_duplicates(key)[[*key, "ttft_s", "tpot_s", mem]].rename(
        columns={mem: "total_memory_bytes"}).set_index(key)
    return per_point.join(flops).reset_index()


def _with_x(pts: pd.DataFrame, x: str) -> pd.DataFrame:
    """The points with the x position `_x` (an image size: its rank by pixels), sorted by it."""
    if x != "image_size":
        return pts.assign(_x=pts[x].astype(float)).sort_values("_x", kind="stable")
    return pts.assign(_x=pts[x].astype(str).map(_size_ranks(pts))).sort_values("_x",
                                                                               kind="stable")


def _size_ranks(pts: pd.DataFrame) -> dict[str, float]:
    """'WxH' -> its position on an image-size axis, smallest image (then narrowest) first."""
    def area(text: str) -> tuple[int, int]:
        w, _, h = text.partition("x")
        return (int(w) * int(h), int(w)) if w.isdigit() and h.isdigit() else (0, 0)

    sizes = sorted(dict.fromkeys(pts["image_size"].astype(str)), key=area)
    return {s: float(i) for i, s in enumerate(sizes)}


def _x_ticks(ax: Any, pts: pd.DataFrame, x: str) -> None:
    """Ticks of the shared x axis: the sizes by name, counts as integers, others plain."""
    if x == "image_size":
        ranks = _size_ranks(pts)
        ax.set_xticks(list(ranks.values()), list(ranks))
        return
    whole = x in ("visual_tokens", "images", "video_frames")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=whole, steps=[1, 2, 2.5, 4, 5, 10]))


def _capacity(ax: Any, capacity_bytes: Mapping[str, float] | None) -> None:
    """A dashed line per device capacity (devices of one capacity share it)."""
    by_cap: dict[float, list[str]] = {}
    for hw, cap in (capacity_bytes or {}).items():
        by_cap.setdefault(cap, []).append(hw)
    for cap, hws in by_cap.items():
        ax.axhline(cap / GIGA, ls="--", lw=1, color="gray")
        ax.annotate(f"capacity {cap / GIGA:g} GB: {', '.join(hws)}", (0, cap / GIGA),
                    xycoords=("axes fraction", "data"), xytext=(4, 2),
                    textcoords="offset points", fontsize=7, color="gray")


def _line_keys(pts: pd.DataFrame, keys: list[str], col: str) -> list[str]:
    """Drop `hardware` from the line key when every device gives the same values."""
    rest = [k for k in keys if k != "hardware"]
    spread = pts.groupby([*rest, "_x"])[col].agg(lambda s: np.ptp(s.to_numpy()))
    same = bool((spread <= 1e-9 * pts[col].abs().max()).all())
    return rest if same and rest != keys else keys


def _lines(ax: Any, pts: pd.DataFrame, col: str, scale: float, keys: list[str]) -> None:
    if not keys:
        part = pts.drop_duplicates("_x")
        ax.plot(part["_x"], part[col] / scale, marker=".", label="all devices")
        return
    for vals, part in pts.groupby(keys, sort=False):
        vals = vals if isinstance(vals, tuple) else (vals,)
        label = ", ".join(LINE_LABELS[k].format(v) if k in LINE_LABELS else str(v)
                          if k in ("model", "hardware") else f"{k} {v}"
                          for k, v in zip(keys, vals, strict=True))
        part = part.drop_duplicates("_x")
        ax.plot(part["_x"], part[col] / scale, marker=".", label=label)
