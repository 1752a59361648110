"""What a command tells the person at the terminal besides its output, all on stderr: one
`wrote FILE` line per file written, and a progress bar for long work (calibrate, profile,
sweeps over PROGRESS_POINTS points). `--quiet` silences both; the bar is drawn only when
stderr is a terminal, or when COSTMODEL_PROGRESS=1 forces it (COSTMODEL_PROGRESS=0 turns it
off). rich is imported only when a bar is drawn."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import typer

PROGRESS_POINTS = 1_000_000  # a sweep over more points than this shows a bar


class Tick(Protocol):
    """tick(done, total[, what]): `what` (what runs now) replaces the bar's detail."""

    def __call__(self, done: int, total: int, what: str = "") -> None: ...


_state = {"quiet": False}


def set_quiet(quiet: bool) -> None:
    """The root `costmodel --quiet` sets it for the invocation; a command's own `--quiet`
    turns it on."""
    _state["quiet"] = quiet


def also_quiet(flag: bool) -> None:
    """A command's own --quiet (the root's stays on when given)."""
    if flag:
        _state["quiet"] = True


def note(message: str) -> None:
    """One line on stderr (unless --quiet)."""
    if not _state["quiet"]:
        typer.echo(message, err=True)


def wrote(path: object) -> None:
    note(f"wrote {path}")


def bar_wanted() -> bool:
    forced = os.environ.get("COSTMODEL_PROGRESS", "")
    if _state["quiet"] or forced == "0":
        return False
    return forced == "1" or sys.stderr.isatty()


@contextmanager
def progress(description: str, total: int | None = None) -> Iterator[Tick | None]:
    """A rich progress bar on stderr, yielded as tick(done, total); None when no bar is wanted
    (not a terminal, --quiet, or rich missing): the work then runs without one."""
    if not bar_wanted():
        yield None
        return
    try:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    except ImportError:  # pragma: no cover - rich comes with typer
        yield None
        return
    console = Console(file=sys.stderr, force_terminal=True)
    columns = (TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(description, total=total)

        def tick(done: int, total: int, what: str = "") -> None:
            detail = f"{description}: {what}" if what else description
            bar.update(task, completed=done, total=total, description=detail)

        yield tick
