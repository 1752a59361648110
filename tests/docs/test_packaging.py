"""The wheel ships every package and data file of the source tree.

The tests import `costmodel` from the checkout, so a package left out of pyproject.toml's list
would pass them and still break `pip install .` users (it did once: costmodel.conventions was
missing, and `--convention llm-viewer` failed with ModuleNotFoundError on an installed wheel).
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

from tests.helpers import ROOT

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11 (CI runs 3.11)

SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _package_dirs() -> dict[str, Path]:
    """Listed package name -> its folder in the checkout (package-dir mappings applied)."""
    mapped = SETUPTOOLS.get("package-dir", {})
    return {name: ROOT / mapped.get(name, name.replace(".", "/")) for name in SETUPTOOLS["packages"]}


def _glob_match(parts: tuple[str, ...], pattern: str) -> bool:
    """setuptools' package-data glob: '*' stays within one folder ('*.json' skips sub/x.json)."""
    pat = pattern.split("/")
    return len(pat) == len(parts) and all(fnmatch.fnmatch(a, b) for a, b in zip(parts, pat, strict=True))


def test_every_python_package_is_listed():
    listed = set(SETUPTOOLS["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "costmodel").rglob("__init__.py") if "__pycache__" not in p.parts}
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"


def test_every_data_file_is_shipped():
    """Each non-Python file in a listed package's folder matches one of that package's
    package-data patterns (a file belongs to the deepest listed package that holds it)."""
    data = SETUPTOOLS.get("package-data", {})
    dirs = _package_dirs()
    missing = []
    for name, folder in dirs.items():
        for f in folder.rglob("*"):
            rel = f.relative_to(folder)
            if f.is_dir() or f.suffix in (".py", ".pyc") or "__pycache__" in rel.parts:
                continue
            owner = max((n for n, d in dirs.items() if d in f.parents), key=lambda n: len(dirs[n].parts))
            if owner != name:
                continue  # checked under the deeper package
            if not any(_glob_match(rel.parts, p) for p in data.get(name, [])):
                missing.append(f"{name}: {rel.as_posix()}")
    assert missing == [], "add package-data patterns for these in pyproject.toml"
