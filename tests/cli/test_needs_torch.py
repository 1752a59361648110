"""Without torch (a plain `pip install costmodel`), the commands that run it refuse in one
line, exit 2, before any work and without writing their output; --from-vidur, which needs
no torch, still runs. torch's absence is simulated: importlib.util.find_spec sees none."""

from __future__ import annotations

import importlib.util

import pytest

from tests.helpers import run

VIDUR = "tests/data/vidur/a100_Llama-2-7b-hf_mlp.csv"


@pytest.fixture
def no_torch(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))


@pytest.mark.parametrize(("args", "command"), [
    (["profile", "--tiny", "-o", "p.csv"], "profile"),
    (["calibrate", "--device", "cpu", "--quick", "-o", "c.yaml"], "calibrate --device"),
])
def test_refused_in_one_line_without_torch(no_torch, tmp_path, capsys, args, command):
    out = tmp_path / args[-1]
    code, stdout, err = run([*args[:-1], str(out)], capsys)
    assert code == 2 and stdout == "" and not out.exists()
    assert err == (f"error: {command}: needs torch, which is not installed; pip install "
                   "torch==2.13.0 'costmodel[validate]' (pin torch: an unpinned one pulls GBs "
                   "of CUDA packages)\n")


def test_from_vidur_needs_no_torch(no_torch, tmp_path, capsys):
    out = tmp_path / "v.yaml"
    code, _, err = run(["calibrate", "--from-vidur", VIDUR, "--base", "a100-80gb", "-o",
                        str(out)], capsys)
    assert code == 0 and out.exists(), err
