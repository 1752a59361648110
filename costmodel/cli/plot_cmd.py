"""`costmodel plot roofline|breakdown|sweep|savings ... -o file.png|svg|pdf`.

The estimate options are reused from `costmodel estimate` (same names, defaults and help) by
copying that command's signature; matplotlib is imported only inside these commands. The
figure is written through cli/output.py (a temporary file beside the target, renamed into
place), so an error never leaves a half-written file.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import typer

from costmodel.analysis.estimate import Estimate
from costmodel.analysis.estimate import estimate as run_estimate
from costmodel.analysis.refusals import refuse_unused
from costmodel.cli import captions, estimate_cmd, feedback
from costmodel.cli.examples import epilog
from costmodel.cli.options import QUIET, workload_from_values
from costmodel.cli.output import FIGURES, check_output, write_atomic
from costmodel.cli.parsing import id_list, parse_grid
from costmodel.errors import CostmodelError
from costmodel.loading.load import load_hardware, load_model
from costmodel.specs.hardware import HardwareProfile
from costmodel.specs.workload import MAX_FRAMES
from costmodel.units import count

plot_app = typer.Typer(no_args_is_help=True,
                       help="Figures (PNG, SVG or PDF, from the -o suffix); needs matplotlib.")

OUTPUT = typer.Option(..., "--output", "-o", "--plot",
                      help="Figure to write: .png, .svg or .pdf (--plot: the same).")
DEFAULT_TOKENS = "0:2880:64"  # plot sweep's visual-token axis when no axis is given
SWEEP_COLUMNS = ("model", "hardware", "batch", "visual_tokens", "text_tokens", "output_tokens")


def plots() -> Any:
    """costmodel.plots, imported only by the plot commands (it needs matplotlib)."""
    try:
        import costmodel.plots as module
    except ImportError as e:
        raise CostmodelError(f"plot: {e.name or 'matplotlib'} is not installed; "
                             "pip install 'costmodel[plot]'") from None
    return module


def output_format(path: Path, option: str = "--output") -> str:
    """The figure format from the file suffix; the path is checked (writable folder, not a
    directory) before any work is done."""
    check_output(path, option, FIGURES)
    return path.suffix.lower().lstrip(".")


def save(fig: Any, path: Path, option: str = "--output") -> None:
    """Write the figure atomically (cli/output.py: temp file beside it, then renamed), its
    title in the file's metadata (PNG text chunk, SVG <dc:title>, PDF /Title), and say so."""
    fmt = path.suffix.lower().lstrip(".")
    meta = {"Title": plots().figure_title(fig)}
    write_atomic(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=150, metadata=meta), option)


def with_estimate_options(drop: tuple[str, ...] = (), replace: dict[str, Any] | None = None
                          ) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command the options of `costmodel estimate` (less fmt/per_op and `drop`; `replace`
    maps a name to (annotation, typer option)), followed by the command's own parameters."""
    base = inspect.signature(estimate_cmd.estimate, eval_str=True).parameters.values()
    replace = replace or {}

    def wrap(func: Callable[..., None]) -> Callable[..., None]:
        own = list(inspect.signature(func, eval_str=True).parameters.values())
        params = []
        for p in base:
            if p.name in ("fmt", "per_op", *drop):
                continue
            if p.name in replace:
                ann, default = replace[p.name]
                p = p.replace(annotation=ann, default=default)
            params.append(p)
        params += [p for p in own if p.kind is p.KEYWORD_ONLY]
        func.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        func.__annotations__ = {p.name: p.annotation for p in params}
        return func

    return wrap


def workload(kw: dict[str, Any], **override: Any) -> Any:
    """The Workload `costmodel estimate` builds from the same options (the plot commands copy
    its signature), the compression options (--keep, --at, ...) made into its compression as
    estimate does."""
    from costmodel.cli.compression_options import compression_from_values

    return workload_from_values(kw, compression=compression_from_values(kw), **override)


