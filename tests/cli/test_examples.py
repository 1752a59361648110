"""Every command's --help ends with examples (costmodel/cli/examples.py), and the examples run."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import typer

from costmodel.cli import app
from costmodel.cli.examples import EXAMPLES
from tests.helpers import run

ROOT = Path(__file__).resolve().parents[2]
# Examples not run here, and why: they need a GPU, a file the user brings, a browser session,
# or (calibrate on the CPU) 45 s; the same commands run in their own tests.
NOT_RUN = {
    "costmodel estimate ./config.json -H ./my-gpu.yaml --set memory_bandwidth_GBps=x2": "files",
    "costmodel validate --kernels gemm_perf.csv.gz -H h100-sxm --held-out": "a kernel table",
    "costmodel validate -m prof.csv -H cpu.yaml": "a profile run",
    "costmodel profile llava-1.5-7b --device cuda --visual-tokens 64,576 -o prof.csv": "GPU",
    "costmodel calibrate --device cpu -o cpu.yaml": "45 s (tests/cli/test_validate_calibrate.py)",
    "costmodel calibrate --device cuda --base h100-sxm -o h100-cal.yaml": "GPU",
    "costmodel calibrate --from-vidur mlp.csv --base a100-80gb -o a100-vidur.yaml": "a file",
    "costmodel ui": "a server", "costmodel ui --port 0": "a server",
}


def _leaves(group: object, prefix: tuple[str, ...] = ()) -> list[str]:
    cmds = getattr(group, "commands", None)
    if cmds is None:
        return [" ".join(prefix)]
    return [c for name, sub in cmds.items() for c in _leaves(sub, (*prefix, name))]


def test_every_command_has_examples_and_no_example_names_a_missing_command():
    assert sorted(_leaves(typer.main.get_command(app))) == sorted(EXAMPLES)


@pytest.mark.parametrize("command", sorted(EXAMPLES))
def test_help_ends_with_the_examples(command, capsys):
    code, out, _ = run([*command.split(), "--help"], capsys)
    assert code == 0
    tail = out[out.index("Examples:"):]
    for line in EXAMPLES[command]:
        assert f"    {line}\n" in tail  # one line each, not rewrapped


RUNNABLE = [(c, line) for c, lines in sorted(EXAMPLES.items()) for line in lines
            if line not in NOT_RUN]


@pytest.mark.parametrize(("command", "line"), RUNNABLE)
def test_example_runs(command, line, tmp_path, monkeypatch, capsys):
    """In a scratch folder (examples write files); the bundled data path is the repo's."""
    assert all(line in {x for v in EXAMPLES.values() for x in v} for line in NOT_RUN)
    monkeypatch.chdir(tmp_path)
    if command == "plot savings":  # its first line makes the CSV the second reads
        first = EXAMPLES[command][0]
        code, out, err = run(shlex.split(first.split(" > ")[0])[1:], capsys)
        assert code == 0, err
        (tmp_path / "s.csv").write_text(out)
    text = line.replace("costmodel/calibration/", f"{ROOT}/costmodel/calibration/")
    args, _, redirect = text.partition(" > ")
    code, out, err = run(shlex.split(args)[1:], capsys)
    assert code == 0, f"{line}: {err}"
    assert out or "wrote" in err


GROUPS = sorted({c.split()[0] for c in EXAMPLES if " " in c})


def test_the_groups_are_the_commands_with_subcommands():
    groups = [n for n, c in typer.main.get_command(app).commands.items()  # type: ignore[attr-defined]
              if hasattr(c, "commands")]
    assert sorted(groups) == GROUPS == ["engines", "hardware", "models", "plot"]


@pytest.mark.parametrize("group", GROUPS)
def test_group_help_ends_with_an_example_of_each_command(group, capsys):
    code, out, _ = run([group, "--help"], capsys)
    assert code == 0
    tail = out[out.index("Examples:"):]
    subs = [c for c in EXAMPLES if c.startswith(f"{group} ")]
    for sub in subs:  # the first example that runs the subcommand itself, one line
        line = next(x for x in EXAMPLES[sub] if f"{x} ".startswith(f"costmodel {sub} "))
        assert f"    {line}\n" in tail


@pytest.mark.parametrize("command", ["estimate", "sweep", "compare", "compare-compression"])
def test_fixed_choice_options_show_their_choices(command, capsys):
    """--overlap, --logits and --convention take one of a fixed set: the help shows it, as it
    shows an enum's (--dtype <fp32|...>), not <str>."""
    code, out, _ = run([command, "--help"], capsys)
    assert code == 0
    for shown in ("--overlap <roofline|serial>", "--logits <last|all>",
                  "--convention <costmodel|llm-viewer>"):
        assert shown in out
    assert "--overlap <str>" not in out and "--convention <str>" not in out
