"""Reading and checking a published-runs CSV (the schema: costmodel/calibration/published.py):
every cell is checked when the file is read, before any prediction, and a bad one is refused in
one line naming the file, row, id and column."""

from __future__ import annotations

import difflib
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from costmodel.errors import CostmodelError
from costmodel.specs.workload import MAX_BATCH, MAX_GPUS, MAX_TOKENS
from costmodel.units import INT4_GROUP, SCALE_BYTES

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ("id", "model", "hardware", "engine", "weight_dtype", "act_dtype", "kv_dtype",
           "batch", "visual_tokens", "text_tokens", "output_tokens", "tp", "metric", "value",
           "source")
DTYPES = ("fp32", "bf16", "fp16", "fp8", "int8", "int4")
MAX_LOAD = "max_load_output_tokens_per_s"
METRICS = ("ttft_s", "tpot_s", "decode_tokens_per_s", "output_tokens_per_s", "e2e_s", MAX_LOAD,
           "memory_bytes")
SPLITS = ("", "fit", "held-out")  # the optional split column (benchmarks/fit_engines.py)
COUNTS = ("batch", "visual_tokens", "text_tokens", "output_tokens", "tp", "pp")
POSITIVE = ("batch", "output_tokens", "tp", "pp", "weight_group")
QUANT_GROUP = ("weight_group", "weight_group_bytes")  # optional columns; an empty cell = unset
MAX_COUNT = 2**31 - 1  # a count cell above this is refused when read (prepare has the limits)
MAX_LOAD_BATCH = MAX_BATCH  # a max-load row's cap: every batch up to it is evaluated (capacity)
LIMITS = {"batch": MAX_BATCH, "visual_tokens": MAX_TOKENS, "text_tokens": MAX_TOKENS,
          "output_tokens": MAX_TOKENS, "tp": MAX_GPUS, "pp": MAX_GPUS}  # Workload's, per row


def _bad(path: Path, row: Any, i: int, column: str, what: str) -> CostmodelError:
    rid = str(row.get("id", "")).strip() or "?"
    return CostmodelError(f"{path.name} row {i + 2} (id {rid[:40]}): column {column}: {what}")


def _count(path: Path, row: Any, i: int, column: str) -> int:
    raw = str(row[column]).strip()
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value) or value != int(value) or value < 0:
        raise _bad(path, row, i, column, f"{raw[:20]!r} is not a whole number >= 0; give one")
    if value > MAX_COUNT:  # would overflow the int64 column (1e30 read as a negative count)
        raise _bad(path, row, i, column, f"{raw[:20]!r} is too large (at most {MAX_COUNT})")
    if column in POSITIVE and value < 1:
        raise _bad(path, row, i, column, f"{raw!r} must be at least 1")
    return int(value)


def _check_row(path: Path, row: Any, i: int) -> None:
    for col in ("id", "model", "hardware", "engine", "metric"):
        if not str(row[col]).strip():
            raise _bad(path, row, i, col, "empty; fill it in")
    for col in ("weight_dtype", "act_dtype", "kv_dtype"):
        if str(row[col]).strip() not in DTYPES:
            raise _bad(path, row, i, col, f"{str(row[col])[:20]!r}; use {'|'.join(DTYPES)}")
    if str(row["metric"]).strip() not in METRICS:
        raise _bad(path, row, i, "metric", f"{str(row['metric'])[:30]!r}; use {'|'.join(METRICS)}")
    if str(row.get("split", "")).strip() not in SPLITS:
        raise _bad(path, row, i, "split", f"{str(row['split'])[:20]!r}; use fit|held-out (or "
                   "leave it empty)")
    try:
        value = float(str(row["value"]).strip())
    except ValueError:
        value = float("nan")
    if not np.isfinite(value) or value <= 0:
        raise _bad(path, row, i, "value", f"{str(row['value'])[:20]!r} is not a number > 0")
    n = {col: _count(path, row, i, col) for col in COUNTS}
    if str(row["metric"]).strip() == MAX_LOAD and n["batch"] > MAX_LOAD_BATCH:
        raise _bad(path, row, i, "batch", f"a max-load row's cap on requests in flight is at "
                   f"most {MAX_LOAD_BATCH}; give the engine's cap, e.g. 4096")
    for col, limit in LIMITS.items():  # else prepare refuses it as the group's first row
        if n[col] > limit:
            raise _bad(path, row, i, col, f"{str(row[col]).strip()[:20]!r} is too large (at "
                       f"most {limit})")
    if n["visual_tokens"] + n["text_tokens"] == 0:
        raise _bad(path, row, i, "text_tokens", "a prompt needs at least one token")
    _check_group(path, row, i)


