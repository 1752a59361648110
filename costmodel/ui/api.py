"""The page's numbers: a state -> the estimates, the savings and the sweep, computed as the CLI
computes them.

Each state becomes the argv of `costmodel estimate` and `costmodel compare-compression`
(costmodel.ui.state); the CLI's own click commands parse it (same checks, same defaults, same
messages), and the parsed options go through the CLI's helpers (`workload_from_values`,
`refuse_unused`, `compression_from_options`, `compare_rows`) into `costmodel.analysis`. Results are
cached by their inputs, so an interaction recomputes only what it changed.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
from pydantic import ValidationError

from costmodel.analysis.estimate import Estimate
from costmodel.analysis.estimate import estimate as run_estimate
from costmodel.analysis.refusals import refuse_unused
from costmodel.cli import ClickException, UsageError, _click_line
from costmodel.cli.compression_options import compression_from_options, refuse_count_above
from costmodel.cli.options import as_option, workload_from_values
from costmodel.core.evaluate import Evaluation
from costmodel.errors import CostmodelError, one_line
from costmodel.loading.load import load_hardware, load_model
from costmodel.specs.compression import Compression, CompressionPlan
from costmodel.specs.hardware import HardwareProfile
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import Workload
from costmodel.ui import state as st
from costmodel.ui import uploads

T = TypeVar("T")
SWEEP_STEP, SWEEP_STOP = 96, 2880  # the token sweep: 0:2880:96, extended to cover the point
LOCK = threading.RLock()  # one computation at a time (warnings are captured per call)


class _Lru:
    """A small least-recently-used cache: (value, warnings) by key."""

    def __init__(self, size: int) -> None:
        self.size, self.items = size, OrderedDict[Hashable, tuple[Any, list[str]]]()

    def get(self, key: Hashable, make: Callable[[], T]) -> tuple[T, list[str]]:
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = make()
        self.items[key] = (value, [str(w.message).splitlines()[0] for w in caught])
        if len(self.items) > self.size:
            self.items.popitem(last=False)
        return self.items[key]


_ESTIMATES, _SWEEPS = _Lru(256), _Lru(64)


@lru_cache(maxsize=1)
def _commands() -> dict[str, Any]:
    """The CLI's click commands by name (typer builds them once)."""
    import typer

    from costmodel.cli import app

    group: Any = typer.main.get_command(app)
    return dict(group.commands)


def parse(argv: list[str]) -> dict[str, Any]:
    """The options of a command line as the CLI parses them (click raises on bad input)."""
    command = _commands()[argv[0]]
    return dict(command.make_context(argv[0], argv[1:]).params)


def message(e: Exception) -> str | None:
    """The one line `costmodel` prints after 'error: ' for this exception (cli.main)."""
    if isinstance(e, (UsageError, ClickException)):
        return str(_click_line(e))
    if isinstance(e, CostmodelError):
        return as_option(str(e))
    if isinstance(e, ValidationError):
        return as_option(one_line(e))
    return None


@dataclass(frozen=True)
class Inputs:
    """A checked state: the spec, device and workloads the view is computed from."""

    state: dict[str, str]
    model_id: str
    spec: ModelSpec
    hw: HardwareProfile
    sets: tuple[str, ...]
    workload: Workload
    compression: Compression | CompressionPlan | None
    params: dict[str, Any]


def _spec(model_id: str) -> ModelSpec:
    held = uploads.get(model_id)
    return held if held is not None else load_model(model_id)


def inputs(state: dict[str, str]) -> Inputs:
    """Parse and check a state the way `estimate` / `compare-compression` do; held by the
    state (the view and the sweep request of one interaction parse it once). An upload that
    the server no longer holds is checked afresh (and refused), never served from here."""
    if state["model"].startswith(st.UPLOAD_PREFIX) and uploads.get(state["model"]) is None:
        return _inputs(state)
    return _held_inputs(tuple(state.items()))


@lru_cache(maxsize=64)
def _held_inputs(items: tuple[tuple[str, str], ...]) -> Inputs:
    return _inputs(dict(items))


