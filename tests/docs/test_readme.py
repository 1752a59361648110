"""The README's example output is what the command prints today."""

from __future__ import annotations

import re

from costmodel.cli import main
from tests.helpers import ROOT

README = ROOT / "README.md"
CMD = "costmodel estimate llava-1.5-7b --hardware a100-80gb"


def test_readme_commands_and_output(capsys):
    text = README.read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    assert blocks[0].strip() == f"pip install . && {CMD}"
    test_cmd = 'pip install torch==2.13.0 && pip install ".[dev,validate]" && python -m pytest -q'
    assert blocks[1].strip() == test_cmd
    # .ci/run runs the same command (quietly).
    ci = (README.parent / ".ci" / "run").read_text()
    assert test_cmd.replace("pip install ", "pip install -q ") in ci
    shown = text.split(f"$ {CMD}\n", 1)[1].split("```", 1)[0].rstrip()
    main(CMD.split()[1:])
    assert capsys.readouterr().out.rstrip() == shown