def _one(kw: dict[str, Any]) -> Estimate:
    out = Path(kw["output"])
    output_format(out)
    w = workload(kw)
    spec = load_model(kw["model"])
    refuse_unused(spec, w)
    return run_estimate(spec, _hardware(kw["hardware"], kw), w)


def _hardware(name: str, kw: dict[str, Any]) -> HardwareProfile:
    """The profile with the estimate command's what-if `--set KEY=VALUE` changes applied."""
    return load_hardware(name, tuple(kw.get("sets") or ()))


@plot_app.command("roofline", epilog=epilog("plot roofline"))
@with_estimate_options()
def roofline(*, output: Path = OUTPUT, quiet: bool = QUIET, **kw: Any) -> None:
    """Each operator at its arithmetic intensity and achieved FLOP/s under the device roof."""
    feedback.also_quiet(quiet)
    est = _one({**kw, "output": output})
    save(plots().roofline_figure(est.to_frame(), est.hardware, est.workload.act_dtype,
                                 captions.estimate_caption("Roofline", est)), output)


@plot_app.command("breakdown", epilog=epilog("plot breakdown"))
@with_estimate_options()
def breakdown(*, output: Path = OUTPUT, quiet: bool = QUIET, **kw: Any) -> None:
    """Latency, FLOPs and memory traffic per stage, stacked by operator class (log scale)."""
    feedback.also_quiet(quiet)
    est = _one({**kw, "output": output})
    save(plots().breakdown_figure(est.to_frame(), captions.estimate_caption("Breakdown", est)),
         output)


