"""`costmodel profile`: time the torch reference model (needs `costmodel[validate]`)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import typer

from costmodel.cli import feedback
from costmodel.cli.options import (
    FORMAT,
    MAX_TIMED_CALLS,
    QUIET,
    TEXT_TOKENS,
    available_bytes,
    check_threads,
    need_torch,
)
from costmodel.cli.output import Format, check_output, dumps, table, write_text
from costmodel.cli.parsing import parse_grid
from costmodel.errors import CostmodelError
from costmodel.specs.workload import MAX_BATCH, MAX_TOKENS
from costmodel.units import si

MAX_PROFILE_POINTS = 1000  # (visual tokens, batch) points one run times: hours on a CPU


def parse_ints(text: str, option: str) -> list[int]:
    """'64,576' -> [64, 576]: the one grid grammar (cli/parsing.parse_grid: lists and
    start:stop[:step], sorted, each once; an empty item refused), each >= 0, or >= 1 for
    --batch, bounded as everywhere."""
    low, high = (1, MAX_BATCH) if option == "--batch" else (0, MAX_TOKENS)
    return [int(v) for v in parse_grid(text, option, low, high)]


def write_csv_atomic(path: Path, rows: list[dict], columns: tuple[str, ...],
                     option: str = "--output") -> None:
    """Write the whole file or nothing (cli/output.py)."""
    buf = io.StringIO()
    wr = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    wr.writeheader()
    wr.writerows(rows)
    write_text(path, buf.getvalue(), option)


def _spec(model: str | None, tiny: bool):
    from costmodel.loading.load import load_model
    from costmodel.reference.model import tiny_spec

    if tiny == (model is not None):
        raise CostmodelError("MODEL: give a zoo id or config.json path, or --tiny (not both)")
    return tiny_spec() if tiny or model is None else load_model(model)


def profile(
    model: str | None = typer.Argument(None, help="Zoo id or config.json path."),
    tiny: bool = typer.Option(False, "--tiny", help="Built-in 0.7 M-parameter LLaVA-shaped VLM."),
    device: str = typer.Option("cpu", help="cpu or cuda."),
    visual_tokens: str = typer.Option("64,576", help="Comma-separated visual-token counts."),
    batch: str = typer.Option("1", help="Comma-separated batch sizes."),
    text_tokens: int = TEXT_TOKENS,
    dtype: str | None = typer.Option(None, help="fp32, bf16 or fp16 (default: fp32 on cpu, "
                                                   "bf16 on cuda)."),
    warmup: int = typer.Option(2, min=0, max=MAX_TIMED_CALLS, help="Untimed calls before "
                               "timing."),
    repeats: int = typer.Option(10, min=1, max=MAX_TIMED_CALLS, help="Timed calls per point."),
    cuda_graphs: bool = typer.Option(True, help="Also time decode replayed from a CUDA graph."),
    threads: int | None = typer.Option(None, min=1, help="torch.set_num_threads (CPU; default: "
                                       "torch's). Use the same as for `calibrate`."),
    out: Path = typer.Option(Path("costmodel-profile.csv"), "--output", "-o", "--out",
                             help="CSV to write (--out: the old name)."),
    kernels: Path | None = typer.Option(None, help="Also write per-kernel times (CSV) for "
                                                     "the first point (torch.profiler)."),
    fmt: Format = FORMAT,
    quiet: bool = QUIET,
) -> None:
    """Time prefill and per-token decode of the torch reference model; write a CSV."""
    feedback.also_quiet(quiet)
    if device not in ("cpu", "cuda"):
        raise CostmodelError(f"--device: '{device}' is not cpu or cuda")
    check_threads(threads)
    vis, batches = parse_ints(visual_tokens, "--visual-tokens"), parse_ints(batch, "--batch")
    if len(vis) * len(batches) > MAX_PROFILE_POINTS:
        raise CostmodelError(f"--visual-tokens, --batch: {len(vis) * len(batches)} points to "
                             f"time; at most {MAX_PROFILE_POINTS} (each is timed --repeats "
                             "times), e.g. --visual-tokens 64:576:64")
    check_output(out, "--output", (".csv",))  # bad paths fail before any measuring
    if kernels is not None:
        check_output(kernels, "--kernels", (".csv",))
    need_torch("profile")
    spec = _spec(model, tiny)
    import torch

    from costmodel.reference import timing as prof
    dtype = dtype or ("bf16" if device == "cuda" else "fp32")
    if dtype not in prof.DTYPES:
        raise CostmodelError(f"--dtype: '{dtype}' is not one of {', '.join(prof.DTYPES)}")
    if device == "cuda" and not torch.cuda.is_available():
        raise CostmodelError("--device: cuda is not available here; use --device cpu")
    _check_weights_fit(spec, device, dtype, torch)
    with feedback.progress("profile: points", len(vis) * len(batches)) as tick:
        rows = prof.as_dicts(prof.profile(spec, device, dtype, vis, batches, text_tokens, warmup,
                                          repeats, cuda_graphs, model or "tiny", threads, tick))
    write_csv_atomic(out, rows, prof.COLUMNS)
    _warn_noisy(rows)
    if kernels is not None:
        k = prof.kernel_times(spec, device, dtype, batches[0], vis[0], text_tokens)
        write_csv_atomic(kernels, k, ("stage", "kernel", "calls", "self_s"), "--kernels")
    _print(rows, fmt, prof.COLUMNS)


def _free_bytes(device: str, torch: Any) -> float | None:
    """Memory free for the model's weights: the GPU's free memory, or the host's
    (options.available_bytes); None where it cannot be read."""
    if device == "cuda":
        return float(torch.cuda.mem_get_info()[0])
    return available_bytes()


def _check_weights_fit(spec: Any, device: str, dtype: str, torch: Any) -> None:
    """The reference model is built whole (random weights) before any timing: one whose
    weights exceed the free memory was built for minutes and then killed (llava-1.5-7b in
    fp32 on a 23 GB host: 19 GB after 90 s). Refused before building."""
    weights = spec.param_counts()["total"] * (4 if dtype == "fp32" else 2)
    free = _free_bytes(device, torch)
    if free is not None and weights > free:
        raise CostmodelError(f"MODEL: {spec.name}'s weights take {si(weights, 'B')} in {dtype}, "
                             f"more than the {si(free, 'B')} free on {device}; profile a "
                             "smaller model (or --tiny), or another --dtype / --device")


def _warn_noisy(rows: list[dict]) -> None:
    """One warning line when points stayed noisy after the retries (the device was busy)."""
    from costmodel.reference.contention import SPREAD_LIMIT, row_noisy

    noisy = [r for r in rows if row_noisy(r)]
    if noisy:
        feedback.note(f"warning: profile: {len(noisy)} of {len(rows)} measurements stayed noisy "
                      f"(IQR above {100 * SPREAD_LIMIT:.0f}% of the median after retries): "
                      "something else was using the device; measure again on a quiet one")


def _print(rows: list[dict], fmt: Format, columns: tuple[str, ...]) -> None:
    if fmt is Format.json:
        typer.echo(dumps(rows))
    elif fmt is Format.csv:
        buf = io.StringIO()
        wr = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
        wr.writeheader()
        wr.writerows(rows)
        typer.echo(buf.getvalue(), nl=False)
    else:
        body = [[r["stage"], r["mode"], str(r["batch"]), str(r["visual_tokens"]),
                 str(r["context_tokens"]), f"{r['median_s'] * 1e3:.3f}",
                 f"{r['p25_s'] * 1e3:.3f}-{r['p75_s'] * 1e3:.3f}"] for r in rows]
        head = f"{rows[0]['model']} on {rows[0]['device_name']} ({rows[0]['dtype']}, torch " \
               f"{rows[0]['torch_version']}, {rows[0]['repeats']} repeats)"
        typer.echo(head + "\n\n" + table(
            body, ["stage", "mode", "batch", "visual", "context", "median ms", "IQR ms"],
            right={2, 3, 4, 5, 6}))
