"""Shared CLI pieces: output formats and error conversion."""

from __future__ import annotations

import json
import math
from enum import Enum
from typing import Any

from pydantic import ValidationError

from costmodel.errors import CostmodelError, one_line


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def checked(build: Any, *args: Any, where: str = "", **kwargs: Any) -> Any:
    """Call a pydantic constructor; turn a ValidationError into a one-line CostmodelError."""
    try:
        return build(*args, **kwargs)
    except ValidationError as e:
        raise CostmodelError(one_line(e, where)) from None


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


def table(rows: list[list[str]], header: list[str], right: set[int] | None = None) -> str:
    """A plain aligned text table."""
    right = right or set()
    cells = [header] + rows
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(r: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])
