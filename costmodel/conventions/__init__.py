"""Counting conventions, by name: costmodel's own (costmodel.core.convention) and others that
reproduce published tools (LLM-Viewer). `get(name)` is how the prepare step finds one; the
core never imports this package. To add one: a module here with an object implementing
costmodel.core.convention.Convention, registered in CONVENTIONS."""

from __future__ import annotations

from costmodel.conventions.llm_viewer import LLM_VIEWER
from costmodel.core.convention import COSTMODEL, Convention
from costmodel.errors import CostmodelError

CONVENTIONS: dict[str, Convention] = {COSTMODEL.name: COSTMODEL, LLM_VIEWER.name: LLM_VIEWER}


def get(name: str) -> Convention:
    """The convention registered under `name`; a one-line error naming the choices."""
    try:
        return CONVENTIONS[name]
    except KeyError:
        raise CostmodelError(f"convention: '{name[:40]}' is not one of "
                             f"{', '.join(CONVENTIONS)}") from None
