"""Every test file (and test function) that the documentation names exists.

The tests moved once from tests/test_*.py to tests/unit/<package>/, tests/cli/ and tests/docs/;
a doc that still says tests/test_x.py sends the reader nowhere. Checked: README,
ARCHITECTURE, docs/, the pyproject comments, the hardware profiles' notes, the benchmark
scripts and .ci/run. Not checked: benchmarks/RESULTS.md (dated records that keep the paths of
their day) and comments in costmodel/.
"""

from __future__ import annotations

import re

from tests.helpers import ROOT

TEST_PATH = re.compile(r"tests/[\w/.-]+?\.py(?:::(\w+))?")


def _documents() -> list:
    return [ROOT / "README.md", ROOT / "ARCHITECTURE.md", ROOT / "pyproject.toml", ROOT / ".ci" / "run",
            *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "hardware_profiles").glob("*.yaml")),
            *sorted((ROOT / "benchmarks").glob("*.py"))]


def test_named_test_paths_exist():
    named, missing = 0, []
    for doc in _documents():
        for m in TEST_PATH.finditer(doc.read_text()):
            named += 1
            path = ROOT / m.group(0).split("::")[0]
            if not path.is_file():
                missing.append(f"{doc.relative_to(ROOT)}: {m.group(0)}")
            elif m.group(1) and f"def {m.group(1)}(" not in path.read_text():
                missing.append(f"{doc.relative_to(ROOT)}: {m.group(0)} (no such test)")
    assert named > 10  # the pattern still finds the references
    assert missing == []
