"""Held-out accuracy of the kernel efficiency model on the aiconfigurator tables.

    python benchmarks/kernel_crossdevice.py [--tables ../shared/measurements/aiconfigurator]

Prints markdown tables (|predicted - measured| / measured over rows whose bound >= 10 us, and
the rows below 10 us as `<kind><10us`) for five experiments, never reporting on fitted rows:
  A100 self-fit, H100 self-fit  fit on the even-hash half of the device's tables (both
                                frameworks), report on the odd half (kernel_tables.held_out)
  A100 -> H100, H100 -> A100    fit on every row of one device, predict every row of the other
  vLLM -> TRT-LLM (per device)  fit on the vLLM tables, predict the TensorRT-LLM tables
gemm_fraction is held at the target device's MAMF / datasheet peak in every fit (an independent
measurement: stas00/ml-engineering "Maximum Achievable Matmul FLOPS", A100 SXM 271.2 TFLOP/s,
H100 SXM 794.5 TFLOP/s, bf16; gemm_fraction_fp8 likewise: H100 SXM 1402.6 TFLOP/s fp8).
Last, the parameters fitted on each device's even half, in the
units of the profiles' `kernel_efficiency` block.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from costmodel.calibration import kernel_tables as kt
from costmodel.loading.load import load_hardware

# (table folder, profile, MAMF bf16 FLOP/s, MAMF fp8_e4m3fn FLOP/s or 0 where none)
DEVICES = {"a100": ("a100_sxm", "a100-80gb", 271.2e12, 0.0),
           "h100": ("h100_sxm", "h100-sxm", 794.5e12, 1402.6e12)}
DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "measurements" / "aiconfigurator"


def tables(root: Path, dev: str, framework: str | None = None) -> list[Path]:
    files = sorted((root / DEVICES[dev][0]).glob("*/*/*/*_perf.csv.gz"))
    return [f for f in files if "nccl" not in f.name and (framework is None
                                                          or f.parts[-3] == framework)]


def mamf(dev: str) -> dict[str, float]:
    hw = load_hardware(DEVICES[dev][1])
    fp8 = DEVICES[dev][3] / hw.peak_flops_per_s_by_dtype[kt.DType.fp8] if DEVICES[dev][3] else 0.0
    return {"gemm_fraction": DEVICES[dev][2] / hw.peak_flops_per_s_by_dtype[kt.DType.bf16],
            "gemm_fraction_fp8": fp8}


def report(title: str, frame, hw, params) -> None:  # noqa: ANN001
    pred, bound = kt.predict(frame, hw, params)
    summ = kt.summarise(kt.labels(frame, bound), pred, frame["measured_s"].to_numpy())
    print(f"\n### {title}\n\n| kind | rows | median | p90 | max |\n|---|---:|---:|---:|---:|")
    for kind, s in summ.items():
        print(f"| {kind} | {s['rows']} | {s['median_abs_error']:.1%} | "
              f"{s['p90_abs_error']:.1%} | {s['max_abs_error']:.0%} |")


def yaml_block(params) -> str:  # noqa: ANN001
    return "\n".join(kt.yaml_line(name, v) for name, v in vars(params).items())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", type=Path, default=DEFAULT)
    root = ap.parse_args().tables
    frames = {d: kt.read_tables(tables(root, d)) for d in DEVICES}
    hws = {d: load_hardware(DEVICES[d][1]) for d in DEVICES}
    fitted = {}
    for d, f in frames.items():
        held = kt.held_out(f)
        fitted[d] = kt.fit(f[~held], hws[d], fixed=mamf(d))
        report(f"{d.upper()} self-fit (fit: even half, shown: odd half)", f[held], hws[d],
               fitted[d])
    for src, dst in (("a100", "h100"), ("h100", "a100")):
        p = kt.fit(frames[src], hws[src], fixed=mamf(src))
        p = kt.eff.KernelParams(**{**vars(p), **mamf(dst)})
        report(f"{src.upper()} -> {dst.upper()} (fit: all {src.upper()} rows)", frames[dst],
               hws[dst], p)
    for d in DEVICES:
        p = kt.fit(kt.read_tables(tables(root, d, "vllm")), hws[d], fixed=mamf(d))
        report(f"{d.upper()} vLLM -> TensorRT-LLM", kt.read_tables(tables(root, d, "trtllm")),
               hws[d], p)
    for d in DEVICES:
        print(f"\n{d} kernel_efficiency (fit on the even half):\n{yaml_block(fitted[d])}")
    np.seterr(all="ignore")


if __name__ == "__main__":
    main()
