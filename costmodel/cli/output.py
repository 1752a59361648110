"""The one way a command writes a file: every output path is checked before any work
(`check_output`), and written atomically (`write_atomic`): a temporary file in the target's
folder, given the user's umask, renamed into place; the temporary file is removed on every path,
so a failed command leaves the folder as it was."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from costmodel.cli import feedback
from costmodel.errors import CostmodelError

if TYPE_CHECKING:
    import pandas as pd

FIGURES = (".png", ".svg", ".pdf")


def check_output(path: Path, option: str, suffixes: tuple[str, ...]) -> Path:
    """A path a command may write: a supported suffix, not a directory, in an existing folder
    where a file can be created (tried with a temporary file, removed at once)."""
    path = Path(path)
    shown = str(path)[:80] + ("..." if len(str(path)) > 80 else "")
    try:
        if path.is_dir():
            raise CostmodelError(f"{option}: '{shown}' is a directory; give a file name in it")
    except OSError:
        pass  # a name the OS refuses: reported below
    if path.suffix.lower() not in suffixes:
        raise CostmodelError(f"{option}: '{shown}' has suffix '{path.suffix}'; use "
                             f"{', '.join(suffixes[:-1])} or {suffixes[-1]}"
                             if len(suffixes) > 1 else
                             f"{option}: '{shown}' needs the suffix {suffixes[0]}")
    if len(path.name.encode()) > 255:
        raise CostmodelError(f"{option}: file name '{shown}' is too long; give a shorter name")
    try:
        if not path.parent.is_dir():
            raise CostmodelError(f"{option}: directory '{path.parent}' does not exist; create it "
                                 "first")
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:40]}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise CostmodelError(f"{option}: cannot write '{shown}' ({e.strerror}); choose a "
                             "writable folder") from None
    os.close(fd)
    os.remove(tmp)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, write: Callable[[str], None], option: str) -> None:
    """Call `write(tmp)` to fill a temporary file beside `path`, then rename it into place
    with mode 0666 less the umask, and say `wrote PATH` on stderr (cli/feedback.py; --quiet
    silences it). The temporary file never outlives the call."""
    path = Path(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:40]}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise CostmodelError(f"{option}: cannot write '{path}' ({e.strerror}); choose a "
                             "writable folder") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
    feedback.wrote(path)


def write_text(path: Path, text: str, option: str) -> None:
    """`text` (UTF-8) written atomically to `path`."""
    def fill(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)

    write_atomic(path, fill, option)


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


# A column of whole-number counts by its name: FLOPs, bytes, parameters (flops, weight_bytes,
# total_memory_bytes_at_largest, params), not a rate or a ratio of them (ridge_flops_per_byte).
_COUNT = re.compile(r"(?:^|[_.])(?:flops|bytes|params)(?:$|_(?!per_))")
# compare-compression's long rows: `baseline` and `compressed` are counts where `unit` is one
_COUNT_UNITS, _VALUES = ("FLOP", "B"), ("baseline", "compressed")


def is_count(column: str) -> bool:
    """A CSV column of FLOP, byte or parameter counts (written without '.0' when whole)."""
    return _COUNT.search(column) is not None


def _whole(x: Any) -> Any:
    """A whole float as an int (100139008.0 -> 100139008); anything else as it is."""
    return int(x) if isinstance(x, float) and x.is_integer() else x


def _counts_whole(record: dict[str, Any]) -> dict[str, Any]:
    counts = _VALUES if record.get("unit") in _COUNT_UNITS else ()
    return {k: _whole(v) if is_count(k) or k in counts else v for k, v in record.items()}


def records_csv(records: list[dict[str, Any]]) -> str:
    """Records (dicts with the same keys) as CSV text with a header row; a NaN/inf value is an
    empty cell, as JSON's null (dumps) and frame_csv (sweep, --per-op) write it; a whole
    count (is_count) without '.0', as frame_csv writes it (JSON keeps its numbers)."""
    buf = io.StringIO()
    wr = csv.DictWriter(buf, fieldnames=list(records[0]), lineterminator="\n")
    wr.writeheader()
    wr.writerows(_clean([_counts_whole(r) for r in records]))
    return buf.getvalue()


def frame_csv(frame: pd.DataFrame, index: bool = False) -> str:
    """A DataFrame as CSV text (pandas' to_csv, '\\n' line ends), whole counts of its count
    columns (is_count) without '.0' and NaN / inf as an empty cell, as records_csv writes
    them (pandas writes inf as 'inf')."""
    import pandas as pd

    out = frame.copy()
    for col in (c for c in out.columns if out[c].dtype.kind == "f"):
        out[col] = out[col].where(np.isfinite(out[col]))
    for col in (c for c in out.columns if is_count(str(c)) and out[c].dtype.kind == "f"):
        # a list, not Series.map: map infers float64 again for a column mixing 1 and 2.5
        out[col] = pd.Series([_whole(v) for v in out[col]], index=out.index, dtype=object)
    return out.to_csv(index=index, lineterminator="\n")


def _clean(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def dumps(doc: Any) -> str:
    """Strict JSON (NaN/inf -> null)."""
    return json.dumps(_clean(doc), indent=2)


def percent(x: float, signed: bool = False) -> str:
    """A fraction as a percentage figure (no % sign): one decimal, or past 1e6 % in powers of
    ten (an error against a tiny measurement), not hundreds of digits."""
    return format(100 * x, ("+" if signed else "") + (".1f" if abs(x) < 1e4 else ".3g"))


def table(rows: list[list[str]], header: list[str], right: set[int] | None = None) -> str:
    """A plain aligned text table."""
    right = right or set()
    cells = [header] + rows
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(r: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])
