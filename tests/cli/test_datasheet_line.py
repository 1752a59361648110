"""estimate's header says when the device has datasheet figures only: on an engine that runs
measured kernels its 'expected' latency is then the bound plus the engine's host costs, and
nothing else in the table tells a user so (a bundled device's kernels run below its peaks)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from costmodel.cli import app

MY_GPU = str(Path(__file__).parents[1] / "data" / "my-gpu.yaml")
LINE = "has datasheet figures only (no kernel figures)"


def _out(*args: str) -> str:
    r = CliRunner().invoke(app, ["estimate", "llava-1.5-7b", *args])
    assert r.exit_code == 0, r.output
    return r.output


def test_a_datasheet_profile_on_a_measured_engine_says_so():
    out = _out("-H", MY_GPU, "--engine", "vllm")
    assert f"{LINE}: 'expected' is the bound plus vllm's host costs" in out


def test_no_line_on_the_ideal_engine_or_a_device_with_kernel_figures():
    assert LINE not in _out("-H", MY_GPU, "--engine", "ideal")
    assert LINE not in _out("-H", "a100-80gb")
    assert LINE not in _out("-H", "l40s", "--engine", "vllm")  # derived figures: not bare
