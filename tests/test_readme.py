"""The README's example output is what the command prints today."""

from __future__ import annotations

import re
from pathlib import Path

from costmodel.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"
CMD = "costmodel estimate llava-1.5-7b --hardware a100-80gb"


def test_readme_commands_and_output(capsys):
    text = README.read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    assert blocks[0].strip() == f"pip install . && {CMD}"
    assert blocks[1].strip() == 'pip install ".[dev]" && python -m pytest -q'
    shown = text.split(f"$ {CMD}\n", 1)[1].split("```", 1)[0].rstrip()
    main(CMD.split()[1:])
    assert capsys.readouterr().out.rstrip() == shown
