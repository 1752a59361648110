"""docs/plots.md's readings: the roofline figure's quoted figures are what the estimate gives
(the plot draws `to_frame()`'s operators with FLOPs; its box shares are of their sum); the
plot sweep examples draw what `costmodel sweep` prints, with the labels and titles quoted."""

from __future__ import annotations

import io
import re
import shlex

import pandas as pd
import pytest

import costmodel
from tests.helpers import DOCS, drawn_sweep_points, printed_sweep_points, run


def test_roofline_reading_figures():
    text = " ".join((DOCS / "plots.md").read_text().split())
    shares = {}
    for engine in ("ideal", "hf-eager"):
        est = costmodel.estimate("llava-1.5-7b", "a100-80gb", engine=engine)
        ops = est.to_frame()
        plotted = ops[ops["flops"] > 0]
        mlp = ops[(ops["stage"] == "decode")
                  & ops["op"].str.fullmatch(r"llm/L0-31/mlp/(?:gate|up|down)")]
        assert len(mlp) == 3
        shares[engine] = (mlp["latency_s"] / est.e2e_latency_s,
                          mlp["latency_s"] / plotted["latency_s"].sum(), plotted, est)
    request, _, plotted, est = shares["ideal"]
    (each,) = {f"{100 * s:.1f}%" for s in request}  # the three alike
    assert f"take {each} of the request latency each" in text
    lin = plotted[(plotted["op_class"] == "linear") & (plotted["stage"] != "decode")]
    ai = lin["flops"] / lin["bytes"]
    assert f"at {ai.min():.0f}-{ai.max():.0f} FLOP/byte on the flat roof" in text
    _, box, plotted, est = shares["hf-eager"]
    (each,) = {f"{100 * s:.0f}%" for s in box}
    assert f"the box says {each} each" in text
    assert (f"{plotted['latency_s'].sum():.2f} of hf-eager's {est.e2e_latency_s:.2f} s are "
            "plotted") in text


def _plot_sweep_commands() -> list[list[str]]:
    """The `costmodel plot sweep` lines of docs/plots.md's bash blocks, as arguments."""
    blocks = re.findall(r"```bash\n(.*?)```", (DOCS / "plots.md").read_text(), re.S)
    lines = [ln for b in blocks for ln in b.replace("\\\n", " ").splitlines()]
    return [shlex.split(ln)[1:] for ln in lines if ln.startswith("costmodel plot sweep ")]


def _sweep_options(args: list[str]) -> list[str]:
    """A plot sweep command's options less its -o FILE: what `costmodel sweep` takes."""
    i = args.index("-o")
    return args[2:i] + args[i + 2:]


def test_plot_sweep_examples_draw_what_sweep_prints(tmp_path, capsys, monkeypatch):
    """The doc's plot sweep commands, run: every point drawn is a row `costmodel sweep -f csv`
    prints for the same options, and the labels, titles and the reading it quotes are the
    figure's."""
    pytest.importorskip("matplotlib")
    from costmodel.cli import sweep_run
    from costmodel.plots import figure_title

    text = " ".join((DOCS / "plots.md").read_text().split())
    monkeypatch.chdir(tmp_path)
    figs = []
    monkeypatch.setattr(sweep_run, "save", lambda fig, *a: figs.append(fig))
    commands = _plot_sweep_commands()
    assert [next(a for a in c if a in ("--images", "--seconds")) for c in commands] == [
        "--images", "--seconds"]
    for args, x in zip(commands, ("images", "video_seconds"), strict=True):
        code, _, err = run(args, capsys)
        assert code == 0, err
        code, csv_text, err = run(["sweep", *_sweep_options(args), "-f", "csv"], capsys)
        assert code == 0, err
        rows = pd.read_csv(io.StringIO(csv_text))
        fig = figs[-1]
        assert drawn_sweep_points(fig) == printed_sweep_points(rows, x)
        label = fig.axes[2].get_xlabel()
        title = figure_title(fig).split(" | ")[1].split(" visual")[0] + " visual"
        lines = [ln.get_label() for ln in fig.axes[0].get_lines()]
        assert f"`{label}`" in text and f"titled `{title}`" in text
        assert all(f"`{n}`" in text for n in (lines[0], lines[-1])), lines
    last = rows[(rows.video_seconds == 32) & (rows.video_fps == 2)].iloc[0]
    reading = (f"32 s at 2 fps, is {last.video_frames} frames, {last.visual_tokens} visual "
               f"tokens and a TTFT of {last.ttft_s * 1e3:.0f} ms")
    assert reading in text


@pytest.mark.figures
def test_plot_sweep_examples_write_their_files(tmp_path, capsys, monkeypatch):
    """The same commands, rendering: each writes its PNG, its title in the file."""
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    for args in _plot_sweep_commands():
        code, _, err = run(args, capsys)
        assert code == 0, err
        out = tmp_path / args[args.index("-o") + 1]
        assert err == f"wrote {out.name}\n"
        assert Image.open(out).info["Title"].startswith("Sweep: qwen2-vl-7b on")
