"""Join measurements with predictions for the same shapes (an edge: reads CSV files).

Two kinds of measurement file:
- `vidur`: a Vidur mlp.csv (per-operator GPU timings, costmodel.calibration.vidur); predictions price the
  same operator on the chosen profile; groups = (op, token-count bucket).
- `profile`: the CSV written by `costmodel profile` (one row per model, batch, visual/text
  tokens and stage with median_s); predictions are TTFT (vision + projector + prefill) for
  `prefill` rows and one decode step for `decode` rows; `context_tokens` is the keys the
  step attends to (as `costmodel profile` writes it: prompt + 1), so its KV cache holds
  context_tokens - 1 tokens before the step; groups = stage. `model` is a zoo id, a
  config.json path or `tiny` (costmodel.reference.tiny).
Error = absolute percentage error 100 |predicted - measured| / measured (costmodel.calibration.fit.ape).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from costmodel.calibration.vidur import Execution
from costmodel.errors import CostmodelError
from costmodel.specs.hardware import HardwareProfile

if TYPE_CHECKING:
    import pandas as pd

# The engine that runs as a measured file's mode did (the `mode` column `costmodel profile` writes).
MODE_ENGINES = {"eager": "torch-eager", "cuda_graph": "torch-cuda-graph",
                "engine": "torch-cuda-graph"}
PROFILE_COLS = ("model", "batch", "visual_tokens", "text_tokens", "stage", "context_tokens",
                "median_s")


def detect(path: str | Path) -> str:
    """'vidur' or 'profile' from the header of a measurement CSV."""
    from costmodel.calibration.vidur import is_vidur

    try:
        with open(path, encoding="utf-8") as fh:
            header = fh.readline().strip().split(",")
    except UnicodeDecodeError as e:
        raise CostmodelError(f"--measurements: {path}: not UTF-8 text (byte {e.start}); give a "
                             "CSV file") from None
    except OSError as e:
        raise CostmodelError(f"--measurements: cannot read {path} ({e.strerror}); check the "
                             "path") from None
    if header == [""]:
        raise CostmodelError(f"--measurements: no measurements in {path} (empty file)")
    if is_vidur(header):
        return "vidur"
    if all(c in header for c in PROFILE_COLS):
        return "profile"
    raise CostmodelError(f"--measurements: {path} is neither a Vidur mlp.csv nor a `costmodel "
                         "profile` CSV; give one of those (or --kind)")


def join_vidur(path: str | Path, hw: HardwareProfile, execution: Execution) -> pd.DataFrame:
    from costmodel.calibration import vidur

    err = vidur.errors(vidur.load(path), hw, execution)
    err["group"] = err["op"] + " " + err["bucket"]
    err["point"] = err["op"] + "@" + err["num_tokens"].astype(str)
    return err


def _predict_profile(rows: pd.DataFrame, hw: HardwareProfile, execution: str) -> np.ndarray:
    """Predicted seconds for rows sharing one model, dtype and execution mode: one prepare +
    evaluate over the rows as grid columns (batch, visual, text tokens; 2 output tokens)."""
    from costmodel.analysis.prepare import prepare
    from costmodel.core.evaluate import evaluate
    from costmodel.core.visual_tokens import plan_token_arrays
    from costmodel.loading.load import load_model
    from costmodel.reference.tiny import tiny_spec
    from costmodel.specs.workload import Workload

    name = str(rows["model"].iloc[0])
    spec = tiny_spec() if name == "tiny" else load_model(name)
    w = Workload(act_dtype=str(rows["dtype"].iloc[0]) if "dtype" in rows else "bf16",
                 engine=MODE_ENGINES[execution], output_tokens=2)
    dec = (rows["stage"] == "decode").to_numpy()
    vis = rows["visual_tokens"].to_numpy(float)
    llm_vis = plan_token_arrays(spec, vis)["visual"]
    # decode: the step attends over context_tokens keys = prompt + itself, so the KV cache
    # before the step holds prompt = context_tokens - 1 tokens (visual + the rest as text)
    text = np.where(dec, rows["context_tokens"].to_numpy(float) - 1.0 - llm_vis,
                    rows["text_tokens"].to_numpy(float))
    cols = {"batch": rows["batch"].to_numpy(float), "visual_tokens": vis,
            "text_tokens": np.maximum(text, 0.0)}
    ev = evaluate(spec, prepare(spec, [hw], w, columns=cols))
    return np.where(dec, ev.tpot_s, ev.ttft_s).reshape(-1)


def _read_profile(path: str | Path) -> pd.DataFrame:
    """A `costmodel profile` CSV with its columns checked: numbers where numbers belong."""
    from costmodel.calibration.csvfile import numbers, read_csv, require

    opt = "--measurements"
    df = read_csv(path, opt)
    require(df, PROFILE_COLS, path, opt, "a `costmodel profile` CSV (or --kind vidur)")
    for c in ("batch", "visual_tokens", "text_tokens", "context_tokens"):
        df[c] = numbers(df, c, path, opt).astype(np.int64)
    df["median_s"] = numbers(df, "median_s", path, opt, positive=True)
    return df


def join_profile(path: str | Path, hw: HardwareProfile, execution: Execution) -> pd.DataFrame:
    import pandas as pd

    from costmodel.calibration.fit import ape

    df = _read_profile(path)
    bad = df.loc[~df["stage"].isin(["prefill", "decode"]), "stage"]
    if len(bad):
        raise CostmodelError(f"--measurements: {path} row {bad.index[0] + 1}, stage: "
                             f"{bad.iloc[0]!r} is not prefill or decode")
    df["execution"] = [m if m in MODE_ENGINES else execution
                       for m in df.get("mode", pd.Series([execution] * len(df)))]
    df["predicted_s"] = np.nan
    keys = ["model", "dtype", "execution"] if "dtype" in df else ["model", "execution"]
    for key, idx in df.groupby(keys).indices.items():
        mode = cast("tuple[str, ...]", key)[-1]
        df.loc[df.index[idx], "predicted_s"] = _predict_profile(df.iloc[idx], hw, mode)
    df["measured_s"] = df["median_s"]
    df["ape_pct"] = ape(df["predicted_s"], df["measured_s"])
    df["group"] = df["stage"]
    df["point"] = (df["model"].astype(str) + " b" + df["batch"].astype(str) + " v"
                   + df["visual_tokens"].astype(str) + " t" + df["text_tokens"].astype(str)
                   + " c" + df["context_tokens"].astype(str))
    return df


def join(path: str | Path, kind: str | None, hw: HardwareProfile,
         execution: Execution) -> tuple[str, pd.DataFrame]:
    kind = kind or detect(path)
    frame = join_vidur(path, hw, execution) if kind == "vidur" else join_profile(path, hw,
                                                                                 execution)
    return kind, frame


def summarise(err: pd.DataFrame) -> pd.DataFrame:
    """Points, median and max APE per group, in the order groups first appear; Vidur files add
    one pooled row per token-count bucket over all operators ('all <bucket>')."""
    import pandas as pd

    def agg(frame: pd.DataFrame, key: pd.Series) -> pd.DataFrame:
        g = frame.groupby(key, sort=False)["ape_pct"]
        return g.agg(points="size", median_ape_pct="median", max_ape_pct="max").reset_index()

    out = agg(err, err["group"].rename("group"))
    if "bucket" in err:
        out = pd.concat([out, agg(err, ("all " + err["bucket"]).rename("group"))],
                        ignore_index=True)
    return out
