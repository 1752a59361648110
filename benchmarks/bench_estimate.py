"""Wall time per estimate: the CLI (a fresh process each time) and the Python API (warm).

Run: python benchmarks/bench_estimate.py [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time


def time_cli(runs: int) -> list[float]:
    exe = shutil.which("costmodel")
    cmd = [exe] if exe else [sys.executable, "-m", "costmodel"]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd + ["estimate", "llava-1.5-7b", "--hardware", "a100-80gb"],
                       check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return times


def time_api(runs: int) -> list[float]:
    import costmodel

    spec, hw = costmodel.load_model("llava-1.5-7b"), costmodel.load_hardware("a100-80gb")
    costmodel.estimate(spec, hw)  # warm-up
    times = []
    for i in range(runs):
        t0 = time.perf_counter()
        costmodel.estimate(spec, hw, visual_tokens=64 + i % 2816, batch=1 + i % 8)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    cli, api = time_cli(args.runs), time_api(args.runs * 20)
    print(f"CLI  costmodel estimate llava-1.5-7b --hardware a100-80gb: median "
          f"{statistics.median(cli) * 1e3:.0f} ms, min {min(cli) * 1e3:.0f} ms over {len(cli)} runs")
    print(f"API  costmodel.estimate(llava-1.5-7b, a100-80gb): median "
          f"{statistics.median(api) * 1e3:.2f} ms, min {min(api) * 1e3:.2f} ms over {len(api)} runs")


if __name__ == "__main__":
    main()
