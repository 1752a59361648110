"""analysis/pages.small_pages: numpy's huge-page advice off inside the block, and back as it
was afterwards, also when the block raises."""

from __future__ import annotations

import pytest

from costmodel.analysis import pages


def test_off_inside_and_restored_after():
    switch = pages._setter()
    if switch is None:
        pytest.skip("this numpy has no huge-page switch")
    before = switch(True)
    try:
        with pages.small_pages():
            assert switch(False) is False  # it was off inside the block
        assert switch(True) is True  # and back on after it
        with pytest.raises(RuntimeError), pages.small_pages():
            raise RuntimeError("boom")
        assert switch(True) is True
    finally:
        switch(before)


def test_restores_an_off_setting_too():
    switch = pages._setter()
    if switch is None:
        pytest.skip("this numpy has no huge-page switch")
    before = switch(False)
    try:
        with pages.small_pages():
            pass
        assert switch(False) is False  # still off: the previous setting, not 'on'
    finally:
        switch(before)


def test_overlapping_blocks_restore_the_setting_from_before_the_first():
    """Two sweeps in two threads: A opens, B opens, A closes (B still running: still off),
    B closes (on again). Each block saving and restoring its own 'before' left it off."""
    switch = pages._setter()
    if switch is None:
        pytest.skip("this numpy has no huge-page switch")
    before = switch(True)
    try:
        a, b = pages.small_pages(), pages.small_pages()
        a.__enter__()
        b.__enter__()
        a.__exit__(None, None, None)
        assert switch(False) is False  # B is still open: off
        b.__exit__(None, None, None)
        assert switch(True) is True  # both closed: on, as before A
    finally:
        switch(before)
