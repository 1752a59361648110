"""`costmodel plot sweep`: the figure of `costmodel sweep --plot`, on its own.

The options are `costmodel sweep`'s (its signature copied: the same axes --visual-tokens,
--images, --image-size, --video-frames, --seconds, --fps and --batch, the same names, defaults
and help), less --format and --plot, and the points come from the same prepare step
(cli/sweep_run.py), so each plotted point is a row `costmodel sweep` prints for the same
options, and bad input gets its line. One difference: with no axis option at all the axis is
--visual-tokens DEFAULT_TOKENS (`sweep` asks for one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from costmodel.cli import feedback, sweep_cmd
from costmodel.cli.examples import epilog
from costmodel.cli.options import QUIET
from costmodel.cli.plot_cmd import OUTPUT, output_format, plot_app, with_options_of
from costmodel.cli.sweep_run import AXIS_VALUES, draw, run_sweep

DEFAULT_TOKENS = "0:2880:64"  # the visual-token axis when no axis option is given


@plot_app.command("sweep", epilog=epilog("plot sweep"))
@with_options_of(sweep_cmd.sweep, drop=("fmt", "plot", "quiet"), replace={
    "visual_tokens": (str | None, typer.Option(
        None, help="Visual tokens axis: start:stop[:step] (step 1 by default) and/or list, "
        "e.g. 0:2880:64 (the "
        f"default, {DEFAULT_TOKENS}, when no axis option is given).")),
})
def sweep(*, output: Path = OUTPUT, quiet: bool = QUIET, **kw: Any) -> None:
    """TTFT, TPOT, FLOPs and memory against the swept input (visual tokens, images per
    request, image size, video frames or seconds), a line per device, size, fps, batch."""
    feedback.also_quiet(quiet)
    output_format(output)  # a bad path fails before any work
    if all(kw[k] is None for k in AXIS_VALUES):
        kw = {**kw, "visual_tokens": DEFAULT_TOKENS}
    draw(run_sweep(kw), output, "--output")