def _check_group(path: Path, row: Any, i: int) -> None:
    """weight_group: empty or a whole number >= 1; weight_group_bytes: empty or a number >= 0;
    either one set (other than the old defaults 128 and 2) only on an int4 row."""
    if str(row["weight_group"]).strip():
        _count(path, row, i, "weight_group")
    raw = str(row["weight_group_bytes"]).strip() or "0"
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value) or value < 0:
        raise _bad(path, row, i, "weight_group_bytes", f"{raw[:20]!r} is not a number >= 0")
    if str(row["weight_dtype"]).strip() == "int4":
        return
    for col, default in zip(QUANT_GROUP, (INT4_GROUP, SCALE_BYTES), strict=True):
        cell = str(row[col]).strip()
        if cell and float(cell) != float(default):
            raise _bad(path, row, i, col, f"only int4 weights are stored in groups (weights "
                       f"are {str(row['weight_dtype']).strip()}); leave it empty")


def _resolve(value: str, folder: Path) -> str:
    """A relative file path is relative to the CSV's folder; ids stay as they are."""
    looks = any(c in value for c in "/\\") or value.endswith((".yaml", ".yml", ".json"))
    return str(folder / value) if looks and not Path(value).is_absolute() else value


def _read_text(path: Path) -> pd.DataFrame:
    """The CSV as text cells; an empty file, or a row with more cells than the header (pandas
    would take its first cells as an index and shift the row), refused in one line."""

    import pandas as pd

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(path, dtype=str, keep_default_na=False, index_col=False)
    except pd.errors.EmptyDataError:
        raise CostmodelError(f"--published: {path} is empty; give a CSV whose first line is "
                             f"the header {','.join(COLUMNS)}") from None
    except pd.errors.ParserWarning:
        raise CostmodelError(f"--published: {path} row {_long_row(path)} has more cells than "
                             "the header; quote cells that hold a comma") from None
    except pd.errors.ParserError as e:
        raise CostmodelError(f"--published: cannot read {path} ({str(e).strip()[:120]}); "
                             "quote cells that hold a comma") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CostmodelError(f"--published: cannot read {path} ({type(e).__name__}); "
                             "give a CSV file") from None


def _long_row(path: Path) -> int:
    """The first row (2 = the first under the header) with more cells than the header."""
    import csv

    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = csv.reader(f)
        width = len(next(rows))
        return next((i for i, r in enumerate(rows, 2) if len(r) > width), 2)


def _check_ids(path: Path, df: pd.DataFrame) -> None:
    """Each row its own id (errors and the JSON records name rows by it)."""
    ids = df["id"].str.strip()
    again = ids.duplicated()
    if again.any():
        i = int(np.argmax(again.to_numpy()))
        first = int(np.argmax((ids == ids.iloc[i]).to_numpy()))
        raise _bad(path, df.iloc[i], i, "id", f"also the id of row {first + 2}; give each row "
                   "its own id")


READ = (*COLUMNS, "pp", "split", *QUANT_GROUP)  # every column read; others are kept, not read


def _check_misspelt(path: Path, df: pd.DataFrame) -> None:
    """Other columns are kept but not read; one that is a read column misspelt ('PP',
    'weight_grp') would be silently ignored, its rows priced without it: refused."""
    for col in (str(c) for c in df.columns if c not in READ):
        close = difflib.get_close_matches(col.strip().lower(), READ, n=1, cutoff=0.8)
        if close:
            raise CostmodelError(f"{path.name}: column '{col}' is not read; did you mean "
                                 f"{close[0]}? (rename it; other columns are kept, not read)")


def read(path: str | Path) -> pd.DataFrame:
    """The CSV with every row checked (one-line CostmodelError naming row and column) and
    model / hardware / engine paths resolved; counts as int, value as float."""
    import pandas as pd

    path = Path(path)
    df = _read_text(path)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise CostmodelError(f"{path.name}: no column {', '.join(missing)}; the header needs "
                             f"{','.join(COLUMNS)}")
    _check_misspelt(path, df)
    if df.empty:
        raise CostmodelError(f"{path.name}: no rows; add at least one measurement")
    if "pp" not in df.columns:
        df["pp"] = "1"
    df["pp"] = df["pp"].replace("", "1")
    for col in QUANT_GROUP:
        df[col] = df[col].str.strip() if col in df else ""
    for i, row in enumerate(df.to_dict("records")):
        _check_row(path, row, i)
    _check_ids(path, df)
    for col in COUNTS:
        df[col] = df[col].astype(float).astype(int)
    df["value"] = df["value"].astype(float)
    int4 = df["weight_dtype"].str.strip() == "int4"
    for col in QUANT_GROUP:  # NaN: the engine's int4 format (empty cell, or a non-int4 row)
        df[col] = pd.to_numeric(df[col].where(int4, ""), errors="coerce")  # "" -> NaN
    for col in ("id", "model", "hardware", "engine", "metric", "weight_dtype", "act_dtype",
                "kv_dtype"):
        df[col] = df[col].str.strip()
    for col in ("model", "hardware", "engine"):
        df[col] = [_resolve(v, path.parent) for v in df[col]]
    return df
