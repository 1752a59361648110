"""Rewrite the output shown under every `$ costmodel ...` block of the docs with what the
command prints today (the tests in tests/docs/ then check the blocks stay true).

    python benchmarks/refresh_doc_outputs.py                 # README.md and docs/*.md
    python benchmarks/refresh_doc_outputs.py docs/methodology.md

A block is a fenced ``` block whose first line is `$ costmodel ARGS`; its output is stdout of
`costmodel ARGS` run in-process from the repository root (stderr is not shown). Prints each
file and how many blocks changed.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from costmodel.cli import main  # noqa: E402

BLOCK = re.compile(r"(```\n\$ (costmodel [^\n]*)\n)(.*?)(```)", re.S)


def output(command: str) -> str:
    """stdout of `costmodel ...` (args after the program name), run from the repo root."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):
        main(shlex.split(command)[1:])
    return buf.getvalue().rstrip() + "\n"


def refresh(path: Path) -> int:
    text = path.read_text()
    changed = 0

    def swap(m: re.Match[str]) -> str:
        nonlocal changed
        new = output(m.group(2))
        changed += new != m.group(3)
        return m.group(1) + new + m.group(4)

    path.write_text(BLOCK.sub(swap, text))
    return changed


if __name__ == "__main__":
    import os

    os.chdir(ROOT)
    files = [Path(a) for a in sys.argv[1:]] or [ROOT / "README.md", *sorted(ROOT.glob("docs/*.md"))]
    for f in files:
        print(f"{f.relative_to(ROOT) if f.is_absolute() else f}: {refresh(f)} block(s) changed")
