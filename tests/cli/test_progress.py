"""Long work shows progress (issue 14): calibrate, profile and sweeps over
feedback.PROGRESS_POINTS points draw a rich bar on stderr when stderr is a terminal; nothing
extra when it is not (typer's CliRunner) or with --quiet. COSTMODEL_PROGRESS=1 forces the bar
(the terminal test), COSTMODEL_PROGRESS=0 turns it off."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from costmodel.analysis import sweep as sweep_mod
from costmodel.cli import app, feedback
from costmodel.errors import CostmodelError
from costmodel.loading.load import load_hardware, load_model

SWEEP = ["sweep", "llava-1.5-7b", "-H", "a100-80gb,l4", "--visual-tokens", "0:576:64",
         "--batch", "1,2", "-f", "csv"]  # 2 x 10 x 2 = 40 points


@pytest.fixture
def small(monkeypatch):
    """A 'large' sweep is anything over 10 points here; chunks of 7 points."""
    monkeypatch.setattr(feedback, "PROGRESS_POINTS", 10)
    monkeypatch.setattr(sweep_mod, "CHUNK", 7)
    monkeypatch.delenv("COSTMODEL_PROGRESS", raising=False)


def invoke(args: list[str], env: dict[str, str] | None = None):
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    return result


def test_sweep_no_bar_when_not_a_terminal(small):
    result = invoke(SWEEP)
    assert result.stderr == ""
    assert result.stdout.startswith("model,hardware,")


def test_sweep_bar_when_forced_and_same_stdout(small):
    plain = invoke(SWEEP).stdout
    result = invoke(SWEEP, {"COSTMODEL_PROGRESS": "1"})
    assert "sweep: 40 points" in result.stderr and "40/40" in result.stderr
    assert result.stdout == plain
    assert invoke(SWEEP + ["--quiet"], {"COSTMODEL_PROGRESS": "1"}).stderr == ""
    assert invoke(["--quiet", *SWEEP], {"COSTMODEL_PROGRESS": "1"}).stderr == ""


def test_small_sweep_never_draws(monkeypatch):
    monkeypatch.delenv("COSTMODEL_PROGRESS", raising=False)
    assert invoke(SWEEP, {"COSTMODEL_PROGRESS": "1"}).stderr == ""  # 40 points < 1M


def test_chunked_sweep_gives_the_same_frame(monkeypatch):
    specs = [load_model("llava-1.5-7b"), load_model("qwen2-vl-2b")]
    hws = [load_hardware("a100-80gb"), load_hardware("l4")]
    seen: list[tuple[int, int]] = []
    whole = sweep_mod.sweep(specs, hws, np.arange(0, 640, 64), [1, 8])  # in one go
    monkeypatch.setattr(sweep_mod, "CHUNK", 7)
    # over CHUNK points a sweep is chunked with or without progress (in one go a 1M-point
    # sweep passed 23 GB and was killed)
    pd.testing.assert_frame_equal(whole, sweep_mod.sweep(specs, hws, np.arange(0, 640, 64),
                                                         [1, 8]))
    parts = sweep_mod.sweep(specs, hws, np.arange(0, 640, 64), [1, 8],
                            progress=lambda d, n: seen.append((d, n)))
    pd.testing.assert_frame_equal(whole, parts)
    assert seen[-1] == (80, 80) and len(seen) == 2 * 2 * 3  # models x devices x chunks
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_devices_are_evaluated_together_while_their_points_fit(monkeypatch):
    """20 points a device and CHUNK 45: devices in groups of 2 (then 1), the frame as in one
    evaluation of every device; a progress call per group."""
    spec = load_model("llava-1.5-7b")
    hws = [load_hardware(h) for h in ("a100-80gb", "l4", "h100-sxm")]
    whole = sweep_mod.sweep(spec, hws, np.arange(0, 640, 64), [1, 8])
    monkeypatch.setattr(sweep_mod, "CHUNK", 45)
    seen: list[tuple[int, int]] = []
    parts = sweep_mod.sweep(spec, hws, np.arange(0, 640, 64), [1, 8],
                            progress=lambda d, n: seen.append((d, n)))
    pd.testing.assert_frame_equal(whole, parts)
    assert seen == [(40, 60), (60, 60)]


def test_profile_bar(monkeypatch, tmp_path):
    pytest.importorskip("torch")
    args = ["profile", "--tiny", "--visual-tokens", "4,8", "--repeats", "1", "--warmup", "0",
            "--no-cuda-graphs", "-o", str(tmp_path / "p.csv"), "-f", "csv"]
    assert invoke(args).stderr == f"wrote {tmp_path / 'p.csv'}\n"
    forced = invoke(args, {"COSTMODEL_PROGRESS": "1"})
    assert "profile: points" in forced.stderr and "2/2" in forced.stderr


def test_calibrate_bar(monkeypatch, tmp_path):
    from costmodel.calibration import microbench

    def fake_run(device, mode, threads=None, progress=None):
        for i in range(4):
            if progress is not None:
                progress(i + 1, 4, f"group {i + 1}")
        raise CostmodelError("calibrate: stopped by the test")

    monkeypatch.setattr(microbench, "run", fake_run)
    args = ["calibrate", "--device", "cpu", "-o", str(tmp_path / "c.yaml")]
    quiet = CliRunner().invoke(app, args)
    assert isinstance(quiet.exception, CostmodelError) and quiet.stderr == ""
    drawn = CliRunner().invoke(app, args, env={"COSTMODEL_PROGRESS": "1"})
    assert "calibrate: group 4" in drawn.stderr and "4/4" in drawn.stderr
    assert not (tmp_path / "c.yaml").exists()


def test_chunked_sweep_warns_once_as_in_one_go(monkeypatch):
    """Chunked, a sweep past the model's context printed one 'warning:' line a chunk (20 for a
    1M-point sweep), each with its chunk's longest sequence; now the one line of one go."""
    import warnings

    from costmodel.errors import ContextWarning

    hws = [load_hardware("a100-80gb"), load_hardware("l4")]
    grid = np.arange(0, 8000, 500)  # llava-1.5-7b: 4096 positions

    def context_lines() -> list[str]:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            sweep_mod.sweep("llava-1.5-7b", hws, grid, [1, 2])
        return [str(w.message) for w in seen if w.category is ContextWarning]

    whole = context_lines()
    monkeypatch.setattr(sweep_mod, "CHUNK", 5)
    assert len(whole) == 1 and "a sequence of 7691 positions" in whole[0]
    assert context_lines() == whole
