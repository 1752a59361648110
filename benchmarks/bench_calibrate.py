"""Wall time of `costmodel calibrate --device cpu --quick` (was a `< 60 s` assertion in
tests/cli/test_validate_calibrate.py; a test no longer asserts a duration).

    python benchmarks/bench_calibrate.py [--runs N] [--threads T]

Each run writes its profile into a temporary folder. Needs torch (pip install ".[validate]").
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from costmodel.cli import main as cli  # noqa: E402


def time_quick_calibration(runs: int, threads: int | None) -> list[float]:
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            args = ["calibrate", "--device", "cpu", "--quick", "-o", os.path.join(tmp, f"{i}.yaml")]
            if threads is not None:
                args += ["--threads", str(threads)]
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                try:
                    cli(args)
                except SystemExit as e:
                    if e.code:
                        raise
            times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    t = time_quick_calibration(args.runs, args.threads)
    threads = "torch default" if args.threads is None else args.threads
    print(f"costmodel calibrate --device cpu --quick (threads: {threads}): median "
          f"{statistics.median(t):.1f} s, min {min(t):.1f} s, max {max(t):.1f} s over {len(t)} runs")


if __name__ == "__main__":
    main()
