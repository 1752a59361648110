"""`costmodel validate`: measured vs predicted, per point and per group (op / stage)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from costmodel.cli.common import Format, dumps, table
from costmodel.units import seconds


class Kind(str, Enum):
    vidur = "vidur"
    profile = "profile"


class Mode(str, Enum):
    eager = "eager"
    cuda_graph = "cuda_graph"
    engine = "engine"


def validate(
    measurements: Path = typer.Option(..., "--measurements", "-m",
                                      help="Vidur mlp.csv or `costmodel profile` CSV."),
    hardware: str = typer.Option(..., "--hardware", "-H", help="Hardware id or YAML path."),
    kind: Kind | None = typer.Option(None, help="Measurement file kind (default: detect)."),
    execution: Mode = typer.Option(Mode.eager, help="Execution mode of the predictions "
                                   "(a profile CSV's `mode` column wins where it is one)."),
    points: bool = typer.Option(False, help="Table: list every point, not only the summary."),
    plot: Path | None = typer.Option(None, help="Write a predicted-vs-measured PNG here."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table | json | csv"),
) -> None:
    """Compare measurements with the model's predictions for the same shapes."""
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
        if points:
            rows = [[r.group, r.point, seconds(r.measured_s), seconds(r.predicted_s),
                     f"{r.ape_pct:.1f}"] for r in err.itertuples()]
            typer.echo(table(rows, ["group", "point", "measured", "predicted", "APE %"],
                             right={2, 3, 4}))
        rows = [[r.group, str(r.points), f"{r.median_ape_pct:.1f}", f"{r.max_ape_pct:.1f}"]
                for r in summ.itertuples()]
        typer.echo(table(rows, ["group", "points", "median APE %", "max APE %"], right={1, 2, 3}))
    if plot is not None:
        save(plots().validation_figure(err, f"{measurements.name} vs {hw.id} ({execution.value})"),
             plot, "--plot")
