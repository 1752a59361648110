"""Evaluations -> pandas DataFrames (tidy: one row per operator, units in column names)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from costmodel.core.evaluate import Evaluation
from costmodel.core.metrics import bound_label

_RANGE = re.compile(r"/L(\d+)-(\d+)/")


def _at(x: np.ndarray, i: int, shape: tuple[int, ...]) -> float:
    return float(np.broadcast_to(np.asarray(x, dtype=float), shape).reshape(-1)[i])


def op_frame(ev: Evaluation, i: int = 0, per_layer: bool = False) -> pd.DataFrame:
    """Operator rows for point i. Quantities are totals over the operator's instances (and,
    for decode, over all decode steps); per_layer splits a layer range into one row a layer.
    launch_s: the operator's kernel launches (host time): in its latency_s under an engine's
    `host_overlap: serial`; under `async` its latency_s is the device time and the stage's
    `engine/host_exposed` row holds the launches the device does not hide. bound_by: what
    holds the operator ('compute', 'memory', 'comm' or 'host': core.metrics.bound_label), not
    a latency (the roofline-bound latencies are Estimate.bound and the stage_frame's
    bound_latency_s). count: the operator's instances (an int)."""
    rows = []
    shape = np.shape(ev.ttft_s)
    for c in ev.op_costs:
        vals = {
            "flops": _at(c.flops, i, shape), "useful_flops": _at(c.useful_flops, i, shape),
            "weight_bytes": _at(c.weight_bytes, i, shape), "act_bytes": _at(c.act_bytes, i, shape),
            "kv_bytes": _at(c.kv_bytes, i, shape), "compute_s": _at(c.compute_s, i, shape),
            "memory_s": _at(c.memory_s, i, shape), "latency_s": _at(c.latency_s, i, shape),
            "launch_s": _at(c.launch_s, i, shape),
        }
        base = {"stage": c.op.stage, "op": c.op.name, "op_class": c.op.op_class,
                "bound_by": str(bound_label(vals["compute_s"], vals["memory_s"], c.op.op_class))}
        m = _RANGE.search(c.op.name)
        if per_layer and m:
            lo, hi = int(m.group(1)), int(m.group(2))
            n = hi - lo + 1
            for layer in range(lo, hi + 1):
                name = _RANGE.sub(f"/L{layer}/", c.op.name)
                rows.append({**base, "op": name, "count": 1, **{k: v / n for k, v in vals.items()}})
        else:
            rows.append({**base, "count": c.op.count, **vals})
    df = pd.DataFrame(rows)
    df["bytes"] = df["weight_bytes"] + df["act_bytes"] + df["kv_bytes"]
    with np.errstate(divide="ignore", invalid="ignore"):
        df["intensity_flops_per_byte"] = np.where(df["bytes"] > 0, df["flops"] / df["bytes"], 0.0)
    return df
