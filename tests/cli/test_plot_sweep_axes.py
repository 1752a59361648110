"""`costmodel plot sweep` takes `costmodel sweep`'s axes (--visual-tokens, --images,
--image-size, --video-frames, --seconds x --fps, --batch) through the same prepare step
(cli/sweep_run.py): every point drawn, read from the figure's lines (not its pixels), is a row
`costmodel sweep -f csv` prints for the same options, and every row is drawn; the x axis and
title say what was swept; bad input is sweep's one line, exit 2, nothing written; neither
`sweep` nor `estimate` imports matplotlib."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from tests.helpers import SWEEP_PANELS, drawn_sweep_points, printed_sweep_points, run  # noqa: E402

Q, L = "qwen2-vl-2b", "llava-1.5-7b"
# options -> (the x column, the x axis label, words of the title)
COMBOS = {
    "tokens-batch-devices": (
        [L, "-H", "a100-80gb,l4", "--visual-tokens", "0:576:192", "--batch", "1,8",
         "--kv-dtype", "int8"],
        "visual_tokens", "visual tokens per request", "0-576 (x axis) visual"),
    "images-sizes-models": (
        [f"{Q},qwen2.5-vl-3b", "-H", "a100-80gb", "--images", "1,2,4", "--image-size",
         "448x448,896x896"],
        "images", "images per request, a line per image size",
        "(x axis: 1, 2, 4 images of 448x448, 896x896)"),
    "sizes": (
        [Q, "-H", "h100-sxm", "--image-size", "896x896,448x448,640x480", "--engine", "vllm"],
        "image_size", "image size, WIDTHxHEIGHT (1 image per request)",
        "(x axis: 1 image of"),
    "frames-sizes-devices": (
        [Q, "-H", "a100-80gb,h100-sxm", "--video-frames", "4,8,16", "--image-size",
         "448x448,640x480"],
        "video_frames", "video frames per request, a line per frame size",
        "(x axis: 4, 8, 16 frames of 448x448, 640x480)"),
    "seconds-fps": (
        [Q, "-H", "a100-80gb", "--seconds", "1,2,4,8", "--fps", "1,2", "--image-size",
         "448x448"],
        "video_seconds", "video seconds, frames sampled at each line's fps",
        "(x axis: 1, 2, 4, 8 s at 1, 2 fps -> 4, 8, 16 frames)"),
    "fps": (
        [Q, "-H", "l4", "--seconds", "8", "--fps", "0.5,1,2", "--batch", "2"],
        "video_fps", "video frames per second sampled from 8 s", "8 s at 0.5, 1, 2 fps"),
}
@pytest.mark.parametrize("combo", list(COMBOS))
def test_plot_sweep_draws_what_sweep_prints(combo, tmp_path, capsys, monkeypatch):
    from costmodel.cli import sweep_run
    from costmodel.plots import figure_title

    opts, x, label, title = COMBOS[combo]
    code, csv_text, err = run(["sweep", *opts, "-f", "csv"], capsys)
    assert code == 0, err
    rows = pd.read_csv(io.StringIO(csv_text))
    seen = []
    monkeypatch.setattr(sweep_run, "save", lambda fig, *a: seen.append(fig))
    code, out, err = run(["plot", "sweep", *opts, "-o", str(tmp_path / "s.png")], capsys)
    assert code == 0 and out == "", err
    (fig,) = seen
    drawn, printed = drawn_sweep_points(fig), printed_sweep_points(rows, x)
    for col, d, p in zip(SWEEP_PANELS, drawn, printed, strict=True):
        assert d == p, (combo, col, sorted(d ^ p, key=str)[:4])
    ttft = [ln for ln in fig.axes[0].get_lines() if not ln.get_label().startswith("_")]
    lines = rows.drop_duplicates(["model", "hardware", "batch", *(
        c for c in ("image_size", "video_fps") if c in rows and c != x)])
    assert len(ttft) == len(lines)  # a line per model, device, batch, size or fps
    assert all(np.all(np.diff(ln.get_xdata()) > 0) for ln in ttft)
    assert {ax.get_xlabel() for ax in fig.axes[2:]} == {label}
    assert title in figure_title(fig)


def test_with_no_axis_option_plot_sweep_draws_the_default_token_grid(tmp_path, capsys,
                                                                     monkeypatch):
    """`sweep` asks for an axis; `plot sweep` draws --visual-tokens 0:2880:64 (as before)."""
    from costmodel.cli import sweep_run

    seen = []
    monkeypatch.setattr(sweep_run, "save", lambda fig, *a: seen.append(fig))
    code, _, err = run(["plot", "sweep", L, "-H", "a100-80gb", "-o", str(tmp_path / "s.png")],
                       capsys)
    assert code == 0, err
    np.testing.assert_array_equal(seen[0].axes[0].get_lines()[0].get_xdata(),
                                  np.arange(0, 2881, 64))
    code, _, err = run(["sweep", L, "-H", "a100-80gb"], capsys)
    assert code == 2 and "a sweep needs an axis" in err


def test_plot_sweep_has_the_options_of_sweep():
    import typer

    from costmodel.cli import app

    cmd = typer.main.get_command(app)
    sweep, plot = cmd.commands["sweep"], cmd.commands["plot"].commands["sweep"]
    names = {c: {o for p in c.params for o in p.opts} for c in (sweep, plot)}
    assert names[sweep] - names[plot] == {"--format", "-f"}  # --plot: -o here
    assert names[plot] - names[sweep] == {"--output", "-o"}


BAD = [  # options shared with sweep: sweep's line (the option and the fix)
    [Q, "--fps", "2"],
    [Q, "--seconds", "4,8"],
    [Q, "--seconds", "-1", "--fps", "1"],
    [Q, "--seconds", "4", "--fps", "1", "--video-frames", "8"],
    [Q, "--video-frames", "4", "--fps", "1"],
    [Q, "--images", "2", "--video-frames", "4"],
    [Q, "--visual-tokens", "0:576:64", "--images", "1,2"],
    [Q, "--visual-tokens", "0:576:64", "--image-size", "448x448"],
    [Q, "--image-size", "448"],
    [Q, "--images", "1,2", "--batch", "0"],
    [Q, "--images", "0:100000:1"],
    [L, "--image-size", "448x448,896x896"],
    ["llama-2-7b", "--images", "1,2"],
    [Q, "--video-frames", "4,8", "--set", "hbm=1"],
]


@pytest.mark.parametrize("args", BAD, ids=lambda a: " ".join(a[1:]))
def test_bad_input_is_sweeps_line_exit_2_nothing_written(args, tmp_path, capsys):
    opts = [args[0], "-H", "a100-80gb", *args[1:]]
    code, _, want = run(["sweep", *opts], capsys)
    assert code == 2 and want.startswith("error: ") and want.count("\n") == 1
    code, out, err = run(["plot", "sweep", *opts, "-o", str(tmp_path / "s.png")], capsys)
    assert (code, out, err) == (2, "", want)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [
    ["estimate", L, "-H", "a100-80gb"],
    ["sweep", Q, "-H", "a100-80gb", "--images", "1,2", "--image-size", "448x448,896x896"],
    ["sweep", Q, "-H", "a100-80gb", "--seconds", "2,4", "--fps", "1,2", "-f", "csv"],
])
def test_estimate_and_sweep_import_no_matplotlib(args):
    code = ("import sys\nfrom costmodel.cli import main\n"
            f"try:\n    main({args!r})\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
