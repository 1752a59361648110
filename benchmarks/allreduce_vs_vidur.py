"""The ring all-reduce model (costmodel/core/parallel/tensor.py) against measured NCCL all-reduces.

Data: tests/data/vidur_all_reduce.csv (from microsoft/vidur, MIT licence): one 8-GPU DGX
node, A100 80GB SXM4 and H100 SXM, 2/4/8 GPUs, 2 KiB .. 64 MiB. Two checks:

1. The model as shipped: the profile's NVLink bandwidth per direction (a100-80gb 300 GB/s,
   h100-sxm 450 GB/s) and the default NVLink step latency (roofline.DEFAULT_LINK_LATENCY_S).
2. Fitted effective values: bandwidth efficiency eta and step latency alpha fitted on the A100
   points only (least squares on relative error), then checked on the H100 points (held out).
3. The same fit per device on the 2- and 8-GPU points, checked on the 4-GPU points (held out).

Run: python benchmarks/allreduce_vs_vidur.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from costmodel import load_hardware
from costmodel.core.parallel.tensor import allreduce_link, allreduce_time_s
from costmodel.core.roofline import link_latency_s

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "vidur_all_reduce.csv"
PROFILES = {"a100": "a100-80gb", "h100": "h100-sxm"}
RANGES = ((0, 64 * 1024, "<= 64 KiB"), (64 * 1024, 4 * 1024**2, "64 KiB - 4 MiB"),
          (4 * 1024**2, np.inf, ">= 4 MiB"))


def load() -> pd.DataFrame:
    df = pd.read_csv(DATA, comment="#")
    hw = {g: load_hardware(p) for g, p in PROFILES.items()}
    df["link_Bps"] = [hw[g].interconnect_bytes_per_s for g in df.gpu]
    df["hop_s"] = [link_latency_s(hw[g]) for g in df.gpu]
    df["measured_s"] = df.median_ms * 1e-3
    return df


def predict(df: pd.DataFrame, eta: float = 1.0, alpha_s: float | None = None) -> np.ndarray:
    """Model time (s) per row; eta scales the link bandwidth, alpha_s overrides the latency."""
    hop = df.hop_s if alpha_s is None else alpha_s
    return np.array([allreduce_time_s(m, int(n), b * eta, h) for m, n, b, h in
                     zip(df.size_bytes, df.num_workers, df.link_Bps, np.broadcast_to(hop, len(df)),
                         strict=True)])


def fit(df: pd.DataFrame) -> tuple[float, float]:
    """(eta, alpha_s) minimising the squared relative error: t = x1 / eta + x2 * alpha."""
    sent, hops = zip(*(allreduce_link(m, int(n)) for m, n in zip(df.size_bytes, df.num_workers,
                                                                 strict=True)), strict=True)
    x = np.column_stack([np.asarray(sent, float) / df.link_Bps, np.asarray(hops, float)])
    t = df.measured_s.to_numpy()
    (inv_eta, alpha), *_ = np.linalg.lstsq(x / t[:, None], np.ones_like(t), rcond=None)
    return 1.0 / inv_eta, alpha


def error_table(df: pd.DataFrame, pred: np.ndarray) -> pd.DataFrame:
    """Relative error (pred / measured - 1) by GPU and size range: median |err| and worst."""
    err = pred / df.measured_s.to_numpy() - 1.0
    rows = []
    for gpu in sorted(df.gpu.unique()):
        for lo, hi, label in RANGES:
            sel = (df.gpu == gpu).to_numpy() & (df.size_bytes >= lo).to_numpy() & (
                df.size_bytes < hi).to_numpy()
            e = err[sel]
            rows.append({"gpu": gpu, "sizes": label, "points": int(sel.sum()),
                         "median_err": float(np.median(e)),
                         "median_abs_err": float(np.median(np.abs(e))),
                         "worst_err": float(e[np.argmax(np.abs(e))])})
    return pd.DataFrame(rows)


def main() -> None:
    df = load()
    print("1. As shipped (datasheet NVLink bandwidth, default latency):")
    print(error_table(df, predict(df)).to_string(index=False, float_format="%+.2f"))
    a100 = df[df.gpu == "a100"]
    eta, alpha = fit(a100)
    print(f"\n2. Fitted on A100 points only: eta = {eta:.3f}, alpha = {alpha * 1e6:.2f} us; "
          "checked on H100 (held out):")
    print(error_table(df, predict(df, eta, alpha)).to_string(index=False, float_format="%+.2f"))
    print("\n3. Fitted per device on 2 and 8 GPUs; error on the 4-GPU points (held out):")
    print(held_out_by_gpu_count(df).to_string(index=False, float_format="%+.2f"))


def held_out_by_gpu_count(df: pd.DataFrame) -> pd.DataFrame:
    """Per device: fit (eta, alpha) on num_workers 2 and 8, error table on num_workers 4."""
    tables = []
    for gpu in sorted(df.gpu.unique()):
        d = df[df.gpu == gpu]
        eta, alpha = fit(d[d.num_workers != 4])
        check = d[d.num_workers == 4]
        t = error_table(check, predict(check, eta, alpha))
        t.insert(1, "fit", f"eta {eta:.3f}, alpha {alpha * 1e6:.2f} us")
        tables.append(t)
    return pd.concat(tables, ignore_index=True)


if __name__ == "__main__":
    main()
