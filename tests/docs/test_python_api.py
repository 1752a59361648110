"""docs/python-api.md runs as one notebook: its Python blocks in order in one namespace, each
`text` block after `prints` equal to what the block above it prints. The Python blocks of the
README and docs/plots.md run too (they show no output)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import DOCS, ROOT

DOC = DOCS / "python-api.md"
CELL = re.compile(r"```python\n(.*?)```(?:\s*prints\s*```text\n(.*?)```)?", re.S)


def _lines(text: str) -> list[str]:
    return [ln.rstrip() for ln in text.rstrip().splitlines()]


def test_python_api_doc_prints_what_it_shows(capsys, monkeypatch, tmp_path):
    pytest.importorskip("matplotlib")  # the last cell draws
    monkeypatch.chdir(tmp_path)
    cells = CELL.findall(DOC.read_text())
    assert len(cells) >= 8 and sum(bool(shown) for _, shown in cells) >= 7
    namespace: dict = {}
    for i, (code, shown) in enumerate(cells):
        exec(compile(code, f"{DOC.name} cell {i + 1}", "exec"), namespace)
        printed = capsys.readouterr().out
        assert _lines(printed) == _lines(shown), f"cell {i + 1}"
    assert (tmp_path / "roofline.png").is_file() and (tmp_path / "sweep.png").is_file()


@pytest.mark.parametrize("doc", [ROOT / "README.md", DOCS / "plots.md"], ids=lambda p: p.name)
def test_other_python_blocks_run(doc: Path, monkeypatch, tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), re.S)
    assert blocks
    if any("costmodel.plots" in b for b in blocks):
        pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    for i, code in enumerate(blocks):
        exec(compile(code, f"{doc.name} block {i + 1}", "exec"), {})
