"""cli/output.py: the one atomic writer (issue 14: nothing half-written)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from costmodel.cli.output import check_output, write_atomic, write_text
from costmodel.errors import CostmodelError
from tests.helpers import run


def test_failed_write_leaves_the_folder_as_it_was(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")

    def half(tmp: str) -> None:
        Path(tmp).write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(CostmodelError, match="--output: cannot write .*No space left"):
        write_atomic(target, half, "--output")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]
    assert target.read_text() == "old\n"


def test_other_errors_still_remove_the_temporary_file(tmp_path):
    def boom(tmp: str) -> None:
        raise ValueError("figure failed")

    with pytest.raises(ValueError):
        write_atomic(tmp_path / "f.png", boom, "--plot")
    assert list(tmp_path.iterdir()) == []


def test_written_with_the_users_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_text(tmp_path / "a.csv", "x\n", "--out")
    finally:
        os.umask(old)
    assert (tmp_path / "a.csv").stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]


def test_check_output_creates_nothing(tmp_path):
    check_output(tmp_path / "f.png", "--plot", (".png",))
    assert list(tmp_path.iterdir()) == []


def test_a_command_that_writes_says_so_and_leaves_only_its_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["plot", "savings", "--from", "none.csv", "-o", "s.png"], capsys)
    assert code == 2 and list(tmp_path.iterdir()) == []
    code, out, err = run(["sweep", "llava-1.5-7b", "-H", "a100-80gb", "--visual-tokens", "576",
                          "-f", "csv", "--plot", "s.png"], capsys)
    assert code == 0, err
    assert [p.name for p in tmp_path.iterdir()] == ["s.png"]
