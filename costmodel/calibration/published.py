"""End-to-end measurements published by the people who ran them, against the estimate.

A CSV in this schema (one row per published figure; other columns are kept but not read,
though one that is a read column misspelt, e.g. `PP`, is refused):
`id,model,hardware,engine,weight_dtype,act_dtype,kv_dtype,batch,visual_tokens,text_tokens,
output_tokens,tp,metric,value,source`, and optionally `pp` (pipeline stages, default 1),
`split` (`fit` / `held-out`: which rows benchmarks/fit_engines.py fits the engines on), and
`weight_group` / `weight_group_bytes` (int4 weights per quantisation group and bytes of scale
(+ zero) per group; an empty cell is the engine's own int4 format, else 128 and 2
(Workload.int4_group); only int4 rows may set other values).

- model: zoo id or config.json path; hardware: id or YAML path; engine: id or engine YAML path
  (relative paths resolve against the CSV's folder).
- metric: ttft_s | tpot_s (mean time per output token after the first) | decode_tokens_per_s
  (per sequence, 1 / tpot) | output_tokens_per_s (batch x output tokens / the whole run,
  prefill included) | e2e_s | max_load_output_tokens_per_s (a server fed requests at an
  infinite rate: output tokens / s of the whole run at the largest batch up to `batch`, the
  engine's cap on requests in flight, whose weights, KV cache of every whole sequence and one
  request's activations fit; in-flight batching priced as a static batch of that size,
  costmodel.analysis.plan.capacity_of) |
  memory_bytes (peak GPU memory allocated over the run, summed over the GPUs:
  core.metrics.summed_peak_bytes; no bound of its own, both columns carry it); `value` in
  those base units.

Every prediction goes through costmodel.analysis.prepare + costmodel.core.evaluate (rows that
share a model, device, engine, dtypes and parallelism are one grid). error = (predicted -
measured) / measured, in the metric's own units; the same for the roofline bound.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import ValidationError

from costmodel.calibration.published_csv import (  # noqa: F401 (the schema, re-exported)
    COLUMNS,
    DTYPES,
    MAX_LOAD,
    MAX_LOAD_BATCH,
    METRICS,
    read,
)
from costmodel.errors import ContextWarning, CostmodelError, one_line
from costmodel.specs.hardware import UnsupportedDtype

if TYPE_CHECKING:
    import pandas as pd

    from costmodel.specs.hardware import HardwareProfile
    from costmodel.specs.model import ModelSpec
    from costmodel.specs.workload import Workload

RATES = ("decode_tokens_per_s", "output_tokens_per_s", MAX_LOAD)  # higher is faster
WHOLE_RUN = ("output_tokens_per_s", MAX_LOAD)  # rates over a whole run of the batch
GROUP = ["model", "hardware", "engine", "weight_dtype", "act_dtype", "kv_dtype", "tp", "pp",
         "weight_group", "weight_group_bytes"]
BUNDLED = Path(__file__).resolve().parent / "data" / "published_runs.csv"


def metric_values(metric: np.ndarray, ttft_s: np.ndarray, tpot_s: np.ndarray, e2e_s: np.ndarray,
                  batch: np.ndarray, output: np.ndarray, memory_bytes: np.ndarray) -> np.ndarray:
    """A latency triple and the memory as each row's metric (base units); `batch` is the
    batch run (for max-load rows, the one run_batches found)."""
    rate = batch * output / e2e_s
    table = {"ttft_s": ttft_s, "tpot_s": tpot_s, "e2e_s": e2e_s,
             "decode_tokens_per_s": 1.0 / tpot_s, "output_tokens_per_s": rate, MAX_LOAD: rate,
             "memory_bytes": memory_bytes}
    return np.select([metric == m for m in METRICS], [table[m] for m in METRICS])


def _unset_nan(value: Any, kind: type) -> Any:
    """NaN (an empty group cell) as None, else the value as `kind`."""
    return None if np.isnan(float(value)) else kind(value)


def run_batches(spec: ModelSpec, hw: HardwareProfile, w: Workload, rows: pd.DataFrame,
                cols: dict[str, np.ndarray]) -> np.ndarray:
    """The batch each row runs at: its `batch`, or for a max-load row capacity_of's max-load
    batch up to it (the `costmodel capacity` path: weights + every request's KV cache + one
    request's activations fit); a sequence past the context is warned of by the prediction."""
    from costmodel.analysis.plan import Slo, capacity_of

    out = cols["batch"].copy()
    for i in np.flatnonzero(rows["metric"].to_numpy() == MAX_LOAD):
        one = w.model_copy(update={c: int(cols[c][i]) for c in
                                   ("visual_tokens", "text_tokens", "output_tokens")})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ContextWarning)
            fit = capacity_of(spec, [hw], one, Slo(), int(cols["batch"][i]), auto_dtype=False)
        if not fit.max_load_batch[0]:
            raise _RowError(f"id {rows['id'].to_numpy()[i]}: column hardware: {spec.name} does "
                            f"not fit on {hw.id} at batch 1, so it has no max-load throughput")
        out[i] = fit.max_load_batch[0]
    return out


