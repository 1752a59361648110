"""Reading measurement CSVs (an edge): every failure is one line naming the option, the file,
and the row and column of a bad cell."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from costmodel.errors import CostmodelError

if TYPE_CHECKING:
    import pandas as pd


def exact_floats() -> dict[str, Any]:
    """read_csv's keywords that read each float as the nearest double, as float() does: pandas
    before 3.1 parses with a faster converter that can miss it by a bit (0.013886800000000001
    read as 0.0138868); 3.1 reads exactly by default and deprecates `float_precision`."""
    import pandas as pd

    major, minor = (int(x) for x in pd.__version__.split(".")[:2])
    return {} if (major, minor) >= (3, 1) else {"float_precision": "round_trip"}


def read_csv(path: str | Path, option: str) -> pd.DataFrame:
    """The CSV as a DataFrame (cells as text); unreadable, non-UTF-8 or empty files refused."""
    import pandas as pd

    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError as e:
        raise CostmodelError(f"{option}: {path}: not UTF-8 text (byte {e.start}); give a "
                             "CSV file") from None
    except pd.errors.EmptyDataError:
        raise CostmodelError(f"{option}: no measurements in {path} (empty file)") from None
    except (OSError, ValueError) as e:
        why = getattr(e, "strerror", None) or str(e).splitlines()[0][:120]
        raise CostmodelError(f"{option}: cannot read {path} as CSV ({why}); check the "
                             "file") from None


def numbers(df: pd.DataFrame, column: str, path: str | Path, option: str,
            positive: bool = False, empty: bool = False) -> np.ndarray:
    """A column as finite floats (>= 0, or > 0 with `positive`; empty cells NaN if `empty`);
    the first bad cell named by its data row (1 = first row under the header)."""
    import pandas as pd

    text = df[column].astype(str)
    vals = pd.to_numeric(text.str.strip(), errors="coerce").to_numpy(float)
    ok = np.isfinite(vals) & ((vals > 0) if positive else (vals >= 0))
    if empty:
        ok |= (text.str.strip() == "").to_numpy()
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        want = "a finite number > 0" if positive else "a finite number >= 0"
        raise CostmodelError(f"{option}: {path} row {i + 1}, {column}: {text.iloc[i]!r} is "
                             f"not {want}")
    return vals


def require(df: pd.DataFrame, columns: tuple[str, ...], path: str | Path, option: str,
            kind: str) -> None:
    """Every column present and at least one data row."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise CostmodelError(f"{option}: {path} lacks column {missing[0]}; give {kind}")
    if df.empty:
        raise CostmodelError(f"{option}: no measurements in {path} (no data rows)")
