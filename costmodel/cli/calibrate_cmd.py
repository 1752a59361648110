"""`costmodel calibrate`: measure a device (torch microbenchmarks) or fit Vidur timings, and
write a hardware profile with efficiency curves and launch overhead."""

from __future__ import annotations

import datetime as dt
import os
from enum import Enum
from pathlib import Path
from typing import Any

import typer

from costmodel.cli import feedback
from costmodel.cli.options import QUIET, check_threads, need_torch
from costmodel.cli.output import Format, check_output, dumps, table, write_text
from costmodel.errors import CostmodelError
from costmodel.specs.hardware import HardwareFile, HardwareProfile


class Device(str, Enum):
    cuda = "cuda"
    cpu = "cpu"


def calibrate(
    output: Path = typer.Option(..., "-o", "--output", help="YAML profile to write."),
    device: Device = typer.Option(Device.cuda, help="Device to measure."),
    base: str | None = typer.Option(None, help="Keep this profile's datasheet peaks; fit "
                                       "efficiency against them (else peaks = measured)."),
    new_id: str | None = typer.Option(None, "--id", help="id of the written profile."),
    quick: bool = typer.Option(False, help="Small sizes (tests: seconds on a CPU)."),
    thorough: bool = typer.Option(False, help="Large sizes (hidden 2048 and 4096, rows to "
                                  "4096): many minutes on a CPU."),
    threads: int | None = typer.Option(None, min=1, help="torch.set_num_threads for the run "
                                       "(CPU; default: torch's). Use the same for `profile`."),
    from_vidur: Path | None = typer.Option(None, help="Fit a Vidur mlp.csv (needs --base) "
                                              "instead of running microbenchmarks."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table | json | csv"),
    quiet: bool = QUIET,
) -> None:
    """Measure what a device achieves and write a calibrated hardware profile.

    About 45 s on a 2-core CPU by default. Reference kernels (a large add, copy and GEMM) are
    measured before and after the microbenchmarks; a profile that contradicts them by more
    than 25% is refused and nothing is written; a run in which they drifted by more than 50%
    (something else ran) is reported as a warning.
    """
    feedback.also_quiet(quiet)
    if quick and thorough:
        raise CostmodelError("--quick, --thorough: give one of them (or neither: default sizes)")
    _check_options(from_vidur, new_id, threads, quick, thorough)
    from costmodel.calibration.profile_writer import profile_text

    check_output(output, "--output", (".yaml", ".yml"))  # bad paths fail before measuring
    if from_vidur is None:
        need_torch("calibrate --device")
    hw = _base(base)
    if from_vidur is not None:
        f, info = _from_vidur(from_vidur, hw, new_id)
    else:
        mode = "quick" if quick else "thorough" if thorough else "default"
        f, info = _from_bench(device.value, hw, new_id, mode, threads)
    write_text(output, profile_text(f), "--output")
    info["output"] = str(output)
    _show(f, info, fmt)


def _check_options(from_vidur: Path | None, new_id: str | None, threads: int | None,
                   quick: bool, thorough: bool) -> None:
    """Before any work: --id names the profile (an empty one was replaced by the default id,
    a blank one written), --threads fits the machine, and --from-vidur runs nothing, so the
    run's options would be ignored."""
    if new_id is not None and not new_id.strip():
        raise CostmodelError(f"--id: '{new_id}' is empty; give the written profile an id, "
                             "e.g. --id my-a100 (or leave --id out: the default id)")
    check_threads(threads)
    if from_vidur is None:
        return
    given = [o for o, v in (("--threads", threads is not None), ("--quick", quick),
                            ("--thorough", thorough)) if v]
    if given:
        raise CostmodelError(f"{given[0]}: --from-vidur fits a file and runs no "
                             f"microbenchmark; drop {given[0]}")


def _base(base: str | None) -> HardwareProfile | None:
    """The --base profile, loaded (and so checked) before any measuring."""
    from costmodel.loading.load import load_hardware

    return None if base is None else load_hardware(base, option="--base")


def _from_vidur(path: Path, hw: HardwareProfile | None,
                new_id: str | None) -> tuple[HardwareFile, dict]:
    from costmodel.calibration import vidur
    from costmodel.calibration.profile_writer import calibrated_file

    if hw is None:
        raise CostmodelError("--base: --from-vidur fits against a datasheet profile; give "
                             "--base a100-80gb or --base h100-sxm")
    curves = vidur.fit_curves(vidur.load(path, "--from-vidur"), hw)
    src = (f"fit by `costmodel calibrate --from-vidur {path.name} --base {hw.id}`: median "
           "measured/roofline per quarter-decade of roofline time, Vidur (microsoft/vidur commit "
           "7d47513, MIT) tp=1 per-operator timings; launch overhead 0 (CUDA-event kernel times)")
    note = ("Datasheet peaks of " + hw.id + " with efficiency curves fitted to real per-operator "
            "timings (docs/validation.md). Use for eager PyTorch-like per-kernel times.")
    f = calibrated_file(hw.source_file, new_id or f"{hw.id}-vidur", curves, 0.0, src, note)
    return f, {"source": str(path), "base": hw.id, "launch_us": 0.0}


def _from_bench(device: str, base_hw: HardwareProfile | None, new_id: str | None,
                mode: str, threads: int | None = None) -> tuple[HardwareFile, dict]:
    from costmodel.calibration import microbench
    from costmodel.calibration.profile_writer import calibrated_file, fit_samples
    from costmodel.units import DType

    with feedback.progress("calibrate") as tick:
        res = microbench.run(device, mode, threads, tick)
    when = dt.date.today().isoformat()
    src = f"measured by costmodel calibrate on {res.device_name} ({device}{res.threads}) {when}"
    base = base_hw.id if base_hw is not None else None
    if base_hw is not None:
        hw = base_hw
        bf = hw.source_file
    else:
        bf = _bare_file(res, device, src)
        hw = HardwareProfile.from_file(bf)
    curves = fit_samples(res.samples, hw, DType(res.math_dtype), res.launch_s)
    note = (f"Calibrated {'against ' + hw.id if base else 'from measured peaks'} with "
            f"{len(res.samples)} microbenchmarks in {res.math_dtype} ({mode} sizes); launch "
            f"overhead per kernel in eager mode. {_measured(res)}")
    f = calibrated_file(bf, new_id or f"{(base or device)}-calibrated", curves,
                        res.launch_s * 1e6, src, note)
    f = _with_framework_cost(f, res)
    predicted = _predicted(f, res)
    _check(f, res, predicted, measured_peak=base is None)
    warnings = _warnings(res)
    if warnings:
        f = f.model_copy(update={"notes": f"{f.notes} Contention: {' '.join(warnings)}"})
    return f, {"source": res.device_name, "base": base or "measured peaks", "mode": mode,
               "launch_us": round(res.launch_s * 1e6, 3), "seconds": round(res.seconds, 2),
               "samples": len(res.samples), "noisy_measurements": res.noisy,
               "measurements": res.timings, "worst_spread": round(res.worst_spread, 3),
               "references": _reference_rows(res, predicted), "warnings": warnings}


def _warnings(res: Any) -> list[str]:
    """Contention seen during the run (costmodel.calibration.references.drifted; noisy
    measurements), each also a line on stderr."""
    from costmodel.calibration.references import drifted
    from costmodel.calibration.timing import SPREAD_LIMIT

    out = drifted(res.references)
    if res.noisy > 0.1 * res.timings:  # a few wide ones are normal on a shared machine
        out.append(f"{res.noisy} of {res.timings} measurements kept a spread above "
                   f"{100 * SPREAD_LIMIT:.0f}% after retries: the device was busy with something else")
    for w in out:
        feedback.note(f"warning: calibrate: {w}")
    return out


def _with_framework_cost(f: HardwareFile, res: Any) -> HardwareFile:
    """The profile's per-kernel cost from the probe step (costmodel.calibration.overhead)."""
    from costmodel.calibration import microbench
    from costmodel.calibration.overhead import per_kernel_s

    spec = microbench.probe_spec()
    per_kernel, kernels = per_kernel_s(spec, f, res.math_dtype, microbench.PROBE_PROMPT,
                                       res.probe_step_s, res.launch_s)
    src = (f"{f.sources['kernel_launch_overhead_us']}: one eager decode step of a hidden-64, "
           f"4-layer decoder ({res.probe_step_s * 1e6:.0f} us) over the {kernels:.0f} kernels "
           f"costmodel counts in it (one-element add: {res.launch_s * 1e6:.3g} us; "
           "costmodel/calibration/overhead.py)")
    return f.model_copy(update={"kernel_launch_overhead_us": round(per_kernel * 1e6, 3),
                                "sources": {**f.sources, "kernel_launch_overhead_us": src}})


def _measured(res: Any) -> str:
    """What the run measured, in words (the profile's notes and the table's footer)."""
    from costmodel.calibration.timing import SPREAD_LIMIT

    r = {x.name: x for x in res.references}
    return (f"References: add {r['add'].rate / 1e9:.3g} GB/s, copy {r['copy'].rate / 1e9:.3g} "
            f"GB/s, GEMM {r['gemm'].rate / 1e12:.3g} TFLOP/s. {res.noisy} of {res.timings} "
            f"measurements stayed noisy (spread above {100 * SPREAD_LIMIT:.0f}% after retries).")


def _predicted(f: HardwareFile, res: Any) -> dict[str, float]:
    """What the written profile says each reference kernel takes (s): the add and copy priced
    as operators (curves and launch included), the GEMM at the profile's peak."""
    import numpy as np

    from costmodel.core.roofline import Rates, op_times
    from costmodel.units import DType

    rates = Rates.from_profiles([HardwareProfile.from_file(f)], DType(res.math_dtype))
    out = {}
    for r in res.references:
        if r.name == "gemm":
            out[r.name] = float(np.ravel(r.op.matmul_flops / rates.matmul_flops_per_s)[0])
        else:
            t = op_times(r.op, rates).latency_s("roofline", rates.launch_s)
            out[r.name] = float(np.ravel(t)[0])
    return out


def _check(f: HardwareFile, res: Any, predicted: dict[str, float],
           measured_peak: bool) -> None:
    """Refuse (nothing written) a profile that fails a reference check."""
    from costmodel.calibration.references import problems
    from costmodel.units import DType

    hw = HardwareProfile.from_file(f)
    found = problems(res.references, predicted, hw.peak_flops_per_s(DType(res.math_dtype)),
                     measured_peak, hw.memory_bytes_per_s * hw.memory_efficiency)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise CostmodelError(f"calibrate: {found[0]}{more}; nothing written")


def _reference_rows(res: Any, pred: dict[str, float]) -> list[dict[str, Any]]:
    return [{"reference": r.name, "before_ms": round(r.before_s * 1e3, 4),
             "after_ms": round(r.after_s * 1e3, 4), "predicted_ms": round(pred[r.name] * 1e3, 4),
             "rate": round(r.rate / (1e12 if r.name == "gemm" else 1e9), 4),
             "rate_unit": "TFLOP/s" if r.name == "gemm" else "GB/s"} for r in res.references]


def _bare_file(res: Any, device: str, src: str) -> HardwareFile:
    from costmodel.calibration.profile_writer import measured_peaks

    mem = _memory_bytes(device)
    data = {"id": f"{device}-measured", "name": res.device_name,
            "category": "datacenter" if device == "cuda" else "workstation",
            "memory_GB": round(mem / 1e9, 2), **measured_peaks(res.stream_Bps, res.peak_flops),
            "sources": {"memory_GB": src, "memory_bandwidth_GBps": src + " (best add)",
                        "peak_tflops": src + " (best GEMM per dtype)"}}
    return HardwareFile.model_validate(data)


def _memory_bytes(device: str) -> float:
    if device == "cuda":
        import torch

        return float(torch.cuda.get_device_properties(0).total_memory)
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


KEY_UNITS = {"roofline_us": "us", "flop_per_byte": "FLOP/B", "gemm_k": "k"}


def _key_cells(curve: dict) -> dict[str, str]:
    """A curve's knot count and key range, in its key's unit."""
    key = next(k for k in KEY_UNITS if k in curve)
    knots = curve[key]
    return {"knots": str(len(knots)),
            "key_range": f"{knots[0]:.3g}-{knots[-1]:.3g} {KEY_UNITS[key]}"}


def _show(f: HardwareFile, info: dict, fmt: Format) -> None:
    curves = f.efficiency_curves.model_dump(exclude_none=True)
    rows = [{"class": c, **_key_cells(v),
             "efficiency_range": f"{min(v['efficiency']):.3g}-{max(v['efficiency']):.3g}"}
            for c, v in curves.items()]
    if fmt == Format.json:
        typer.echo(dumps({**info, "id": f.id, "kernel_launch_overhead_us":
                          f.kernel_launch_overhead_us, "efficiency_curves": curves}))
        return
    if fmt == Format.csv:
        typer.echo("class,knots,key_range,efficiency_range")
        for r in rows:
            typer.echo(",".join(str(v) for v in r.values()))
        return
    typer.echo(f"{info['output']}: profile {f.id} from {info['source']}; base "
               f"{info['base']}; launch overhead {f.kernel_launch_overhead_us:.3g} us")
    typer.echo(table([list(r.values()) for r in rows], list(rows[0]), right={1}))
    if "references" in info:
        refs = info["references"]
        typer.echo(table([[str(v) for v in r.values()] for r in refs], list(refs[0]),
                         right={1, 2, 3, 4}))
        typer.echo(f"{info['samples']} microbenchmarks ({info['mode']} sizes) in "
                   f"{info['seconds']:.1f} s; {info['noisy_measurements']} of "
                   f"{info['measurements']} measurements noisy (worst spread "
                   f"{100 * info['worst_spread']:.0f}%)")
