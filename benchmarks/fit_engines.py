"""Fit the engines' host figures on the bundled published runs; print fitted and held-out error.

    python benchmarks/fit_engines.py            # fit and print the table
    python benchmarks/fit_engines.py --write [ENGINE ...]  # ... and write the fitted values
                                  # into costmodel/engines/<engine>.yaml with a source (all
                                  # fitted engines when none is named)

Per engine, never per row: each engine's figures (FIT below) are fitted on the rows of
costmodel/calibration/data/published_runs.csv whose `split` is `fit` (the stated subsets:
benchmarks/build_published_runs.py, `split`; for hf-eager only those the host bounds, FIT_ROWS),
and every other row of that engine is held out.
Every prediction goes through costmodel.calibration.published.predict (prepare + evaluate),
with the candidate figures in a temporary engine YAML. The expected time is linear in these
figures under `host_overlap: serial` and piecewise linear under `async` (max(device, host)),
so Gauss-Newton steps on log(predicted time / measured time) with finite differences, from the
YAML's figures, halved when they do not lower the cost, the figures kept >= 0, find the
least-squares fit.

The fit absorbs whatever the device side misses: re-run it (one command, --write) whenever the
hardware profiles' achievable efficiency changes (e.g. the kernel-efficiency model in the
evaluate path).
"""

from __future__ import annotations

import argparse
import datetime
import re
import sys
import tempfile
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from costmodel.calibration import published  # noqa: E402

ENGINES = ROOT / "costmodel" / "engines"
HOST = ("host_overhead_per_kernel_us", "step_overhead_us", "prefill_overhead_us")
FIT = {"hf-eager": HOST[:2], "vllm": HOST[1:2], "trtllm-0.6": HOST[1:], "torch-compile": HOST[1:2]}
# Which fit rows identify an engine's host figures, and why (the others: every `fit` row).
# hf-eager launches asynchronously (max(device, host) per step): only rows the host bounds
# measure its host time; at long prompts the step is device-bound and a host fit there would
# absorb device time the model misses (docs/validation.md, "What is fitted on what").
HOST_BOUND = ("the fit rows the host bounds, input length 1 (at longer prompts the decode "
              "step is device-bound)")
FIT_ROWS = {"hf-eager": (HOST_BOUND, lambda r: r["text_tokens"] == 1)}
# Placeholders these rows cannot identify: kept, with the reason written as their source.
# Finite-difference step of the Jacobian (us): small, because under `host_overlap: async`
# the time is max(device, host), piecewise linear in the figures (a large step jumps the knee).
FD_US = 1.0
NOT_FITTED = {
    ("hf-eager", "prefill_overhead_us"): "one prefill per 2048-token run (< 1% of each Qwen2.5 "
    "run's time)",
    ("vllm", "host_overhead_per_kernel_us"): "vLLM replays decode from CUDA graphs, so per-kernel "
    "host time is paid only in the one prefill per 2048-token Qwen2.5 run",
    ("vllm", "prefill_overhead_us"): "one prefill per 2048-token run (< 1% of each Qwen2.5 run)",
}


