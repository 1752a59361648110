"""Fit the engines' host figures on the bundled published runs; print fitted and held-out error.

    python benchmarks/fit_engines.py            # fit and print the table
    python benchmarks/fit_engines.py --write [ENGINE ...]  # ... and write the fitted values
                                  # into costmodel/engines/<engine>.yaml with a source (all
                                  # fitted engines when none is named)

Per engine, never per row: each engine's figures (FIT below) are fitted on the rows of
costmodel/calibration/data/published_runs.csv whose `split` is `fit` (the stated subsets:
benchmarks/build_published_runs.py, `split`; for hf-eager each figure on the rows that identify
it, STAGES),
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
from collections.abc import Callable
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from costmodel.calibration import published  # noqa: E402

ENGINES = ROOT / "costmodel" / "engines"
HOST = ("host_overhead_per_kernel_us", "step_overhead_us", "prefill_overhead_us")
# Which fit rows identify which of an engine's figures, and why (default: every figure on every
# `fit` row, one least-squares fit). hf-eager launches asynchronously (max(device, host) per
# step): only rows the host bounds measure its host time, and only rows whose decode step is
# device-bound measure how fast its copies run (kv_concat, repeat_kv: copy_fraction); fitting
# the host figures on the long prompts would absorb device time into host time (docs/
# validation.md, "What is fitted on what"). The stages alternate (STAGE_ROUNDS) until the
# figures settle.
HOST_BOUND = ("the fit rows the host bounds, input length 1 (at longer prompts the decode "
              "step is device-bound)")
DEVICE_BOUND = "the fit rows with a prompt (input length > 1: the copies' share grows with it)"
STAGES = {"hf-eager": [(HOST[:2], HOST_BOUND, lambda r: r["text_tokens"] == 1),
                       (("copy_fraction",), DEVICE_BOUND, lambda r: r["text_tokens"] > 1)]}
STAGE_ROUNDS = 3
# The figures fitted per engine (a staged engine's: its stages' figures, in order)
FIT = {"hf-eager": tuple(k for keys, _, _ in STAGES["hf-eager"] for k in keys),
       "vllm": HOST[1:2], "trtllm-0.6": HOST[1:], "torch-compile": HOST[1:2]}
LIMITS = {"copy_fraction": (0.05, 1.0)}  # (low, high); the host figures: >= 0
# Finite-difference step of the Jacobian (us): small, because under `host_overlap: async`
# the time is max(device, host), piecewise linear in the figures (a large step jumps the knee).
FD_US = 1.0
FD = {"copy_fraction": 0.005}  # a fraction, not microseconds
# Placeholders these rows cannot identify: kept, with the reason written as their source.
NOT_FITTED = {
    ("hf-eager", "prefill_overhead_us"): "one prefill per 2048-token run (< 1% of each Qwen2.5 "
    "run's time)",
    ("vllm", "host_overhead_per_kernel_us"): "vLLM replays decode from CUDA graphs, so per-kernel "
    "host time is paid only in the one prefill per 2048-token Qwen2.5 run",
    ("vllm", "prefill_overhead_us"): "one prefill per 2048-token run (< 1% of each Qwen2.5 run)",
    ("torch-compile", "prefill_overhead_us"): "every torch-compile row of the bundled set is a "
    "gpt-fast decode tokens/s figure (1 / TPOT), which a per-prefill cost does not enter",
}


def _times(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A metric column as seconds (rates inverted), so the fit works on time; a memory row
    is not a time and is never fitted on."""
    if (frame["metric"] == "memory_bytes").any():
        raise ValueError("memory_bytes rows are not times: keep them out of the fit split")
    return published.as_time(frame, column)


def predict_with(rows: pd.DataFrame, engine: str, values: dict[str, float]) -> pd.DataFrame:
    """`rows` predicted on the engine with `values` in place of its YAML's figures."""
    data = yaml.safe_load((ENGINES / f"{engine}.yaml").read_text())
    data.update(values)
    for k in values:  # a candidate figure: the YAML needs a source for a non-default value
        data["sources"].setdefault(k, "a candidate figure of benchmarks/fit_engines.py")
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
        start: dict[str, float] | None = None,
        fixed: dict[str, float] | None = None) -> dict[str, float]:
    """Least squares on log(predicted / measured time) over `keys`, the other figures at the
    YAML's or `fixed` (Gauss-Newton from `start`, default 0; a step that does not lower the
    cost is halved, up to 6 times; each figure kept in LIMITS, the host figures >= 0)."""
    measured = _times(rows, "value")
    theta = np.array([(start or {}).get(k, 0.0) for k in keys], dtype=float)
    h = np.array([FD.get(k, FD_US) for k in keys])
    lo = np.array([LIMITS.get(k, (0.0, np.inf))[0] for k in keys])
    hi = np.array([LIMITS.get(k, (0.0, np.inf))[1] for k in keys])

    def residual(t: np.ndarray) -> np.ndarray:
        values = {**(fixed or {}), **dict(zip(keys, t.tolist(), strict=True))}
        pred = predict_with(rows, engine, values)
        return np.log(_times(pred, "predicted") / measured)

    for _ in range(steps):
        r0 = residual(theta)
        d = np.where(theta + h <= hi, h, -h)  # a backward difference at the upper limit
        jac = np.column_stack([(residual(theta + d[i] * e) - r0) / d[i]
                               for i, e in enumerate(np.eye(len(keys)))])
        step = _nonneg_lstsq(jac, r0 - jac @ theta) - theta  # the new point kept >= 0
        for _half in range(6):
            trial = np.clip(theta + step, lo, hi)
            if float(np.sum(residual(trial) ** 2)) < float(r0 @ r0):
                theta = trial
                break
            step = step / 2.0
    return {k: float(round(v, 3 if k in LIMITS else 1)) for k, v in zip(keys, theta, strict=True)}


