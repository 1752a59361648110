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
