"""ARCHITECTURE.md's module map names every module of the package, and every package file the
docs name (`core/stages.py`, `costmodel/cli/options.py`) exists.

A module added without a line in the map, or a doc still naming a file that was renamed, sends
the reader nowhere. The map names a module by its file name (`idefics3_tokens.py`); two
families are named as a group: the command modules (`cli/<cmd>.py`, "one module per command
group") and the figure modules (plots/: "one module per figure kind (roofline, breakdown, ...)").
"""

from __future__ import annotations

import ast
import re

from tests.helpers import DOCS, ROOT

PACKAGE = ROOT / "costmodel"
# a path inside the package, with or without `costmodel/`, not part of a longer path
# (transformers' `models/qwen2_vl/...` or vLLM's `vllm/config.py` start with other folders)
PACKAGE_PATH = re.compile(r"(?<![\w/.-])(?:costmodel/)?((?:specs|loading|core|conventions|analysis"
                          r"|calibration|reference|plots|cli|ui)/[\w/]*\w\.py)\b")


def _modules() -> list:
    return [p for p in sorted(PACKAGE.rglob("*.py"))
            if p.name not in ("__init__.py", "__main__.py")]


def test_every_module_is_in_the_map():
    text = (ROOT / "ARCHITECTURE.md").read_text()
    missing = []
    for path in _modules():
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "cli" and path.stem.endswith("_cmd"):
            continue  # cli/<cmd>.py
        named = path.name in text or (
            rel.parts[0] == "plots" and re.search(rf"\b{path.stem}\b", text))
        if not named:
            missing.append(str(rel))
    assert missing == []


def _texts() -> list[tuple[str, str]]:
    docs = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *sorted(DOCS.glob("*.md"))]
    out = [(str(d.relative_to(ROOT)), d.read_text()) for d in docs]
    for path in sorted(PACKAGE.rglob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text()))
        if doc:
            out.append((f"{path.relative_to(ROOT)} (docstring)", doc))
    return out


def test_named_package_files_exist():
    named, missing = 0, []
    for where, text in _texts():
        for m in PACKAGE_PATH.finditer(text):
            named += 1
            if not (PACKAGE / m.group(1)).is_file():
                missing.append(f"{where}: {m.group(0)}")
    assert named > 100  # the pattern still finds the references
    assert missing == []