def _stats(errors: pd.Series) -> str:
    a = errors.abs()
    return f"{len(a):3d}  {100 * a.median():6.1f}%  {100 * a.max():7.1f}%" if len(a) else "  0"


def write(engine: str, values: dict[str, float],
          used: dict[str, tuple[list[str], str]]) -> None:
    """Replace each fitted figure and its source line in the engine YAML (comments kept); a
    figure the YAML lacks is added after the host figures, its source after theirs."""
    path = ENGINES / f"{engine}.yaml"
    text = path.read_text()
    day = datetime.date.today().isoformat()
    for key, value in values.items():
        ids, why = used[key]
        which = f"; {why}" if why else ""
        src = (f"fitted on rows {', '.join(ids)} (split=fit of costmodel/calibration/data/"
               f"published_runs.csv{which}; the engine's other rows held out), costmodel "
               f"benchmarks/fit_engines.py, {day}")
        if not re.search(rf"(?m)^{key}: ", text):
            text = re.sub(r"(?m)^(prefill_overhead_us: .*)$", rf"\1\n{key}: {value:g}", text)
            text = re.sub(r"(?m)^(sources:)$", rf'\1\n  {key}: "x"', text)
        text = re.sub(rf"(?m)^{key}: .*$", f"{key}: {value:g}", text)
        text = re.sub(rf"(?m)^(  {key}): .*$", lambda m, s=src: f'{m.group(1)}: "{s}"', text)
    for (eng, key), why in NOT_FITTED.items():
        if eng == engine:
            note = f"ASSUMED, not fitted: {why} (costmodel benchmarks/fit_engines.py, {day})"
            text = re.sub(rf"(?m)^(  {key}): .*$", lambda m, n=note: f'{m.group(1)}: "{n}"', text)
    path.write_text(text)


def _yaml_values(engine: str) -> dict[str, float]:
    """The engine YAML's fitted figures (FIT), a figure it leaves out at its default."""
    doc = yaml.safe_load((ENGINES / f"{engine}.yaml").read_text())
    return {k: float(doc.get(k, 1.0 if k in LIMITS else 0.0)) for k in FIT[engine]}


def _stages(engine: str) -> list[tuple[tuple[str, ...], str, Callable[[pd.DataFrame], Any]]]:
    """(figures, which rows and why, row filter) per fit stage (STAGES; default one stage)."""
    return STAGES.get(engine, [(FIT[engine], "", lambda r: r["split"] == "fit")])


def fit_engine(rows: pd.DataFrame) -> tuple[dict[str, float], dict[str, tuple[list[str], str]]]:
    """The engine's fitted figures and, per figure, (row ids, why those rows)."""
    engine = str(rows["engine"].iloc[0])
    values = _yaml_values(engine)
    stages, used = _stages(engine), {}
    fit_rows = rows[rows["split"] == "fit"]
    for _ in range(STAGE_ROUNDS if len(stages) > 1 else 1):
        for keys, why, keep in stages:
            part = fit_rows[keep(fit_rows)]
            values.update(fit(part, engine, keys, start=values, fixed=values))
            used.update({k: (part["id"].tolist(), why) for k in keys})
    return values, used


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", nargs="*", metavar="ENGINE",
                    help="write the fitted figures into these engines' YAMLs (none named: all)")
    args = ap.parse_args()
    data = published.read(published.BUNDLED)
    print("engine         figure                          before -> fitted (us; fractions)")
    frames = []
    for engine in FIT:
        rows = data[data["engine"] == engine]
        before = _yaml_values(engine)
        values, used = fit_engine(rows)
        for k, v in values.items():
            print(f"{engine:14s} {k:30s} {before[k]:8g} -> {v:g}")
        frames.append(predict_with(rows, engine, values))
        if args.write is not None and (not args.write or engine in args.write):
            write(engine, values, used)
    _report(pd.concat(frames))


def _report(frame: pd.DataFrame) -> None:
    print("\nengine         split      rows  median |err|  max |err|   (bound: median, max)")
    for (engine, split), g in frame.groupby(["engine", "split"]):
        print(f"{engine:14s} {split:9s} {_stats(g['error'])}   ({_stats(g['bound_error'])})")
    for split, g in frame.groupby("split"):
        print(f"{'all':14s} {split:9s} {_stats(g['error'])}   ({_stats(g['bound_error'])})")


if __name__ == "__main__":
    main()