def sweep_axis(visual_tokens: str | None, video_frames: str | None, image_size: str | None,
               ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The token axis of `sweep` and `plot sweep`: visual tokens, or video frames (then
    --image-size is the frame size)."""
    if (visual_tokens is None) == (video_frames is None):
        raise CostmodelError("--visual-tokens: give the token axis as --visual-tokens or "
                             "--video-frames (one of them)")
    if video_frames is None:
        if image_size is not None:
            raise CostmodelError("--image-size: a sweep over --visual-tokens gives the tokens; "
                                 "--image-size is the frame size of --video-frames")
        return parse_grid(str(visual_tokens), "--visual-tokens"), None
    return None, parse_grid(video_frames, "--video-frames", minimum=1, maximum=MAX_FRAMES)


@plot_app.command("sweep", epilog=epilog("plot sweep"))
@with_estimate_options(drop=("video_fps", "video_seconds"), replace={
    "model": (str, typer.Argument(..., help="Zoo id or config.json path; several: a,b.")),
    "hardware": (str, typer.Option(..., "--hardware", "-H",
                                   help="Hardware ids or YAML paths, comma-separated.")),
    "visual_tokens": (str | None, typer.Option(
        None, help=f"Visual tokens START:STOP:STEP (default {DEFAULT_TOKENS}; or --video-frames).")),
    "video_frames": (str | None, typer.Option(
        None, "--video-frames", help="Video frames axis instead of --visual-tokens, e.g. 8,16,32.")),
    "image_size": (str | None, typer.Option(None, help="Frame WIDTHxHEIGHT with --video-frames.")),
})
def sweep(*, output: Path = OUTPUT, quiet: bool = QUIET, **kw: Any) -> None:
    """TTFT, TPOT, FLOPs and memory against visual tokens, one line per hardware."""
    feedback.also_quiet(quiet)
    output_format(output)
    from costmodel.analysis.sweep import sweep as run_sweep

    frames_text = kw["video_frames"]
    tokens_text = kw["visual_tokens"] or (None if frames_text else DEFAULT_TOKENS)
    tokens, frames = sweep_axis(tokens_text, frames_text, kw["image_size"])
    specs = [load_model(m) for m in id_list(kw["model"], "MODEL")]
    hws = [_hardware(h, kw) for h in id_list(kw["hardware"], "--hardware")]
    first = None if frames is None else int(frames[0])  # a video axis: a video (as sweep)
    w = workload(kw, visual_tokens=None, video_frames=first)
    # vectorised (costmodel/sweep.py)
    df = run_sweep(specs, hws, tokens, [w.batch], w, video_frames=frames)
    save(plots().sweep_figure(df, {h.id: h.memory_bytes for h in hws},
                              sweep_caption(df, hws, w, w.batch, specs)), output)


# A sweep's visual-input columns as its title words them (x axis: 1-8 images of 448x448;
# 2, 4 s at 2 fps -> 4, 8 frames of 448x448, 640x480).
INPUT_WORDS = {"images": "{} images", "video_seconds": "{} s", "video_fps": "at {} fps",
               "video_frames": "-> {} frames", "image_size": "of {}"}


def sweep_caption(df: Any, hws: list[HardwareProfile], w: Any, batch: object,
                  specs: list[Any]) -> str:
    """Title of a sweep figure: models and devices listed, visual tokens the x axis (and the
    images, sizes, seconds, fps or frames that give them), the dtypes as each model prices
    them (captions.priced_dtypes)."""
    devices = ", ".join(captions.device_text(h) for h in hws) if len(hws) <= 2 else (
        captions.listed([h.id for h in hws]))
    visual = captions.listed(df["visual_tokens"].unique().tolist(), most=1)
    inputs = " ".join(words.format(captions.listed(df[c].unique().tolist()))
                      for c, words in INPUT_WORDS.items() if c in df.columns).removeprefix("-> ")
    if inputs.startswith("1 images"):  # one image per request at several sizes
        inputs = "1 image" + inputs.removeprefix("1 images")
    axis = f"x axis: {inputs}" if inputs else "x axis"
    return captions.caption("Sweep", captions.listed(df["model"].unique()), devices,
                            engine=str(df["engine"].iloc[0]),
                            **{**captions.workload_fields(w, f"{visual} ({axis})", batch),
                               "dtypes": captions.priced_dtypes(specs, w)})


@plot_app.command("savings", epilog=epilog("plot savings"))
def savings(
    source: Path = typer.Option(..., "--from", help="CSV from compare-compression --format csv."),
    output: Path = OUTPUT,
    title: str | None = typer.Option(None, help="What the figure shows (its first words; "
                                     "model, device and workload follow from the CSV)."),
    quiet: bool = QUIET,
) -> None:
    """Savings of a compression scenario per stage and metric (bars, % of baseline)."""
    feedback.also_quiet(quiet)
    import pandas as pd

    output_format(output)
    try:
        df = pd.read_csv(source)
    except (OSError, ValueError) as e:
        raise CostmodelError(f"--from: cannot read '{source}' as CSV ({e}); check the path"
                             ) from None
    if df.empty:
        raise CostmodelError(f"--from: '{source}' has a header but no rows; give the output "
                             "of compare-compression --format csv")
    save(plots().savings_figure(df, savings_caption(df, source, title)), output)


def savings_caption(df: Any, source: Path, title: str | None) -> str:
    """The figure's title from the context columns compare-compression writes (model,
    hardware, device, compression, tokens, batch, dtype, engine); `--title` names the kind."""
    kind = title or "Savings"
    need = ("model", "hardware", "compression", "visual_tokens", "text_tokens",
            "output_tokens", "batch", "dtype", "engine")
    if any(c not in df.columns for c in need):
        return f"{kind}: from {source.name} (no model, device or workload columns in it)"
    r = df.iloc[0]
    device = f"{r['device']} ({r['hardware']})" if "device" in df.columns else r["hardware"]
    return captions.caption(kind, str(r["model"]), device, visual=count(r['visual_tokens']),
                            text=r["text_tokens"], output=r["output_tokens"], batch=r["batch"],
                            dtypes=str(r["dtype"]), engine=str(r["engine"]),
                            compression=str(r["compression"]))
