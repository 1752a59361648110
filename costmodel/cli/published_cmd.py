"""`costmodel validate --published FILE.csv`: published end-to-end runs vs the estimate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from costmodel.cli.output import Format, dumps, percent, table


def _pct(x: float) -> str:
    return f"{percent(x, signed=True)}%"


def _rows_table(frame: Any) -> str:
    rows = [[r["id"], Path(r["model"]).parent.name if r["model"].endswith(".json") else r["model"],
             r["hardware"], r["engine"], r["metric"], f"{r['run_batch']:.0f}",
             f"{r['value']:.4g}", f"{r['predicted']:.4g}", _pct(r["error"]),
             f"{r['bound']:.4g}", _pct(r["bound_error"])]
            for r in frame.to_dict("records")]
    return table(rows, ["id", "model", "hardware", "engine", "metric", "batch", "measured",
                        "predicted", "error", "bound", "bound error"],
                 right={5, 6, 7, 8, 9, 10})


def summary_table(summary: dict[str, Any]) -> str:
    """Median and max |error| overall and by engine, hardware, metric (and split), for the
    expected latency and the roofline bound side by side."""
    exp, bnd = summary, summary["bound"]
    rows = [["all", "", str(exp["rows"]), f"{100 * exp['median_abs_error']:.1f}",
             f"{100 * exp['max_abs_error']:.1f}", f"{100 * bnd['median_abs_error']:.1f}",
             f"{100 * bnd['max_abs_error']:.1f}"]]
    for key in [k for k in exp if k.startswith("by_")]:
        for name, s in exp[key].items():
            b = bnd[key][name]
            rows.append([key[3:], name, str(s["rows"]), f"{100 * s['median_abs_error']:.1f}",
                         f"{100 * s['max_abs_error']:.1f}", f"{100 * b['median_abs_error']:.1f}",
                         f"{100 * b['max_abs_error']:.1f}"])
    return table(rows, ["by", "group", "rows", "median |err| %", "max |err| %",
                        "bound median %", "bound max %"], right={2, 3, 4, 5, 6})


def run(path: Path, fmt: Format, plot: Path | None) -> None:
    from costmodel.calibration import published

    if plot is not None:
        from costmodel.cli.plot_cmd import output_format

        output_format(plot, "--plot")  # a bad path fails before any work
    frame, summary = published.validate(path)
    if fmt == Format.json:
        typer.echo(dumps({"published": str(path), "summary": summary,
                          "rows": published.records(frame)}))
    elif fmt == Format.csv:
        cols = [*published.ROW_FIELDS, "run_batch"]  # the batch run (a max-load row's)
        typer.echo(frame[cols].to_csv(index=False).rstrip())
    else:
        typer.echo(f"{path.name}: {summary['rows']} published figures; error = (predicted - "
                   "measured) / measured; 'bound' is the roofline bound (ideal engine); 'batch' "
                   "is the batch run (a max-load row's: the largest in flight up to its cap)")
        typer.echo(_rows_table(frame))
        typer.echo("")
        typer.echo(summary_table(summary))
    if plot is not None:
        from costmodel.cli.captions import frame_caption, listed
        from costmodel.cli.plot_cmd import plots, save

        models = [Path(m).parent.name if m.endswith(".json") else m for m in frame["model"]]
        title = frame_caption(f"Published runs ({path.name}): predicted vs measured", frame,
                              listed(frame["hardware"].tolist()),
                              listed(frame["engine"].tolist()), listed(models))
        work = frame.assign(**{f"{c}_work": published.as_time(frame, c)
                               for c in ("value", "predicted", "bound")})
        save(plots().published_figure(work, title), plot, "--plot")
