"""Scratch: prefill-attention parameterisations, in-device held out and cross-device.

PYTHONPATH=$PWD python scratch/xdev_variants.py VARIANT [VARIANT ...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from costmodel.calibration import kernel_tables as kt
from costmodel.core import efficiency as eff
from costmodel.loading.load import load_hardware

ROOT = Path("/work/shared/measurements/aiconfigurator")
DEV = {"a100": ("a100_sxm", "a100-80gb", 271.2e12), "h100": ("h100_sxm", "h100-sxm", 794.5e12)}
np.seterr(all="ignore")

HW = {d: load_hardware(v[1]) for d, v in DEV.items()}
BASE = {d: eff.params_of(HW[d].kernel_params) for d in DEV}


def mamf_frac(d: str) -> float:
    return DEV[d][2] / HW[d].peak_flops_by_dtype[kt.DType.bf16]


def clock_hz(d: str) -> float:
    return HW[d].exp_per_s / (16.0 * HW[d].sm_count)


FR = {}
for d, (folder, _, _) in DEV.items():
    files = sorted((ROOT / folder).glob("attention/*/*/context_attention_perf.csv.gz"))
    f = kt.read_tables(files)
    FR[d] = f.assign(held=kt.held_out(f), eng=kt.engine_of(f))


def errs(frame, d, p, by=None):  # noqa: ANN001
    pred, bound = kt.predict(frame, HW[d], p, by)
    m = frame["measured_s"].to_numpy()
    return (pred - m) / m, bound >= kt.SMALL_S


def med(frame, d, p, by=None) -> float:  # noqa: ANN001
    e, big = errs(frame, d, p, by)
    return float(np.median(np.abs(e[big])))


# --- variants: fixed(d, other_fits) for fitting on d, transfer(p, src, dst) --------------
def no_fix(d, ctx):  # noqa: ANN001
    return {}


def ident(p, src, dst):  # noqa: ANN001
    return p


def frac_mamf_fix(d, ctx):  # noqa: ANN001
    return {"attention_fraction": mamf_frac(d)}


def frac_mamf_tr(p, src, dst):  # noqa: ANN001
    return eff.KernelParams(**{**vars(p), "attention_fraction": mamf_frac(dst)})


def clock_tr(p, src, dst):  # noqa: ANN001
    r = clock_hz(src) / clock_hz(dst)
    return eff.KernelParams(**{**vars(p), "attention_tile_s": p.attention_tile_s * r})


def rel_mamf_tr(p, src, dst):  # noqa: ANN001  (fraction relative to MAMF carries)
    f = min(1.0, p.attention_fraction * mamf_frac(dst) / mamf_frac(src))
    return eff.KernelParams(**{**vars(p), "attention_fraction": f})


VARIANTS = {
    "base": (no_fix, ident),
    "mamf": (frac_mamf_fix, frac_mamf_tr),
    "clock": (no_fix, clock_tr),
    "mamf_clock": (frac_mamf_fix, lambda p, s, t: clock_tr(frac_mamf_tr(p, s, t), s, t)),
    "relmamf": (no_fix, rel_mamf_tr),
    "ov1": (lambda d, c: {"attention_exp_overlap": 1.0}, ident),
    "ov0": (lambda d, c: {"attention_exp_overlap": 0.0}, ident),
}


def fit(frame, d, fixed):  # noqa: ANN001
    base = BASE[d]
    fx = {k: v for k, v in vars(base).items() if k not in kt.GROUPS["attention"][1]}
    fx.update(fixed)
    return kt.fit(frame, HW[d], fixed=fx, start=base)


def run(name: str) -> None:
    fix, tr = VARIANTS[name]
    t0 = time.time()
    out = {}
    pooled_all = {}
    for d in DEV:
        f = FR[d]
        tr_rows, te = f[~f["held"]], f[f["held"]]
        dev_p = fit(tr_rows, d, fix(d, out))
        eng = {e: fit(tr_rows[tr_rows["eng"] == e], d, fix(d, out)) for e in ("vllm", "trtllm")}
        pooled_all[d] = fit(f, d, fix(d, out))
        out[d] = (med(te, d, dev_p), med(te, d, dev_p, eng),
                  {e: med(te[te["eng"] == e], d, eng[e]) for e in eng}, dev_p, eng)
    x = {}
    for s, t in (("a100", "h100"), ("h100", "a100")):
        x[s + "->" + t] = med(FR[t], t, tr(pooled_all[s], s, t))
    print(f"== {name} ({time.time() - t0:.0f}s)")
    for d in DEV:
        print(f"  {d}: held-out pooled {out[d][0]:.1%}  per-engine {out[d][1]:.1%} "
              + " ".join(f"{e} {v:.1%}" for e, v in out[d][2].items()))
        p = pooled_all[d]
        print(f"    pooled(all) " + " ".join(
            kt.yaml_line(n, getattr(p, n), "").strip() for n in kt.GROUPS["attention"][1]))
    print("  cross: " + "  ".join(f"{k} {v:.1%}" for k, v in x.items()))
    sys.stdout.flush()


if __name__ == "__main__":
    for v in sys.argv[1:]:
        run(v)
