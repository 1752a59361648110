"""analysis/pages.small_pages: numpy's huge-page advice off inside the block, and back as it
was afterwards, also when the block raises."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from costmodel.analysis import pages


@pytest.fixture
def switch() -> Iterator[Callable[[bool], bool]]:
    """numpy's switch (it returns the previous setting), put back as it was after the test."""
    found = pages._setter()
    if found is None:
        pytest.skip("this numpy has no huge-page switch")
    before = found(True)
    yield found
    found(before)


def test_off_inside_and_restored_after(switch):
    with pages.small_pages():
        assert switch(False) is False  # it was off inside the block
    assert switch(True) is True  # and back on after it
    with pytest.raises(RuntimeError), pages.small_pages():
        raise RuntimeError("boom")
    assert switch(True) is True


def test_restores_an_off_setting_too(switch):
    switch(False)
    with pages.small_pages():
        pass
    assert switch(False) is False  # still off: the previous setting, not 'on'


def test_overlapping_blocks_restore_the_setting_from_before_the_first(switch):
    """Two sweeps in two threads: A opens, B opens, A closes (B still running: still off),
    B closes (on again). Each block saving and restoring its own 'before' left it off."""
    a, b = pages.small_pages(), pages.small_pages()
    a.__enter__()
    b.__enter__()
    a.__exit__(None, None, None)
    assert switch(False) is False  # B is still open: off
    b.__exit__(None, None, None)
    assert switch(True) is True  # both closed: on, as before A
