"""Prefill attention: which parameterisation carries across devices (A100 SXM <-> H100 SXM).

    python benchmarks/attention_crossdevice_variants.py [--tables ../shared/measurements/aiconfigurator]

About 7 minutes on 2 cores. For each variant, on the aiconfigurator context-attention tables:
  in-device  fit on the even half (kernel_tables.held_out is False) of each device's rows, one
             set per engine (as the profiles' attention_kernel_by_engine) and one pooled set;
             median |predicted - measured| / measured on the odd half, bound >= 10 us
  cross      fit one pooled set on every row of one device, predict every row of the other
             (as benchmarks/kernel_crossdevice.py does for the context rows)
Variants (docs/validation.md, "Prefill attention"):
  dram       the per-token Q/K/V/O term at a fitted fraction of DRAM bandwidth (the model
             before 2026-12-02): attention_io_flop_per_byte carried at the same bandwidth
             fraction, i.e. scaled by (peak / bandwidth) of the target over the source's
  sm-peak    the same term as SM work at the device's bf16 peak (shipped): carried as is
  clock      sm-peak with attention_tile_s in clock cycles (scaled by source / target clock,
             clock = exp_per_s / (16 x SMs))
  mamf       sm-peak with attention_fraction held at the device's MAMF / datasheet peak (as
             GEMM's gemm_fraction), the other figures fitted
  h100-exp   sm-peak with A100's attention_exp_overlap held at the pooled H100 fit's (H100's
             head_dim 64..256 identify it; A100's head_dim 128 alone does not); H100 fits free
In-device figures of dram, sm-peak and clock are one fit: they differ only in the transfer.
Then, for dram and sm-peak: the signed median (predicted - measured) / measured of H100 -> A100
by sequence length (bound >= 10 us), and one set per engine fitted on every row of one device
carried to the same engine's rows on the other.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from costmodel.calibration import kernel_tables as kt
from costmodel.core import efficiency as eff
from costmodel.loading.load import load_hardware

DEVICES = {"a100": ("a100_sxm", "a100-80gb", 271.2e12), "h100": ("h100_sxm", "h100-sxm", 794.5e12)}
DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "measurements" / "aiconfigurator"
ENGINES = ("vllm", "trtllm")
HW = {d: load_hardware(v[1]) for d, v in DEVICES.items()}


def peak(d: str) -> float:
    return HW[d].peak_flops_per_s_by_dtype[kt.DType.bf16]


def clock_hz(d: str) -> float:  # 16 SFU exponentials per clock per SM (flop_per_exp source)
    return float(HW[d].exp_per_s) / (16.0 * float(HW[d].sm_count))


def with_(p: eff.KernelParams, **kw: float) -> eff.KernelParams:
    return eff.KernelParams(**{**vars(p), **kw})


def dram(p: eff.KernelParams, s: str, t: str) -> eff.KernelParams:
    scale = peak(t) / HW[t].memory_bytes_per_s * HW[s].memory_bytes_per_s / peak(s)
    return with_(p, attention_io_flop_per_byte=p.attention_io_flop_per_byte * scale)


def clock(p: eff.KernelParams, s: str, t: str) -> eff.KernelParams:
    return with_(p, attention_tile_s=p.attention_tile_s * clock_hz(s) / clock_hz(t))


def mamf(d: str) -> float:
    return DEVICES[d][2] / peak(d)


# name -> (fixed figures when fitting device d (given the pooled H100 fit), transfer)
VARIANTS = {
    "dram": (lambda d, h: {}, dram),
    "sm-peak": (lambda d, h: {}, lambda p, s, t: p),
    "clock": (lambda d, h: {}, clock),
    "mamf": (lambda d, h: {"attention_fraction": mamf(d)},
             lambda p, s, t: with_(p, attention_fraction=mamf(t))),
    "h100-exp": (lambda d, h: {"attention_exp_overlap": h.attention_exp_overlap}
                 if d == "a100" else {}, lambda p, s, t: p),
}


def fit(frame, d: str, fixed: dict[str, float]) -> eff.KernelParams:  # noqa: ANN001
    base = eff.params_of(HW[d].kernel_params)
    held = {k: v for k, v in vars(base).items() if k not in kt.GROUPS["attention"][1]}
    return kt.fit(frame, HW[d], fixed={**held, **fixed}, start=base)


def key_of(fixed: dict[str, float]) -> tuple:
    return tuple(sorted(fixed.items()))


def median(frame, d: str, p: eff.KernelParams, by=None) -> float:  # noqa: ANN001
    pred, bound = kt.predict(frame, HW[d], p, by)
    m = frame["measured_s"].to_numpy()
    return float(np.median((np.abs(pred - m) / m)[bound >= kt.SMALL_S]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", type=Path, default=DEFAULT)
    root = ap.parse_args().tables
    np.seterr(all="ignore")
    frames = {}
    for d, (folder, _, _) in DEVICES.items():
        f = kt.read_tables(sorted((root / folder).glob("attention/*/*/context_*.csv.gz")))
        frames[d] = f.assign(held=kt.held_out(f), engine=kt.engine_of(f))
    h100_all = fit(frames["h100"], "h100", {})
    cache: dict[tuple, tuple] = {}
    print("| variant | A100 held out (per engine) | H100 held out (per engine) | A100 pooled | "
          "H100 pooled | A100 -> H100 | H100 -> A100 |\n|---|---:|---:|---:|---:|---:|---:|")
    for name, (fixed, transfer) in VARIANTS.items():
        inside, pooled = {}, {}
        for d, f in frames.items():
            fx = fixed(d, h100_all)
            key = (d, key_of(fx))
            if key not in cache:
                even, odd = f[~f["held"]], f[f["held"]]
                dev = fit(even, d, fx)
                eng = {e: fit(even[even["engine"] == e], d, fx) for e in ENGINES}
                cache[key] = (median(odd, d, dev, eng), median(odd, d, dev),
                              h100_all if (d == "h100" and not fx) else fit(f, d, fx))
            inside[d], pooled[d], _ = cache[key]
        cross = [median(frames[t], t, transfer(cache[(s, key_of(fixed(s, h100_all)))][2], s, t))
                 for s, t in (("a100", "h100"), ("h100", "a100"))]
        print(f"| {name} | {inside['a100']:.1%} | {inside['h100']:.1%} | {pooled['a100']:.1%} | "
              f"{pooled['h100']:.1%} | {cross[0]:.1%} | {cross[1]:.1%} |", flush=True)
    print(f"\nH100 pooled (all rows) attention_exp_overlap {h100_all.attention_exp_overlap:.4g}")
    a100_all = cache[("a100", ())][2]
    signed_by_length(frames["a100"], {n: VARIANTS[n][1](h100_all, "h100", "a100")
                                      for n in ("dram", "sm-peak")})
    per_engine({d: {e: fit(f[f["engine"] == e], d, {}) for e in ENGINES}
                for d, f in frames.items()}, frames, {"a100": a100_all, "h100": h100_all})


def signed_by_length(frame, params: dict[str, eff.KernelParams]) -> None:  # noqa: ANN001
    bins = (0, 128, 512, 2048, np.inf)
    print("\nH100 -> A100 signed median error by isl (bound >= 10 us):")
    for name, p in params.items():
        pred, bound = kt.predict(frame, HW["a100"], p)
        m, isl = frame["measured_s"].to_numpy(), frame["isl"].to_numpy()
        e = ((pred - m) / m)[bound >= kt.SMALL_S]
        isl = isl[bound >= kt.SMALL_S]
        cells = [f"({lo:g}, {hi:g}] {np.median(e[(isl > lo) & (isl <= hi)]):+.0%}"
                 for lo, hi in zip(bins[:-1], bins[1:], strict=True)]
        print(f"  {name:8s} " + "  ".join(cells))


def per_engine(sets, frames, pooled) -> None:  # noqa: ANN001
    print("\none set per engine (all rows) carried to the same engine on the other device:")
    for name in ("dram", "sm-peak"):
        tr = VARIANTS[name][1]
        cells = []
        for s, t in (("a100", "h100"), ("h100", "a100")):
            by = {e: tr(sets[s][e], s, t) for e in ENGINES}
            cells.append(f"{s} -> {t} {median(frames[t], t, pooled[s], by):.1%}")
        print(f"  {name:8s} " + "  ".join(cells))


if __name__ == "__main__":
    main()