def _times(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A metric column as seconds (rates inverted), so the fit works on time."""
    v = frame[column].to_numpy(float)
    work = np.where(frame["metric"] == "output_tokens_per_s",
                    frame["batch"] * frame["output_tokens"], 1.0)
    return np.where(frame["metric"].isin(published.RATES), work / v, v)


def predict_with(rows: pd.DataFrame, engine: str, values: dict[str, float]) -> pd.DataFrame:
    """`rows` predicted on the engine with `values` in place of its YAML's figures."""
    data = yaml.safe_load((ENGINES / f"{engine}.yaml").read_text())
    data.update(values)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{engine}.yaml"
        path.write_text(yaml.safe_dump(data))
        return published.predict(rows.assign(engine=str(path))).assign(engine=engine)


def _nonneg_lstsq(jac: np.ndarray, res: np.ndarray) -> np.ndarray:
    """argmin |jac x + res| over x >= 0 (few columns: every active set)."""
    best, best_cost = np.zeros(jac.shape[1]), float(res @ res)
    for k in range(1, jac.shape[1] + 1):
        for cols in combinations(range(jac.shape[1]), k):
            x = np.zeros(jac.shape[1])
            x[list(cols)] = np.linalg.lstsq(jac[:, cols], -res, rcond=None)[0]
            cost = float(np.sum((jac @ x + res) ** 2))
            if np.all(x >= 0) and cost < best_cost:
                best, best_cost = x, cost
    return best


def fit(rows: pd.DataFrame, engine: str, keys: tuple[str, ...], steps: int = 8,
        start: dict[str, float] | None = None) -> dict[str, float]:
    """Least squares on log(predicted / measured time), figures >= 0 (Gauss-Newton from
    `start`, default 0; a step that does not lower the cost is halved, up to 6 times)."""
    measured = _times(rows, "value")
    theta = np.array([(start or {}).get(k, 0.0) for k in keys], dtype=float)

    def residual(t: np.ndarray) -> np.ndarray:
        pred = predict_with(rows, engine, dict(zip(keys, t.tolist(), strict=True)))
        return np.log(_times(pred, "predicted") / measured)

    for _ in range(steps):
        r0 = residual(theta)
        jac = np.column_stack([(residual(theta + FD_US * e) - r0) / FD_US
                               for e in np.eye(len(keys))])
        step = _nonneg_lstsq(jac, r0 - jac @ theta) - theta  # the new point kept >= 0
        for _half in range(6):
            trial = np.maximum(theta + step, 0.0)
            if float(np.sum(residual(trial) ** 2)) < float(r0 @ r0):
                theta = trial
                break
            step = step / 2.0
    return {k: float(round(v, 1)) for k, v in zip(keys, theta, strict=True)}


def _stats(errors: pd.Series) -> str:
    a = errors.abs()
    return f"{len(a):3d}  {100 * a.median():6.1f}%  {100 * a.max():7.1f}%" if len(a) else "  0"


def write(engine: str, values: dict[str, float], ids: list[str]) -> None:
    """Replace each fitted figure and its source line in the engine YAML (comments kept)."""
    path = ENGINES / f"{engine}.yaml"
    text = path.read_text()
    day = datetime.date.today().isoformat()
    which = f"; {FIT_ROWS[engine][0]}" if engine in FIT_ROWS else ""
    src = (f"fitted on rows {', '.join(ids)} (split=fit of costmodel/calibration/data/"
           f"published_runs.csv{which}; the engine's other rows held out), costmodel "
           f"benchmarks/fit_engines.py, {day}")
    for key, value in values.items():
        text = re.sub(rf"(?m)^{key}: .*$", f"{key}: {value:g}", text)
        text = re.sub(rf"(?m)^(  {key}): .*$", lambda m: f'{m.group(1)}: "{src}"', text)
    for (eng, key), why in NOT_FITTED.items():
        if eng == engine:
            note = f"ASSUMED, not fitted: {why} (costmodel benchmarks/fit_engines.py, {day})"
            text = re.sub(rf"(?m)^(  {key}): .*$", lambda m, n=note: f'{m.group(1)}: "{n}"', text)
    path.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", nargs="*", metavar="ENGINE",
                    help="write the fitted figures into these engines' YAMLs (none named: all)")
    args = ap.parse_args()
    data = published.read(published.BUNDLED)
    print("engine         figure                          before -> fitted (us)")
    frames = []
    for engine, keys in FIT.items():
        rows = data[data["engine"] == engine]
        fit_rows = rows[rows["split"] == "fit"]
        if engine in FIT_ROWS:
            fit_rows = fit_rows[FIT_ROWS[engine][1](fit_rows)]
        before = {k: yaml.safe_load((ENGINES / f"{engine}.yaml").read_text())[k] for k in keys}
        values = fit(fit_rows, engine, keys, start=before)
        for k in keys:
            print(f"{engine:14s} {k:30s} {before[k]:8g} -> {values[k]:g}")
        frames.append(predict_with(rows, engine, values))
        if args.write is not None and (not args.write or engine in args.write):
            write(engine, values, fit_rows["id"].tolist())
    _report(pd.concat(frames))


def _report(frame: pd.DataFrame) -> None:
    print("\nengine         split      rows  median |err|  max |err|   (bound: median, max)")
    for (engine, split), g in frame.groupby(["engine", "split"]):
        print(f"{engine:14s} {split:9s} {_stats(g['error'])}   ({_stats(g['bound_error'])})")
    for split, g in frame.groupby("split"):
        print(f"{'all':14s} {split:9s} {_stats(g['error'])}   ({_stats(g['bound_error'])})")


if __name__ == "__main__":
    main()
