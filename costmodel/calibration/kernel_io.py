"""Measured kernel tables (aiconfigurator format): reading and checking them. An edge module; the
format is described in costmodel.calibration.kernel_tables, which predicts, fits and summarises
the rows read here (and re-exports this module's public names).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from costmodel.calibration.csvfile import exact_floats
from costmodel.errors import CostmodelError
from costmodel.units import DType

if TYPE_CHECKING:
    import pandas as pd

KINDS = ("gemm", "context_attention", "generation_attention", "encoder_attention")
REQUIRED = {
    "gemm": ("m", "n", "k", "latency"),
    "context_attention": ("batch_size", "isl", "num_heads", "num_key_value_heads", "head_dim",
                          "latency"),
    "generation_attention": ("batch_size", "isl", "num_heads", "num_key_value_heads",
                             "head_dim", "step", "latency"),
    "encoder_attention": ("batch_size", "isl", "num_heads", "head_dim", "latency"),
}
# gemm_dtype -> (math dtype of the peak, bytes per A element, per B (weight), per C element)
GEMM_DTYPES = {
    "bfloat16": (DType.bf16, 2.0, 2.0, 2.0), "float16": (DType.fp16, 2.0, 2.0, 2.0),
    "fp8": (DType.fp8, 1.0, 1.0, 2.0), "fp8_block": (DType.fp8, 1.0, 1.0, 2.0),
    "int8_wo": (DType.bf16, 2.0, 1.0, 2.0), "int4_wo": (DType.bf16, 2.0, 0.5, 2.0),
    "sq": (DType.int8, 1.0, 1.0, 2.0),
}
ELEM_BYTES = {"bfloat16": 2.0, "float16": 2.0, "fp8": 1.0, "int8": 1.0}


def column(frame: pd.DataFrame, name: str, default: float | str) -> np.ndarray:
    """The column with gaps (tables of other kinds concatenated) filled by `default`; all
    `default` where the frame has no such column."""
    return frame[name].fillna(default).to_numpy() if name in frame else np.full(len(frame),
                                                                                   default)


def _fail(path: str | Path, what: str) -> CostmodelError:
    return CostmodelError(f"--kernels: {path}: {what}")


def _read_frame(path: str | Path) -> pd.DataFrame:
    import pandas as pd

    p = Path(path)
    if p.is_dir():
        raise _fail(path, "a directory; give the kernel table files in it, e.g. "
                    f"{p / '*_gemm_perf.csv.gz'}")
    if not p.is_file():
        raise _fail(path, "no such file; check the path")
    if p.suffix == ".parquet":
        try:
            return pd.read_parquet(p)
        except ImportError:
            raise _fail(path, "reading parquet needs pyarrow; `pip install pyarrow` or give "
                        "a csv / csv.gz") from None
    try:
        return pd.read_csv(p, **exact_floats())
    except (UnicodeDecodeError, gzip.BadGzipFile, zlib.error, EOFError):
        raise _fail(path, "not UTF-8 CSV text; give a csv, csv.gz or parquet kernel "
                    "table") from None
    except pd.errors.EmptyDataError:
        raise _fail(path, "no rows; give a kernel table with a header and rows") from None
    except pd.errors.ParserError as e:
        raise _fail(path, f"not a CSV ({str(e).splitlines()[0]}); fix the file") from None


def _kind(frame: pd.DataFrame, path: str | Path) -> str:
    if "op_name" in frame and len(frame):
        kinds = set(frame["op_name"].astype(str))
        if len(kinds) != 1 or not kinds <= set(KINDS):
            raise _fail(path, f"column op_name: {sorted(kinds)[:3]}; one table per file, "
                        f"one of {', '.join(KINDS)}")
        return kinds.pop()
    if "m" in frame:
        return "gemm"
    if "num_key_value_heads" not in frame:
        return "encoder_attention"
    return "generation_attention" if "step" in frame and (frame["step"] > 0).any() else (
        "context_attention")


def read_table(path: str | Path) -> pd.DataFrame:
    """One kernel table as a frame: the file's columns plus `kind`, `framework`, `source`
    (the file name) and `measured_s`. Raises CostmodelError naming the file and column."""
    frame = _read_frame(path)
    kind = _kind(frame, path)
    missing = [c for c in REQUIRED[kind] if c not in frame]
    if missing:
        raise _fail(path, f"missing column {missing[0]} for a {kind} table (needs "
                    f"{', '.join(REQUIRED[kind])}); check the header")
    if not len(frame):
        raise _fail(path, "no rows; give a kernel table with a header and rows")
    frame = frame.copy()
    latency = _numbers(frame, "latency")
    bad = ~np.isfinite(latency) | (latency <= 0)
    if bad.any():
        raise _fail(path, f"column latency: row {int(np.argmax(bad)) + 1} is not a positive "
                    "number of milliseconds; fix or drop it")
    _check_shapes(frame, kind, path)
    frame["kind"] = kind
    frame["framework"] = frame["framework"].astype(str) if "framework" in frame else "unknown"
    frame["source"] = Path(path).name
    frame["measured_s"] = frame["latency"].to_numpy(float) * 1e-3
    _check_dtypes(frame, path)
    return frame


def _numbers(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A column as floats; a cell that is not a number is NaN."""
    import pandas as pd

    return pd.to_numeric(frame[name], errors="coerce").to_numpy(float)


def _check_shapes(frame: pd.DataFrame, kind: str, path: str | Path) -> None:
    """The shape columns whole numbers (>= 1; step and window_size >= 0, 0 = none): a cell
    that is not one gave a NaN or negative prediction, or a traceback."""
    shapes = [c for c in REQUIRED[kind] if c != "latency"]
    for name in [*shapes, *(c for c in ("step", "window_size") if c in frame)]:
        x = _numbers(frame, name)
        least = 0 if name in ("step", "window_size") else 1
        bad = ~np.isfinite(x) | (x < least) | (np.mod(x, 1) != 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise _fail(path, f"column {name}: row {i + 1} is {str(frame[name].iloc[i])[:20]!r}, "
                        f"not a whole number >= {least}; fix or drop it")


def _check_dtypes(frame: pd.DataFrame, path: str | Path) -> None:
    checks = (("gemm_dtype", GEMM_DTYPES), ("attn_dtype", ELEM_BYTES),
              ("kv_cache_dtype", ELEM_BYTES))
    for col, known in checks:
        if col in frame:
            unknown = sorted(set(frame[col].astype(str)) - set(known))
            if unknown:
                raise _fail(path, f"column {col}: unknown {unknown[0]!r}; use one of "
                            f"{', '.join(known)}")


def read_tables(paths: list[str] | list[Path]) -> pd.DataFrame:
    import pandas as pd

    return pd.concat([read_table(p) for p in paths], ignore_index=True)