def _inputs(state: dict[str, str]) -> Inputs:
    params = parse(st.estimate_argv(state))
    cargv = st.compare_argv(state)
    cparams = parse(cargv) if cargv else None
    st.check_ids(state, uploads.get(state["model"]) is not None)
    comp = None
    if cparams is not None:
        comp = compression_from_options(
            cparams["keep"], cparams["at"], cparams["method"], cparams.get("schedule"),
            cparams.get("kv_keep"), cparams.get("kv_policy"), cparams["cluster_iters"],
            cparams["merge_per_layer"], cparams["overhead"], require=True)
    w = workload_from_values(params)
    spec = _spec(state["model"])
    sets = tuple(params["sets"])
    hw = load_hardware(params["hardware"], sets)
    refuse_unused(spec, w)
    return Inputs(state, state["model"], spec, hw, sets, w, comp, params)


def estimate(i: Inputs, w: Workload) -> tuple[Estimate, list[str]]:
    key = (i.model_id, i.hw.id, i.sets, w)
    return _ESTIMATES.get(key, lambda: run_estimate(i.spec, i.hw, w))


def compressed(i: Inputs, base: Estimate) -> tuple[Estimate, list[str]] | None:
    """The scenario, checked as compare-compression checks it."""
    comp = i.compression
    if comp is None:
        return None
    w = i.workload.model_copy(update={"compression": comp})
    refuse_count_above(i.spec, w)
    return estimate(i, w)


def sweep_grid(visual_tokens: float) -> str:
    """The sweep's --visual-tokens grid: 0:2880:96, longer when the point lies beyond it."""
    stop = max(SWEEP_STOP, int(np.ceil(visual_tokens / SWEEP_STEP)) * SWEEP_STEP)
    return f"0:{stop}:{SWEEP_STEP}"


def sweep_workload(i: Inputs, comp: Compression | CompressionPlan | None) -> Workload:
    """The workload of `costmodel sweep` for this state (its options; the tokens vary)."""
    # the tokens vary: the images (or the video) that set them are not the sweep's
    fixed = {k: v for k, v in i.params.items()
             if k not in ("visual_tokens", "images", "image_size", "video_frames")}
    return workload_from_values(fixed, compression=comp)


def _point_columns(ev: Evaluation) -> dict[str, Any]:
    """The sweep's per-point columns (names as `costmodel sweep` prints them)."""
    return {"ttft_s": ev.ttft_s, "tpot_s": ev.tpot_s, "e2e_latency_s": ev.e2e_latency_s,
            "bound_ttft_s": ev.bound.ttft_s, "bound_tpot_s": ev.bound.tpot_s,
            "bound_e2e_latency_s": ev.bound.e2e_latency_s, "total_memory_bytes": ev.total_memory_bytes}


def sweep(i: Inputs, grid: str,
          comp: Compression | CompressionPlan | None) -> tuple[dict[str, list[float]], list[str]]:
    """Per-point columns of the token sweep: `evaluate_grid`, the evaluation that
    `costmodel.analysis.sweep.sweep` (and so `costmodel sweep`) runs, read without building its
    DataFrame (the same float64 values; pandas cost ~5 ms a sweep)."""
    from costmodel.analysis.sweep import evaluate_grid
    from costmodel.cli.parsing import parse_grid

    w = sweep_workload(i, comp)

    def make() -> dict[str, list[float]]:
        tokens = np.asarray(parse_grid(grid, "--visual-tokens"), dtype=float).reshape(-1)
        ev, cols, _ = evaluate_grid(i.spec, [i.hw], tokens, np.asarray([w.batch]), w)
        shape = (1, cols["visual_tokens"].size)
        out: dict[str, list[float]] = {  # counts as ints (JSON 64, not 64.0)
            "visual_tokens": [int(x) for x in cols["visual_tokens"].astype(int)]}
        for name, x in _point_columns(ev).items():
            out[name] = [float(v) for v in np.broadcast_to(np.asarray(x), shape).reshape(-1)]
        return out

    return _SWEEPS.get((i.model_id, i.hw.id, i.sets, grid, w), make)
