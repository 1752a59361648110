"""`costmodel plot roofline|breakdown|savings ... -o file.png|svg|pdf` (`plot sweep`:
costmodel/cli/plot_sweep_cmd.py, on the options and prepare step of `costmodel sweep`).

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

import typer

from costmodel.analysis.estimate import Estimate
from costmodel.analysis.estimate import estimate as run_estimate
from costmodel.analysis.refusals import refuse_unused
from costmodel.cli import captions, estimate_cmd, feedback
from costmodel.cli.examples import epilog
from costmodel.cli.options import QUIET, workload_from_values
from costmodel.cli.output import FIGURES, check_output, write_atomic
from costmodel.errors import CostmodelError
from costmodel.loading.load import load_hardware, load_model
from costmodel.specs.hardware import HardwareProfile
from costmodel.units import count

plot_app = typer.Typer(no_args_is_help=True,
                       help="Figures (PNG, SVG or PDF, from the -o suffix); needs matplotlib.")

OUTPUT = typer.Option(..., "--output", "-o", "--plot",
                      help="Figure to write: .png, .svg or .pdf (--plot: the same).")


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
    return with_options_of(estimate_cmd.estimate, ("fmt", "per_op", *drop), replace)


def with_options_of(command: Callable[..., None], drop: tuple[str, ...] = (),
                    replace: dict[str, Any] | None = None
                    ) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command the options of `command` (less `drop`; `replace` maps a name to
    (annotation, typer option)), followed by the command's own keyword-only parameters: the
    same names, defaults and help, so the two cannot drift apart."""
    base = inspect.signature(command, eval_str=True).parameters.values()
    replace = replace or {}

    def wrap(func: Callable[..., None]) -> Callable[..., None]:
        own = list(inspect.signature(func, eval_str=True).parameters.values())
        params = []
        for p in base:
            if p.name in drop:
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

    from costmodel.calibration.csvfile import exact_floats

    output_format(output)
    try:
        df = pd.read_csv(source, **exact_floats())
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
