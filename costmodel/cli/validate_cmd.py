"""`costmodel validate`: measured vs predicted, per point and per group (op / stage)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from typing import Any

import typer

from costmodel.cli import feedback
from costmodel.cli.options import QUIET
from costmodel.cli.output import Format, dumps, table
from costmodel.units import seconds


class Kind(str, Enum):
    vidur = "vidur"
    profile = "profile"


class Mode(str, Enum):
    eager = "eager"
    cuda_graph = "cuda_graph"
    engine = "engine"


# the options each kind of validation reads (the others are refused, not ignored)
USES = {"--published": ("--plot",),
        "--kernels": ("--hardware", "--per-row", "--held-out", "FILE"),
        "--measurements": ("--hardware", "--kind", "--execution", "--points", "--plot")}


def validate(
    measurements: Path | None = typer.Option(None, "--measurements", "-m",
                                             help="Vidur mlp.csv or `costmodel profile` CSV."),
    kernels: Path | None = typer.Option(
        None, "--kernels", help="Measured kernel table(s) in the aiconfigurator format (csv, "
        "csv.gz, parquet): --kernels FILE [FILE ...]."),
    more_kernels: list[Path] | None = typer.Argument(None, metavar="[FILE ...]",
                                                     help="Further --kernels files."),
    published: Path | None = typer.Option(
        None, "--published", help="Published end-to-end runs (CSV: id,model,hardware,engine,"
        "weight_dtype,act_dtype,kv_dtype,batch,visual_tokens,text_tokens,output_tokens,tp,"
        "metric,value,source); the bundled set is costmodel/calibration/data/published_runs.csv."),
    hardware: str | None = typer.Option(None, "--hardware", "-H",
                                        help="Hardware id or YAML path (--measurements, --kernels)."),
    kind: Kind | None = typer.Option(None, help="Measurement file kind (default: detect)."),
    execution: Mode = typer.Option(Mode.eager, help="Execution mode of the predictions "
                                   "(a profile CSV's `mode` column wins where it is one)."),
    points: bool = typer.Option(False, help="Table: list every point, not only the summary."),
    plot: Path | None = typer.Option(None, "--plot", help="Also draw predicted vs measured: "
                                     "out.png|svg|pdf."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table | json | csv"),
    per_row: bool = typer.Option(False, "--per-row", help="--kernels: every row as well."),
    held_out: bool = typer.Option(False, "--held-out", help="--kernels: only the rows the "
                                  "shipped kernel_efficiency was not fitted on."),
    quiet: bool = QUIET,
) -> None:
    """Compare measurements with the model's predictions for the same shapes."""
    feedback.also_quiet(quiet)
    from costmodel.errors import CostmodelError

    given = {"--hardware": hardware is not None, "--kind": kind is not None,
             "--execution": execution is not Mode.eager, "--points": points,
             "--plot": plot is not None, "--per-row": per_row, "--held-out": held_out,
             "FILE": bool(more_kernels)}
    _mode({"--published": published, "--kernels": kernels, "--measurements": measurements},
          given)
    if published is not None:
        from costmodel.cli import published_cmd

        published_cmd.run(published, fmt, plot)
        return
    if hardware is None:
        raise CostmodelError("--hardware: give the device (id or YAML path) the measurements "
                             "ran on")
    if kernels is not None:
        from costmodel.cli import kernels_cmd

        kernels_cmd.run([kernels, *(more_kernels or [])], hardware, fmt, per_row, held_out)
        return
    assert measurements is not None
    _measured(measurements, hardware, kind, execution, points, plot, fmt)


def _mode(files: dict[str, Path | None], given: dict[str, bool]) -> None:
    """The one kind of validation asked for; an option it does not read is refused (it was
    silently ignored: -H with --published, --plot with --kernels, --per-row with -m, ...)."""
    from costmodel.errors import CostmodelError

    asked = [m for m, f in files.items() if f is not None]
    if len(asked) != 1:
        raise CostmodelError("validate: give --published FILE, --measurements FILE or "
                             "--kernels FILE [FILE ...], one of them")
    unused = [o for o, on in given.items() if on and o not in USES[asked[0]]]
    if unused:
        goes = " or ".join(m for m, u in USES.items() if unused[0] in u)
        raise CostmodelError(f"{unused[0]}: validate {asked[0]} does not read it; drop it "
                             f"(it goes with {goes})")


def _measured(measurements: Path, hardware: str, kind: Kind | None, execution: Mode,
              points: bool, plot: Path | None, fmt: Format) -> None:
    """validate --measurements: join the file's points with the predictions and print them."""
    from costmodel.calibration import measured as v
    from costmodel.cli.plot_cmd import output_format, plots, save
    from costmodel.loading.load import load_hardware

    if plot is not None:
        output_format(plot, "--plot")  # a bad path fails before any work
    hw = load_hardware(hardware)
    k, err = v.join(measurements, kind.value if kind else None, hw, execution.value)
    summ = v.summarise(err)
    cols = ["group", "point", "measured_s", "predicted_s", "ape_pct"]
    if fmt == Format.csv:
        typer.echo(err[cols].to_csv(index=False).rstrip())
    elif fmt == Format.json:
        typer.echo(dumps({"measurements": str(measurements), "kind": k, "hardware": hw.id,
                          "execution": execution.value,
                          "summary": summ.to_dict(orient="records"),
                          "points": err[cols].to_dict(orient="records")}))
    else:
        typer.echo(f"{measurements.name} ({k}) vs {hw.id}, execution {execution.value}: "
                   f"{len(err)} points, median APE {err['ape_pct'].median():.1f}%, "
                   f"max {err['ape_pct'].max():.1f}%")
        _measured_tables(err, summ, points)
    if plot is not None:
        from costmodel.cli.captions import device_text, frame_caption

        title = frame_caption(f"Predicted vs measured ({measurements.name})", err,
                              device_text(hw), f"{execution.value} execution",
                              None if "model" in err.columns else "Vidur operators")
        save(plots().validation_figure(err, title), plot, "--plot")


def _measured_tables(err: Any, summ: Any, points: bool) -> None:
    """The per-point table (with --points) and the per-group summary."""
    if points:
        records: Iterable[Any] = err.itertuples()  # column types are known at run time only
        rows = [[r.group, r.point, seconds(r.measured_s), seconds(r.predicted_s),
                 f"{r.ape_pct:.1f}"] for r in records]
        typer.echo(table(rows, ["group", "point", "measured", "predicted", "APE %"],
                         right={2, 3, 4}))
    summary: Iterable[Any] = summ.itertuples()
    rows = [[r.group, str(r.points), f"{r.median_ape_pct:.1f}", f"{r.max_ape_pct:.1f}"]
            for r in summary]
    typer.echo(table(rows, ["group", "points", "median APE %", "max APE %"], right={1, 2, 3}))
