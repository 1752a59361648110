"""Bugs found by fuzzing validate (--published, --kernels, --measurements), the catalog
commands (models / hardware / engines list and show) and the plot commands with malformed
files and options: each test is one reproducer (it failed before its fix)."""

from __future__ import annotations

import pytest

from tests.helpers import run


def _refused(args, capsys, start):
    """Exit 2, nothing on stdout, one stderr line starting with `start`."""
    code, out, err = run(args, capsys)
    assert code == 2 and out == "" and "Traceback" not in err, err
    assert err.count("\n") == 1 and err.startswith(start), err
    return err


@pytest.mark.figures
@pytest.mark.parametrize("kind", ["roofline", "breakdown", "sweep"])
@pytest.mark.parametrize("comp", [["--keep", "0.5"], ["--kv-keep", "0.5"],
                                  ["--keep", "0.25", "--method", "fastv"]])
def test_plot_commands_take_the_compression_options(kind, comp, tmp_path, capsys):
    """plot roofline / breakdown / sweep list estimate's --keep, --kv-keep, --method, ... but
    passed them to Workload as fields: 'error: keep: Extra inputs are not permitted'."""
    pytest.importorskip("matplotlib")
    out = tmp_path / "fig.png"
    code, _, err = run(["plot", kind, "llava-1.5-7b", "-H", "a100-80gb", *comp, "-o", str(out)],
                       capsys)
    assert code == 0, err
    assert out.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("args", [
    ["sweep", "llava-1.5-7b", "-H", "a100-80gb,a100-80gb", "--visual-tokens", "0:64:64"],
    ["sweep", "llava-1.5-7b", "-H", "a100-80gb,A100-80GB", "--visual-tokens", "0:64:64"],
    ["plot", "sweep", "llava-1.5-7b", "-H", "a100-80gb,a100-80gb", "-o", "{tmp}/s.png"]])
def test_sweep_refuses_a_device_given_twice(args, tmp_path, capsys):
    """A device listed twice in sweep / plot sweep -H raised pandas' 'Categorical categories
    must be unique' (a traceback) after the whole grid was evaluated."""
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    _refused(args, capsys, "error: hardware: a100-80gb appears twice in --hardware")
    assert not (tmp_path / "s.png").exists()
