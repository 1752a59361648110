"""Shared pieces of the web page's tests: the CLI's output for a command line."""

from __future__ import annotations

import shlex

import pytest

from costmodel.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], command: str, *extra: str) -> tuple[int, str, str]:
    """Run a `costmodel ...` line as the page shows it; (exit code, stdout, stderr)."""
    argv = shlex.split(command)[1:] + list(extra)
    capsys.readouterr()
    try:
        main(argv)
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
