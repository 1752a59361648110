"""Shared pieces of the web page's tests: the CLI's output for a command line."""

from __future__ import annotations

import shlex

import pytest

from tests.helpers import run


def run_cli(capsys: pytest.CaptureFixture[str], command: str, *extra: str) -> tuple[int, str, str]:
    """Run a `costmodel ...` line as the page shows it; (exit code, stdout, stderr)."""
    capsys.readouterr()  # drop what the test printed before
    return run(shlex.split(command)[1:] + list(extra), capsys)