def _predict_group(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(expected, bound, batch run) of rows sharing model, device, engine, dtypes and
    parallelism: one prepare + evaluate over the rows as grid columns."""
    from costmodel.analysis.prepare import prepare
    from costmodel.core.evaluate import evaluate
    from costmodel.core.metrics import summed_peak_bytes
    from costmodel.loading.load import load_hardware, load_model
    from costmodel.specs.workload import Parallelism, Workload

    first = rows.iloc[0]
    spec, hw = load_model(first["model"]), load_hardware(first["hardware"])
    visual = rows["visual_tokens"].to_numpy() > 0
    if not spec.is_vlm and visual.any():
        raise _RowError(f"id {rows['id'].to_numpy()[visual][0]}: column visual_tokens: "
                        f"{spec.name} has no vision tower; give 0 (the prompt is text_tokens)")
    w = Workload(act_dtype=first["act_dtype"], weight_dtype=first["weight_dtype"],
                 kv_dtype=first["kv_dtype"], engine=first["engine"],
                 weight_group=_unset_nan(first["weight_group"], int),
                 weight_group_bytes=_unset_nan(first["weight_group_bytes"], float),
                 parallel=Parallelism(tp=int(first["tp"]), pp=int(first["pp"])))
    cols = {c: rows[c].to_numpy(float) for c in ("batch", "visual_tokens", "text_tokens",
                                                   "output_tokens")}
    cols["batch"] = run_batches(spec, hw, w, rows, cols)
    ev = evaluate(spec, prepare(spec, [hw], w, columns=cols))
    metric = rows["metric"].to_numpy()

    def flat(x: Any) -> np.ndarray:
        return np.broadcast_to(np.asarray(x, float), (1, len(rows))).reshape(-1)

    memory = flat(summed_peak_bytes(ev.total_memory_bytes, ev.activation_bytes, w.parallel.gpus))

    def at(ttft: Any, tpot: Any, e2e: Any) -> np.ndarray:
        return metric_values(metric, flat(ttft), flat(tpot), flat(e2e), cols["batch"],
                             cols["output_tokens"], memory)

    b = ev.bound
    return (at(ev.ttft_s, ev.tpot_s, ev.e2e_latency_s), at(b.ttft_s, b.tpot_s, b.e2e_latency_s),
            cols["batch"])


class _RowError(CostmodelError):
    """A message that already names its row."""


# the loaders name the command-line option; a CSV cell is a column
LOADER_OPTIONS = (("MODEL: ", "model"), ("--hardware: ", "hardware"), ("--engine: ", "engine"),
                  ("model: ", "model"), ("hardware: ", "hardware"), ("engine: ", "engine"))


def _as_column(message: str) -> str:
    if message.startswith("parallel."):  # 'parallel.tp: 3 does not divide ...'
        return f"column {message.removeprefix('parallel.')}"
    if message.startswith("interconnect: "):  # its remedy names --set and --tp / --pp
        return (f"columns tp and pp: {message.removeprefix('interconnect: ').split(';')[0]}; "
                "give tp 1 and pp 1, or a hardware YAML with interconnect.bandwidth_GBps")
    for option, col in LOADER_OPTIONS:
        if message.startswith(option):
            return f"column {col}: {message.removeprefix(option)}"
    return message


def predict(df: pd.DataFrame) -> pd.DataFrame:
    """`df` (from `read`) with predicted, error, bound and bound_error columns."""
    out = df.copy()
    out["predicted"] = np.nan
    out["bound"] = np.nan
    out["run_batch"] = out["batch"].astype(float)
    for _, idx in out.groupby(GROUP, sort=False, dropna=False).indices.items():
        rows = out.iloc[idx]
        try:
            expected, bound, run = _predict_group(rows)
        except _RowError:
            raise
        except UnsupportedDtype as e:
            raise CostmodelError(f"id {rows['id'].iloc[0]}: act_dtype: {e.detail}") from None
        except ValidationError as e:  # Workload's limits (weight_group, tp, ...): a column
            raise CostmodelError(f"id {rows['id'].iloc[0]}: column {one_line(e)}") from None
        except CostmodelError as e:  # after ValidationError: a FieldError is both
            raise CostmodelError(f"id {rows['id'].iloc[0]}: {_as_column(str(e))}") from None
        out.loc[out.index[idx], "predicted"] = expected
        out.loc[out.index[idx], "bound"] = bound
        out.loc[out.index[idx], "run_batch"] = run
    out["error"] = (out["predicted"] - out["value"]) / out["value"]
    out["bound_error"] = (out["bound"] - out["value"]) / out["value"]
    return out


def as_time(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A figure column (value, predicted, bound) as seconds of work: time metrics as they are,
    decode rates inverted (time per token), whole-run throughputs as the run (batch run x
    output tokens / rate); memory rows stay bytes."""
    v = frame[column].to_numpy(float)
    batch = frame["run_batch"] if "run_batch" in frame else frame["batch"]
    work = np.where(frame["metric"].isin(WHOLE_RUN), batch * frame["output_tokens"], 1.0)
    return np.where(frame["metric"].isin(RATES), work / v, v)


def bound_slack(frame: pd.DataFrame) -> np.ndarray:
    """How much faster the bound is than the measurement (>= 0 when the bound is a lower
    bound on time): measured time / bound time - 1 (as_time: rates inverted)."""
    return as_time(frame, "value") / as_time(frame, "bound") - 1.0


def _stats(errors: pd.Series) -> dict[str, Any]:
    a = errors.abs()
    return {"rows": int(len(a)), "median_abs_error": float(a.median()),
            "max_abs_error": float(a.max())}


def _by(frame: pd.DataFrame, column: str, key: str) -> dict[str, Any]:
    return {str(k): _stats(g[column]) for k, g in frame.groupby(key, sort=True)}


def summarise(frame: pd.DataFrame) -> dict[str, Any]:
    """summary.{rows, median_abs_error, max_abs_error, by_engine, by_hardware, by_metric,
    by_split (when the CSV has `split`), bound: the same for the roofline bound}."""
    keys = ["engine", "hardware", "metric"] + (["split"] if "split" in frame else [])

    def block(column: str) -> dict[str, Any]:
        return {**_stats(frame[column]), **{f"by_{k}": _by(frame, column, k) for k in keys}}

    return {**block("error"), "bound": block("bound_error")}


ROW_FIELDS = ("id", "model", "hardware", "engine", "metric", "value", "predicted", "error",
              "bound", "bound_error")


def _json_value(v: Any) -> Any:
    """numpy scalars as Python ones; NaN (an unset int4 group) as None."""
    v = v.item() if hasattr(v, "item") else v
    return None if isinstance(v, float) and np.isnan(v) else v


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One JSON record per row (base units; errors as fractions)."""
    extra = [c for c in ("split", "tp", "pp", "batch", "run_batch", "text_tokens", "output_tokens",
                         "weight_group", "weight_group_bytes")
             if c in frame]
    return [{k: _json_value(v) for k, v in r.items()}
            for r in frame[[*ROW_FIELDS, *extra]].to_dict("records")]


def validate(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read, predict and summarise a published-runs CSV."""
    frame = predict(read(path))
    return frame, summarise(frame)
