"""The project's function size limit (~40 lines, `def` to last line) outside costmodel/cli,
whose typer commands spell every option in their signatures and are not held to it."""

from __future__ import annotations

import ast

from tests.helpers import ROOT

LIMIT = 40


def test_functions_outside_the_cli_commands_fit_the_limit():
    long = []
    for path in sorted((ROOT / "costmodel").rglob("*.py")):
        if "cli" in path.relative_to(ROOT / "costmodel").parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > LIMIT:
                    long.append(f"{path.relative_to(ROOT)}::{node.name} ({lines} lines)")
    assert long == []
