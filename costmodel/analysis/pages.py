"""numpy's transparent-huge-page advice, off while a sweep runs.

numpy advises the kernel to back every array of 4 MiB or more with huge pages
(madvise(MADV_HUGEPAGE); numpy/__init__.py, `hugepage_setup`). A sweep's evaluation allocates
and frees hundreds of such temporaries, and where the kernel's THP defrag setting is
"madvise" (the Ubuntu default) each fresh one may stall in direct compaction: on the 2-core
VM of benchmarks/RESULTS.md the default bench grid spent 1.8-7 s of system time a sweep so
(against 0.2-0.8 s without the advice) and its rate moved between 59k and 110k points/s with
the other processes' memory. `small_pages()` turns the advice off for the duration of a block
and puts the previous setting back; nothing else changes (no memory is kept: the allocator's
settings are untouched), and the results are the same numbers.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def _setter() -> Callable[[bool], bool] | None:
    """numpy's private switch (numpy 2: numpy._core.multiarray, 1.x: numpy.core.multiarray);
    None where this numpy has none."""
    for name in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        switch = getattr(module, "_set_madvise_hugepage", None)
        if callable(switch):
            return switch
    return None


_LOCK = threading.Lock()
_held: list[bool] = []  # the setting before the outermost block; one entry per open block


@contextmanager
def small_pages() -> Iterator[None]:
    """numpy's huge-page advice off inside the block, then as it was. Process-wide while any
    block is open: another thread's arrays then get small pages too, which changes their speed
    only. Blocks may nest or overlap across threads (two UI sweeps): the first to open turns
    the advice off and the last to close puts the setting from before the first back."""
    switch = _setter()
    if switch is None:
        yield
        return
    with _LOCK:
        before = switch(False)
        _held.append(bool(before) if not _held else _held[0])
    try:
        yield
    finally:
        with _LOCK:
            first = _held.pop()
            if not _held:
                switch(first)
