"""`costmodel compare` (rank devices for one workload) and `costmodel energy` (joules)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import typer

from costmodel.analysis.device_energy import CLI_SUPPLY, energy_records, refuse_no_power
from costmodel.analysis.device_ranking import RankBy, missing_devices, ranked_records
from costmodel.analysis.devices import Fleet, evaluate_fleet, power_W
from costmodel.analysis.engine_fleets import EngineFleets, evaluate_engines
from costmodel.cli import captions, feedback
from costmodel.cli import fleet_common as fc
from costmodel.cli.options import QUIET, as_option
from costmodel.cli.output import Format, table
from costmodel.cli.plot_cmd import output_format, plots, save
from costmodel.core.evaluate import STAGES
from costmodel.specs.hardware import HardwareProfile
from costmodel.units import DType, count, seconds, si

ENERGY_NOTE = ("energy is an ESTIMATE: power (TDP or power mode) x latency per stage, as if the "
               "device drew that power throughout; measured power is usually lower")


def _joules(x: float) -> str:
    return "n/a" if not np.isfinite(x) else si(x, "J")  # 2.55 kJ, 0.0181 J


def _row(r: dict[str, Any], engine: bool) -> list[str]:
    short = {"compute": "C", "memory": "M", "comm": "L", "host": "H", "-": "-"}
    return [str(r["rank"]), r["hardware"], *([r["engine"]] if engine else []), r["math_dtype"],
            seconds(r["ttft_s"]), seconds(r["tpot_s"]), seconds(r["e2e_latency_s"]),
            f"{r['tokens_per_s']:.1f}",
            f"{si(r['per_gpu_total_memory_bytes'], 'B')} / {si(r['capacity_bytes'], 'B')}",
            "yes" if r["fits"] else "NO", "/".join(short[r[f"{s}_bound_by"]] for s in STAGES),
            _joules(r["energy_per_request_J"])]


def compare_table(recs: list[dict[str, Any]], head: str, gpus: int = 1,
                  engine: bool = False, power_mode: str | None = None) -> str:
    """The ranked table; memory is the most loaded GPU's footprint (the whole model on one
    GPU), against one GPU's capacity, as `fits` reads it. engine: a column naming each row's
    engine (compare over several engines); power_mode: the --power-mode J/request is at."""
    heads = ["#", "device", *(["engine"] if engine else []), "dtype", "TTFT", "TPOT", "e2e",
             "tokens/s", "memory", "fits", "bound v/p/pf/d", "J/request"]
    shift = int(engine)
    t = table([_row(r, engine) for r in recs], heads,
              right={0, *(i + shift for i in (3, 4, 5, 6, 7, 10))})
    changed = [f"{r['hardware']}: {r['hardware_changes']}" for r in recs if r["hardware_changes"]]
    changed = list(dict.fromkeys(changed)) if engine else changed  # a device once per engine
    link = (", L = interconnect-bound (the tp / ep communication holds the largest share)"
            if any("comm" in (r[f"{s}_bound_by"] for s in STAGES) for r in recs) else "")
    return "\n".join([head, "", t, "", "bound: C = compute-bound, M = memory-bound (the kind "
                      "of operator holding most of the stage's latency), H = host-bound (the "
                      f"engine's launches, overlapping the device, take longer){link}",
                      ENERGY_NOTE + _mode_text(power_mode) + fc.gpus_note(gpus)]
                     + [f"[changed] {c}" for c in changed])


def _mode_text(power_mode: str | None) -> str:
    return "" if power_mode is None else (f"; J/request at power mode {power_mode}"
                                          + _modes_note([], power_mode))



def compare_caption(spec: Any, f: Fleet, *more: Fleet) -> str:
    """Title of the compare chart: the model, every device, the one workload as priced (its
    weights resolved: Fleet.workload; its visual tokens counted as estimate counts them);
    `more`: the fleets of the other engines (compare over several engines)."""
    w = f.workload
    fleets = (f, *more)
    devices = captions.listed(list(dict.fromkeys(h.id for g in fleets for h in g.profiles)),
                              most=6)
    visual = count(captions.visual_tokens(spec, w))
    kind = "Compare devices and engines" if more else "Compare devices"
    return captions.caption(kind, spec.name, devices,
                            engine=", ".join(g.engine for g in fleets),
                            **captions.workload_fields(w, visual, spec=spec))


def not_ranked(runs: EngineFleets) -> list[str]:
    """A line per gap of a compare over several engines: an engine that refuses the workload
    (its one-line error, as `compare` with that engine alone prints it), and the devices one
    engine ranks that another leaves out (the default list drops the datasheet-only profiles
    on an engine with measured kernels: fleet_common.devices)."""
    lines = [f"not ranked on {e}: {as_option(why)}" for e, why in runs.refused.items()]
    missing: dict[tuple[str, ...], list[str]] = {}
    for engine, gap in missing_devices(runs.fleets).items():
        missing.setdefault(gap, []).append(engine)
    return lines + [f"not ranked on {', '.join(engines)}: {', '.join(gap)} (datasheet peaks "
                    "only: the default device list leaves them out on an engine that runs "
                    "measured kernels; -H lists them)" for gap, engines in missing.items()]


def _compare_engines(values: dict[str, Any], engines: list[str], rank_by: RankBy,
                     plot_path: Path | None, fmt: Format) -> None:
    """`compare --engine a,b,...`: every (device, engine) pair ranked in one table, with an
    engine column; the gaps (not_ranked) end the table, or go to stderr with -f json/csv."""
    spec, w = fc.model_and_workload(values, engine=engines[0])
    runs = evaluate_engines(spec, w, engines, lambda we: fc.devices(
        values["hardware"], values["sets"], we, values["dtype"], values["power_mode"]),
        auto_dtype=values["dtype"] is None)
    recs = ranked_records(runs.fleets, rank_by, values["power_mode"])
    head = (f"{spec.name}: batch {w.batch}, {captions.request_text(spec, w)} | ranked by "
            f"{rank_by.value} (pairs that do not fit last){fc.engines_text(runs.engines, w)}")
    if plot_path is not None:
        save(plots().compare_figure(recs, compare_caption(spec, *runs.fleets)), plot_path,
             "--plot")
    gaps = not_ranked(runs)
    if fmt is not Format.table:
        for line in gaps:
            warnings.warn(line, UserWarning, stacklevel=2)
    text = compare_table(recs, head, w.parallel.gpus, engine=True,
                         power_mode=values["power_mode"])
    notes = [f.host_note for f in runs.fleets if f.host_note]  # a Jetson's host, per engine
    fc.emit(recs, fmt, "\n".join([text, *notes, *gaps]), runs.engines[0], w)


def compare(
    model: str = fc.MODEL, hardware: str | None = fc.HARDWARE,
    visual_tokens: int | None = fc.VISUAL,
    images: int = fc.IMAGES, image_size: str | None = fc.IMAGE_SIZE,
    video_frames: int | None = fc.VIDEO_FRAMES, video_fps: float | None = fc.FPS,
    video_seconds: float | None = fc.SECONDS, text_tokens: int = fc.TEXT,
    output_tokens: int = fc.OUTPUT, batch: int = fc.BATCH,
    dtype: DType | None = fc.DTYPE, weight_dtype: DType | None = fc.WDTYPE,
    weight_group: int | None = fc.WGROUP, weight_group_bytes: float | None = fc.WGROUP_BYTES,
    weight_parts: str | None = fc.WPARTS,
    kv_dtype: DType | None = fc.KVDTYPE, sets: list[str] = fc.SETS,
    flash_attention: bool | None = fc.FLASH, overlap: str = fc.OVERLAP, logits: str = fc.LOGITS,
    convention: str = fc.CONVENTION, engine: str | None = fc.ENGINES, tp: int = fc.TP,
    pp: int = fc.PP, ep: int = fc.EP, microbatches: int | None = fc.MICROBATCHES, keep: str | None = fc.KEEP,
    at: str | None = fc.AT, method: str | None = fc.METHOD, schedule: str | None = fc.SCHEDULE,
    kv_keep: str | None = fc.KV_KEEP, kv_policy: str | None = fc.KV_POLICY,
    sparse_decode: str | None = fc.SPARSE_DECODE,
    rank_by: RankBy = typer.Option(RankBy.e2e, help="e2e, ttft, tpot, throughput or energy."),
    power_mode: str | None = typer.Option(None, help="Power mode for energy, e.g. 30W."),
    plot_path: Path | None = typer.Option(None, "--plot", help="Also draw it: out.png|svg|pdf."),
    fmt: Format = fc.FMT,
    quiet: bool = QUIET,
) -> None:
    """Rank devices (and engines: --engine a,b) for one workload: TTFT, TPOT, throughput,
    memory fit, bound per stage."""
    feedback.also_quiet(quiet)
    if plot_path is not None:
        output_format(plot_path, "--plot")  # a bad path fails before any work
    engines = fc.engine_list(engine)
    if len(engines) > 1:
        return _compare_engines(locals(), [str(e) for e in engines], rank_by, plot_path, fmt)
    spec, profiles, w = fc.setup(locals())
    f = evaluate_fleet(spec, profiles, w, auto_dtype=dtype is None)
    recs = ranked_records([f], rank_by, power_mode)
    head = (f"{spec.name}: batch {w.batch}, {captions.request_text(spec, w)} | ranked by "
            f"{rank_by.value} (devices that do not fit last){fc.run_text(f.engine, w)}")
    if plot_path is not None:
        save(plots().compare_figure(recs, compare_caption(spec, f)), plot_path, "--plot")
    fc.emit(recs, fmt, compare_table(recs, head, w.parallel.gpus, power_mode=power_mode),
            f.engine, w, [f.host_note])


def _modes_note(profiles: list[HardwareProfile], power_mode: str | None) -> str:
    """The energy note's power-mode caveat, where it applies: a --power-mode given, or a
    device that lists power modes (power_modes_W); '' otherwise."""
    if power_mode is None and not any(h.power_modes_W for h in profiles):
        return ""
    pick = "" if power_mode else " (TDP here; --power-mode picks a mode)"
    return (f"; power modes cap clocks, which this latency (at the profile's peaks) does not "
            f"model{pick}")


def energy_cmd(
    model: str = fc.MODEL, hardware: str | None = fc.HARDWARE,
    visual_tokens: int | None = fc.VISUAL,
    images: int = fc.IMAGES, image_size: str | None = fc.IMAGE_SIZE,
    video_frames: int | None = fc.VIDEO_FRAMES, video_fps: float | None = fc.FPS,
    video_seconds: float | None = fc.SECONDS, text_tokens: int = fc.TEXT,
    output_tokens: int = fc.OUTPUT, batch: int = fc.BATCH,
    dtype: DType | None = fc.DTYPE, weight_dtype: DType | None = fc.WDTYPE,
    weight_group: int | None = fc.WGROUP, weight_group_bytes: float | None = fc.WGROUP_BYTES,
    weight_parts: str | None = fc.WPARTS,
    kv_dtype: DType | None = fc.KVDTYPE, sets: list[str] = fc.SETS,
    flash_attention: bool | None = fc.FLASH, overlap: str = fc.OVERLAP, logits: str = fc.LOGITS,
    convention: str = fc.CONVENTION, engine: str | None = fc.ENGINE, tp: int = fc.TP,
    pp: int = fc.PP, ep: int = fc.EP, microbatches: int | None = fc.MICROBATCHES, keep: str | None = fc.KEEP,
    at: str | None = fc.AT, method: str | None = fc.METHOD, schedule: str | None = fc.SCHEDULE,
    kv_keep: str | None = fc.KV_KEEP, kv_policy: str | None = fc.KV_POLICY,
    sparse_decode: str | None = fc.SPARSE_DECODE,
    power_mode: str | None = typer.Option(None, help="Power mode (e.g. 30W); default TDP."),
    fmt: Format = fc.FMT,
) -> None:
    """Estimated joules per request and per output token, split by stage (power x time)."""
    spec, profiles, w = fc.setup(locals())
    watts = power_W(profiles, power_mode)
    refuse_no_power(profiles, watts, "--hardware", CLI_SUPPLY)  # before any work
    f = evaluate_fleet(spec, profiles, w, auto_dtype=dtype is None)
    recs = energy_records(f, watts, power_mode)
    rows = [[r["hardware"], "n/a" if not np.isfinite(r["power_W"]) else f"{r['power_W']:g} W",
             *[_joules(r[f"{s}_J"]) for s in STAGES], _joules(r["per_request_J"]),
             _joules(r["per_output_token_J"])] for r in recs]
    t = table(rows, ["device", "power", *STAGES, "J/request", "J/output token"],
              right=set(range(1, 8)))
    head = (f"{spec.name}: batch {w.batch}, {captions.request_text(spec, w)}; energy per request "
            f"(batch energy / batch), power = {'mode ' + power_mode if power_mode else 'TDP'}"
            f"{fc.run_text(f.engine, w)}")
    na = [] if np.isfinite(watts).all() else ["n/a: the profile gives no power figure (tdp_W); "
                                              "--set tdp_W=WATTS supplies one"]
    fc.emit(recs, fmt, "\n".join([head, "", t, "", ENERGY_NOTE + _modes_note(profiles, power_mode)
                                  + fc.gpus_note(w.parallel.gpus, memory=False),
                                  *na, *_unfit(f), *fc.changed_lines(profiles)]),
            f.engine, w, [f.host_note])


def _unfit(f: Fleet) -> list[str]:
    """The energy table's line naming the devices whose footprint does not fit (JSON/CSV
    `fits`): their joules are priced all the same, for a run they cannot hold."""
    gpu = " per GPU" if f.workload.parallel.gpus > 1 else ""
    out = [f"{h.id} ({si(f.ev.per_gpu_total_memory_bytes[d, 0], 'B')} of "
           f"{si(h.memory_bytes, 'B')}{gpu})" for d, h in enumerate(f.profiles)
           if not f.ev.fits[d, 0]]
    return [f"does not fit: {', '.join(out)}; the joules are of a run the device cannot hold"
            ] if out else []
