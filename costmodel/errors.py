"""User-facing errors: each renders as one line naming the field and the fix."""

from __future__ import annotations

import difflib

from pydantic import ValidationError


class CostmodelError(ValueError):
    """Bad input from a user: the CLI prints str(e) on one line and exits with code 2."""


class ContextWarning(UserWarning):
    """A workload longer than the model's context (max_position_embeddings): the figures are
    computed, but the model was not trained for that length. The CLI prints one line.
    positions: the longest sequence (a chunked sweep reports only its largest)."""

    def __init__(self, message: str, positions: int = 0) -> None:
        super().__init__(message)
        self.positions = positions


class UnlikeDevicesWarning(UserWarning):
    """Devices compared on an engine that runs measured kernels where some carry fitted kernel
    figures and some only datasheet peaks: the latter's expected latencies are the roofline
    bound plus host time, optimistic beside the others. The CLI prints one line."""


# The catalog of an id (`costmodel models list`) -> the Python API's argument or field that
# names one: the head of an UnknownName message (the CLI puts the option there, cli/options.py).
FIELD_OF_KIND = {"models": "model", "hardware": "hardware", "engines": "engine"}


class UnknownName(CostmodelError, LookupError):
    """A model, hardware or engine id that is not known; carries the nearest known ids."""

    def __init__(self, kind: str, name: str, known: list[str], where: str = "") -> None:
        """`where`: the option, or the file and field (a YAML's `base:`), that named it; else
        the Python field (FIELD_OF_KIND: model, hardware, engine), which the command line reads
        as its option (MODEL, --hardware, --engine)."""
        self.kind, self.name, self.known = kind, name, known
        base_key = where.endswith(": base")  # loading/load.py names a profile's base: so
        where = where or FIELD_OF_KIND.get(kind, kind)
        self.suggestions = nearest(name, known)
        hint = f"; did you mean {', '.join(self.suggestions)}?" if self.suggestions else ""
        shown = name if len(name) <= 40 else name[:40] + "..."
        parts = [p.strip() for p in name.split(",")]
        if len(parts) > 1 and all(p in known for p in parts):  # 'a100-80gb,h100-sxm'
            several = {"models": "; `costmodel sweep` takes a comma list of models",
                       "hardware": "; `costmodel compare` and `sweep` take a comma list",
                       "engines": "; `costmodel compare --engine` takes a comma list"}
            # a file's key (a profile's base:) names one; no command takes a list there
            fix = ("; name one base profile" if base_key else
                   several.get(kind, "; run once per id"))
            super().__init__(f"{where}: '{shown}' is a comma list, but this takes one "
                             f"id{fix}")
            return
        super().__init__(
            f"{where}: unknown '{shown}'{hint} (`costmodel {kind} list` shows all; "
            "a path to a file works too)"
        )

    def named(self, where: str) -> UnknownName:
        """The same error headed by `where` (a command's argument, e.g. `models show NAME`)."""
        return UnknownName(self.kind, self.name, self.known, where)


def nearest(name: str, known: list[str], n: int = 3) -> list[str]:
    """Up to `n` known ids for a mistyped `name`: those that begin with it, then those that
    contain it ('h100' -> h100-pcie, h100-sxm; 'orin' -> the Jetson Orins), then difflib's
    closest by spelling ('llava-1.5-7' -> llava-1.5-7b)."""
    typed = name.lower().strip()
    starts = sorted(k for k in known if typed and k.lower().startswith(typed))
    inside = sorted(k for k in known if typed and typed in k.lower() and k not in starts)
    close = difflib.get_close_matches(typed, known, n=n, cutoff=0.4)
    return list(dict.fromkeys(starts + inside + close))[:n]


class FieldError(ValidationError, CostmodelError):
    """A bad value given to a model built from Python (Workload, Compression, ...;
    specs/base.InputModel): pydantic's ValidationError, so `errors()` and every `except
    ValidationError` work as before, that is also a CostmodelError and reads as one line."""

    def __str__(self) -> str:
        return one_line(self)

    def __repr__(self) -> str:
        return f"FieldError({one_line(self)!r})"


def field_error(e: ValidationError) -> ValidationError:
    """`e` as a FieldError (e itself where pydantic cannot rebuild its errors)."""
    try:
        return FieldError.from_exception_data(e.title, e.errors())  # type: ignore[arg-type]
    except (TypeError, ValueError, KeyError):
        return e


def _loc_part(x: object) -> bool:
    """A location part the user wrote (a field name or an index), not pydantic's tag of a
    validator or a union member ('function-after[_check(), Compression]')."""
    return not (isinstance(x, str) and "[" in x)


def one_line(e: ValidationError, where: str = "") -> str:
    """The first pydantic error as 'where.field: message'."""
    err = e.errors()[0]
    loc = ".".join(str(x) for x in err["loc"] if _loc_part(x))
    msg = err["msg"].removeprefix("Value error, ")
    field = ".".join(x for x in (where, loc) if x)
    more = f" (+{len(e.errors()) - 1} more)" if len(e.errors()) > 1 else ""
    return f"{field}: {msg}{more}" if field and not msg.startswith(f"{loc}:") else f"{msg}{more}"
