"""Vidur per-operator GPU timings as ground truth: load, map to costmodel operators, predict.

Vidur (microsoft/vidur, commit 7d47513, MIT licence) profiled each operator of a Llama decoder
layer on real GPUs; its `mlp.csv` files give, per `num_tokens` (rows through the layer) and
tensor-parallel degree, `time_stats.<op>.median` in milliseconds. Only tp = 1 rows are used.
Each Vidur operator is rebuilt with the costmodel.core.ops constructors for the same shape (bf16
weights and activations) and priced with costmodel.core.roofline, so a prediction here is exactly
what the estimator charges for that operator:

  attn_pre_proj   fused QKV: linear(h -> q_dim + 2 kv_dim)
  attn_post_proj  linear(q_dim -> h)
  mlp_up_proj     fused gate+up: linear(h -> 2 I)
  mlp_down_proj   linear(I -> h)
  mlp_act         SwiGLU over rows x I (reads gate and up)
  attn_rope       RoPE over rows x (q_dim + kv_dim)
  input_layernorm, post_attention_layernorm   RMSNorm over rows x h
  add             residual add over rows x h (reads two)
  emb             embedding gather of rows x h
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

import numpy as np

from costmodel.core.ops import (
    ACT_FLOPS,
    ADD_FLOPS,
    ROPE_FLOPS,
    Arr,
    Op,
    embedding,
    linear,
    norm,
    vector_op,
)
from costmodel.core.roofline import Rates, op_times
from costmodel.errors import CostmodelError
from costmodel.specs.hardware import HardwareProfile
from costmodel.units import DType

if TYPE_CHECKING:
    import pandas as pd

BF16 = 2.0  # bytes per element
SHAPE_COLS = ("n_embd", "n_expanded_embd", "n_head", "n_kv_head")


def _dims(shape: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    h, inter, heads, kv_heads = shape
    head_dim = h // heads
    return h, inter, heads * head_dim, kv_heads * head_dim


def _lin(d_in: int, d_out: int) -> Callable[[Arr], Op]:
    return lambda r: linear("lin", "prefill", r, d_in, d_out, False, BF16, BF16)


def op_builders(shape: tuple[int, int, int, int]) -> dict[str, Callable[[Arr], Op]]:
    """Vidur operator name -> (rows -> costmodel Op) for one layer shape."""
    h, inter, q, kv = _dims(shape)
    st = "prefill"
    return {
        "attn_pre_proj": _lin(h, q + 2 * kv),
        "attn_post_proj": _lin(q, h),
        "mlp_up_proj": _lin(h, 2 * inter),
        "mlp_down_proj": _lin(inter, h),
        "mlp_act": lambda r: vector_op("act", st, "activation", r * inter, ACT_FLOPS["swiglu"],
                                       2.0, BF16),
        "attn_rope": lambda r: vector_op("rope", st, "rope", r * (q + kv), ROPE_FLOPS,
                                         1.0, BF16),
        "input_layernorm": lambda r: norm("n1", st, r, h, "rmsnorm", BF16, BF16),
        "post_attention_layernorm": lambda r: norm("n2", st, r, h, "rmsnorm", BF16, BF16),
        "add": lambda r: vector_op("add", st, "elementwise", r * h, ADD_FLOPS, 2.0, BF16),
        "emb": lambda r: embedding("emb", st, r, h, BF16, BF16),
    }


VIDUR_OPS = tuple(op_builders((4096, 11008, 32, 32)))


def is_vidur(columns: list[str]) -> bool:
    return "num_tokens" in columns and any(c.startswith("time_stats.") for c in columns)


def load(path: str | Path, option: str = "--measurements") -> pd.DataFrame:
    """Long table: op, num_tokens, the shape columns, measured_s (median), one row per op."""
    import pandas as pd

    from costmodel.calibration.csvfile import numbers, read_csv, require

    wide = read_csv(path, option)
    require(wide, ("num_tokens", *SHAPE_COLS), path, option,
            "a Vidur mlp.csv (see tests/data/vidur/NOTE.md)")
    if "num_tensor_parallel_workers" in wide.columns:
        wide = wide[wide["num_tensor_parallel_workers"].str.strip().isin(["1", "1.0"])]
    cols = [f"time_stats.{op}.median" for op in VIDUR_OPS]
    if not any(c in wide.columns for c in cols):
        raise CostmodelError(f"{option}: {path} has no time_stats.<op>.median column; give a "
                             "Vidur mlp.csv")
    shapes = {c: numbers(wide, c, path, option).astype(np.int64)
              for c in ("num_tokens", *SHAPE_COLS)}
    parts = []
    for op, col in zip(VIDUR_OPS, cols, strict=True):
        if col in wide.columns:
            part = pd.DataFrame({"op": op, **shapes})
            part["measured_s"] = numbers(wide, col, path, option, empty=True) * 1e-3  # ms -> s
            parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out = out[out["measured_s"] > 0].reset_index(drop=True)
    if out.empty:
        raise CostmodelError(f"{option}: no data rows in {path} (tp=1 timings > 0); give a "
                             "Vidur mlp.csv with measurements")
    return out


Execution = Literal["eager", "cuda_graph", "engine"]  # how measured kernels were launched


def roofline_times(df: pd.DataFrame, hw: HardwareProfile, execution: Execution = "eager",
                   curves: bool = True) -> Arr:
    """Predicted latency in s per row of `load`'s table (vectorised per op and shape).
    curves=False prices the bare roofline (the profile's efficiency curves ignored)."""
    rates = Rates.from_profiles([hw], DType.bf16, launch=execution == "eager")
    if not curves:
        rates = Rates(rates.matmul_flops_per_s, rates.attention_flops_per_s,
                      rates.vector_flops_per_s, rates.bytes_per_s, rates.launch_s)
    out = np.full(len(df), np.nan)
    for key, idx in df.groupby(["op", *SHAPE_COLS]).indices.items():
        name, embd, expanded, heads, kv_heads = cast("tuple[str, int, int, int, int]", key)
        op = op_builders((int(embd), int(expanded), int(heads), int(kv_heads)))[name](
            df["num_tokens"].to_numpy(float)[idx])
        out[idx] = op_times(op, rates).latency_s("roofline", rates.launch_s)
    return out


def curve_class(op: str) -> str:
    """The efficiency-curve class (costmodel.core.roofline.CURVE_OF_CLASS) of a Vidur operator."""
    from costmodel.core.roofline import CURVE_OF_CLASS

    return CURVE_OF_CLASS[op_builders((4096, 11008, 32, 32))[op](np.ones(1)).op_class]


BUCKETS = ((1, 63), (64, 511), (512, 4096), (4097, 32768))


def fit_curves(df: pd.DataFrame, hw: HardwareProfile) -> dict[str, dict[str, list[float]]]:
    """Efficiency curve per op class from measurements, against the bare roofline of `hw`
    (its own curves ignored). YAML-ready: {class: {roofline_us: [...], efficiency: [...]}}."""
    from costmodel.calibration.fit import fit_curve

    # No launch on either side: Vidur's times are CUDA-event kernel times and the written
    # profile's launch overhead is 0 (calibrate_cmd._from_vidur); subtracting the base's own
    # launch (a user's --base with kernel_launch_overhead_us set) fitted curves the written
    # profile then under-predicted its own data by.
    t = roofline_times(df, hw, "cuda_graph", curves=False)
    classes = df["op"].map(curve_class).to_numpy()
    out = {}
    for cls in sorted(set(classes)):
        sel = classes == cls
        meas = df["measured_s"].to_numpy(float)[sel]
        knots, eff = fit_curve(t[sel], np.maximum(meas, 1e-9), min_points=1)
        out[cls] = {"roofline_us": [round(k * 1e6, 4) for k in knots],
                    "efficiency": [round(e, 4) for e in eff]}
    return out


def errors(df: pd.DataFrame, hw: HardwareProfile, execution: Execution = "eager") -> pd.DataFrame:
    """`load`'s table plus predicted_s, ape_pct and the token-count bucket of each row."""
    from costmodel.calibration.fit import ape

    out = df.copy()
    out["predicted_s"] = roofline_times(df, hw, execution)
    out["ape_pct"] = ape(out["predicted_s"], out["measured_s"])
    n = out["num_tokens"].to_numpy()
    out["bucket"] = ""
    for lo, hi in BUCKETS:
        out.loc[(n >= lo) & (n <= hi), "bucket"] = f"{lo}-{hi}"
    return out


def summary(err: pd.DataFrame, by: tuple[str, ...] = ("op", "bucket")) -> pd.DataFrame:
    """Median and max absolute percentage error and point count per group."""
    g = err.groupby(list(by))["ape_pct"]
    return g.agg(points="size", median_ape_pct="median", max_ape_pct="max").reset_index()
