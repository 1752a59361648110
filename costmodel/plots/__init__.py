"""Figures from cost-model frames: roofline, sweep, breakdown by operator class, savings,
device comparison, predicted vs measured.

An edge package: the core and `costmodel estimate` never import it. Every function takes a
DataFrame (records for `compare_figure`; the hardware profile for the roofline) and a title
built by the caller (model, device, workload, engine, compression), and returns a
`matplotlib.figure.Figure` whose suptitle is that title; none computes an estimate. Figures are
built without pyplot, so nothing switches the global backend and rendering is headless
(`fig.savefig(path)` uses Agg for PNG). `figure_title(fig)` reads the title back (the CLI
writes it into the file's metadata).

Input contracts (base units in the frames; display units are chosen here):

- op frame: `Estimate.to_frame()` - one row per operator with stage, op, op_class, flops,
  bytes, latency_s (totals over the operator's instances and, for decode, over all steps).
- sweep frame: one row per point x stage with model, hardware, batch, visual_tokens,
  text_tokens, output_tokens, stage, flops, latency_s and the per-point columns ttft_s,
  tpot_s, total_memory_bytes (repeated on each of the point's stage rows); a sweep over
  images or a video adds images, image_size, video_fps, video_seconds, video_frames.
- savings frame: tidy, one row per (stage, metric) with
    stage       vision | projector | prefill | decode | total
    metric      flops | bytes | latency_s | bound_latency_s | kv_cache_bytes | ttft_s |
                tpot_s | e2e_latency_s | bound_ttft_s | bound_tpot_s | bound_e2e_latency_s
    baseline    value without compression (FLOPs, bytes or seconds)
    compressed  value with compression (same unit)
    savings_pct 100 * (baseline - compressed) / baseline; positive = saved; NaN if baseline 0
  Per-request metrics (kv_cache_bytes, ttft_s, tpot_s, e2e_latency_s) use stage `total`.
- compare records: `costmodel compare` rows with hardware, ttft_s, tpot_s, tokens_per_s,
  total_memory_bytes, capacity_bytes, fits (per_gpu_total_memory_bytes, when present, is the footprint drawn).
"""

from __future__ import annotations

from costmodel.plots.breakdown import breakdown_figure, operator_group
from costmodel.plots.common import (
    GROUP_COLOR,
    GROUPS,
    METRIC_LABEL,
    MILLI,
    POINT_KEYS,
    STAGE_STYLE,
    STAGES,
    figure_title,
    plain_log_ticks,
    require,
    titled,
)
from costmodel.plots.devices import compare_figure
from costmodel.plots.measured import published_figure, validation_figure
from costmodel.plots.roofline import roofline_figure
from costmodel.plots.savings import savings_figure
from costmodel.plots.sweep import sweep_figure

__all__ = ["GROUPS", "GROUP_COLOR", "METRIC_LABEL", "MILLI", "POINT_KEYS", "STAGES",
           "STAGE_STYLE", "breakdown_figure", "compare_figure", "figure_title",
           "operator_group", "plain_log_ticks", "published_figure", "require", "roofline_figure",
           "savings_figure", "sweep_figure", "titled", "validation_figure"]
