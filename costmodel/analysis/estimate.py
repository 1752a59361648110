"""The Python API for one point: `estimate(model, hardware, ...)` -> Estimate.

An Estimate is a view of one point of the vectorised evaluation (`Estimate.at`, also used by
the commands that evaluate many points); `.to_frame()` gives the per-operator tidy table,
`.to_dict()` the JSON document (base units throughout).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from costmodel.analysis.arguments import HardwareArg, ModelArg, hardware_arg, model_arg, workload_arg
from costmodel.analysis.compression_options import refuse_count_above
from costmodel.analysis.devices import stage_bounds
from costmodel.analysis.host_cpu import host_note
from costmodel.analysis.prepare import image_size, prepare, video_frames, video_text
from costmodel.analysis.refusals import refuse_unused
from costmodel.core.compression.formulas import visual_token_counts
from costmodel.core.evaluate import STAGES, Evaluation, Prepared, evaluate
from costmodel.core.metrics import compute_share
from costmodel.core.ops import Arr
from costmodel.core.roofline import link_latency_s
from costmodel.specs.hardware import HardwareProfile
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import VisualPlan, Workload
from costmodel.units import count, seconds, si

if TYPE_CHECKING:
    import pandas as pd


def pick(x: Arr | float, d: int, k: int, shape: tuple[int, int]) -> float:
    """Element [d, k] of an array broadcast to `shape` ([devices, columns])."""
    return float(np.broadcast_to(np.asarray(x, dtype=float), shape)[d, k])


@dataclass(frozen=True)
class StageResult:
    flops: float  # executed FLOPs (what the latency uses)
    useful_flops: float  # causal-aware FLOPs
    weight_bytes: float
    act_bytes: float
    kv_bytes: float
    latency_s: float  # expected, on the engine
    compute_share: float  # share of the latency in compute-bound operators (core/metrics.py)
    bound_latency_s: float  # at the roofline bound
    device_s: float = 0.0  # the operators without their launches
    launch_s: float = 0.0  # their launches (host time)
    host_bound: bool = False  # host_overlap async and launch_s > device_s (StageTotals)
    bound_by: str = "-"  # compute, memory, comm or host (analysis/devices.stage_bounds)

    @property
    def bytes(self) -> float:
        return self.weight_bytes + self.act_bytes + self.kv_bytes

    @property
    def intensity_flops_per_byte(self) -> float:
        """FLOP per byte of memory traffic."""
        return self.flops / self.bytes if self.bytes else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The stage in estimate's JSON `stages` (the bound latency is under `bound`)."""
        return {"flops": self.flops, "useful_flops": self.useful_flops, "bytes": self.bytes,
                "weight_bytes": self.weight_bytes, "act_bytes": self.act_bytes,
                "kv_bytes": self.kv_bytes, "latency_s": self.latency_s,
                "device_s": self.device_s, "launch_s": self.launch_s,
                "host_bound": self.host_bound, "bound_by": self.bound_by}


@dataclass(frozen=True)
class Memory:
    """The footprint in bytes; total_memory_bytes is the name of the footprint in every view
    (sweep and compare-compression columns, compare / batching / plan records)."""

    weights_bytes: float
    kv_cache_bytes: float
    activation_bytes: float
    total_memory_bytes: float  # weights + KV cache + activations
    capacity_bytes: float  # one GPU's
    fits: bool  # every GPU fits (one GPU unless --tp/--pp)
    per_gpu_total_memory_bytes: float  # most loaded GPU: its weights + KV cache + activations
    per_gpu_weights_bytes: float
    per_gpu_kv_cache_bytes: float
    gpus: int = 1


@dataclass(frozen=True)
class BoundView:
    """TTFT, TPOT and end-to-end latency at the roofline bound (seconds)."""

    ttft_s: float
    tpot_s: float
    e2e_latency_s: float


@dataclass(frozen=True)
class Estimate:
    """One request's estimate (base units: FLOPs, bytes, seconds). ttft_s, tpot_s,
    e2e_latency_s, tokens_per_s: the expected figures on the workload's engine; `bound`: the
    same at the roofline bound; `stages`: vision, projector, prefill, decode (StageResult);
    `memory`: weights, KV cache, activations and whether they fit; `plan`: the visual tokens
    and encoder passes. to_frame(): one row per operator; stage_frame(): one row per stage;
    to_dict(): the JSON document of `costmodel estimate --format json`."""

    model: ModelSpec
    hardware: HardwareProfile
    workload: Workload
    plan: VisualPlan
    stages: dict[str, StageResult]
    ttft_s: float
    tpot_s: float
    e2e_latency_s: float
    tokens_per_s: float
    memory: Memory
    bound: BoundView
    evaluation: Evaluation
    prepared: Prepared
    index: int = 0  # flat point index in `evaluation` (device-major)

    @classmethod
    def at(cls, spec: ModelSpec, hw: HardwareProfile, w: Workload, prep: Prepared,
           ev: Evaluation, d: int = 0, k: int = 0) -> Estimate:
        """The view of point [d, k] of an evaluation (device d, grid column k)."""
        shape = (prep.capacity_bytes.shape[0], prep.points.batch.shape[-1])

        def f(x: Arr | float) -> float:
            return pick(x, d, k, shape)

        b = ev.bound
        stages = _stage_results(ev, shape, d, k)
        p = prep.points
        plan = VisualPlan(crops=f(p.crops), seq_per_crop=f(p.seq_per_crop),
                          projector_rows=f(p.projector_rows), llm_tokens=f(p.visual))
        mem = Memory(f(ev.weights_bytes), f(ev.kv_cache_bytes), f(ev.activation_bytes),
                     f(ev.total_memory_bytes), hw.memory_bytes, bool(f(ev.fits)),
                     f(ev.per_gpu_total_memory_bytes), f(ev.per_gpu_weights_bytes),
                     f(ev.per_gpu_kv_cache_bytes), w.parallel.gpus)
        bound = BoundView(f(b.ttft_s), f(b.tpot_s), f(b.e2e_latency_s))
        return cls(spec, hw, w, plan, stages, f(ev.ttft_s), f(ev.tpot_s), f(ev.e2e_latency_s),
                   f(ev.tokens_per_s), mem, bound, ev, prep, d * shape[1] + k)

    def __repr__(self) -> str:
        """One line (the dataclass's own repr prints every spec, profile and operator array,
        tens of kB in a notebook cell); the fields and to_dict() hold the rest."""
        w, m = self.workload, self.memory
        comp = f", compression {w.compression.label}" if w.compression is not None else ""
        return (f"<Estimate {self.model.name} on {self.hardware.id}, engine "
                f"{self.prepared.engine.id}{comp}: {count(self.plan.llm_tokens)} visual + "
                f"{w.text_tokens} text -> {w.output_tokens} output tokens, batch {w.batch} | "
                f"expected TTFT {seconds(self.ttft_s)}, TPOT {seconds(self.tpot_s)}, e2e "
                f"{seconds(self.e2e_latency_s)} | bound TTFT {seconds(self.bound.ttft_s)} | "
                f"memory {si(m.total_memory_bytes, 'B')} ({'fits' if m.fits else 'does not fit'})>")

    @property
    def llm_visual_tokens(self) -> float:
        """The visual tokens entering the LLM's first layer under the workload's compression:
        a projector (or encoder, ViT) keep's kept count, floor(r x N); the request's where the
        method acts inside the LLM (FastV at layer K). `plan.llm_tokens` is the request's
        before any compression. compare_compression's `llm_visual_tokens` column."""
        return self._visual_counts()[0]

    @property
    def average_visual_tokens(self) -> float:
        """The visual tokens the LLM's layers see, summed over the layers / layers (a float:
        FastV and schedules keep different counts per layer); compare_compression's column."""
        return self._visual_counts()[1]

    def _visual_counts(self) -> tuple[float, float]:
        """(entering, average) at this point (core/compression/formulas.visual_token_counts)."""
        first, mean = visual_token_counts(self.model, self.prepared.points,
                                          self.workload.compression)
        entering = self._at_point(first)
        return int(entering) if entering.is_integer() else entering, self._at_point(mean)

    def _at_point(self, x: Arr | float) -> float:
        """x, an array over the evaluation's [devices, columns], at this estimate's point."""
        shape = (self.prepared.capacity_bytes.shape[0], self.prepared.points.batch.shape[-1])
        d, k = divmod(self.index, shape[1])
        return pick(x, d, k, shape)

    @property
    def host_note(self) -> str:
        """One line where the device names its own host CPU (a Jetson) and the engine charges
        host time, applied unscaled from data-centre servers (analysis/host_cpu.py); ""
        otherwise. In to_dict() as `host_note` only where it is not empty."""
        return host_note(self.hardware, self.prepared.engine)

    def _video_dict(self) -> dict[str, Any]:
        """The video's frames and frame size (W, H) for a video workload; {} otherwise."""
        w = self.workload
        if not w.has_video:
            return {}
        return {"video_frames": video_frames(self.model, w),
                "frame_size": list(image_size(self.model, w)),
                "video_seconds": w.video_seconds, "video_fps": w.video_fps,
                "video_text_tokens": video_text(self.model, w)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready document, base units only."""
        w, o = self.workload, self.prepared.options
        return {
            "model": self.model.name,
            "hardware": self.hardware.id,
            "hardware_changes": list(self.hardware.changes),
            "convention": w.convention,
            "engine": self.prepared.engine.id,
            "workload": {
                "batch": w.batch, "visual_tokens": self.plan.llm_tokens,
                "vision_crops": self.plan.crops, "text_tokens": w.text_tokens,
                "output_tokens": w.output_tokens, "weight_dtype": w.weights.value,
                **(dict(zip(("weight_group", "weight_group_bytes"),
                            w.int4_group(self.prepared.engine.int4_format), strict=True))
                   if w.weights.value == "int4" else {}),
                "weight_parts": list(w.parts),
                "act_dtype": w.act_dtype.value, "kv_dtype": w.kv.value,
                "flash_attention": o.flash, "overlap": w.overlap, "logits": w.logits,
                "compression": w.compression.model_dump() if w.compression else None,
                **self._video_dict(),
            },
            "params": self.model.param_counts(),
            "stages": {s: r.to_dict() for s, r in self.stages.items()},
            "ttft_s": self.ttft_s, "tpot_s": self.tpot_s, "e2e_latency_s": self.e2e_latency_s,
            "tokens_per_s": self.tokens_per_s,
            "bound": {"stages": {s: {"latency_s": r.bound_latency_s} for s, r in self.stages.items()},
                      **self.bound.__dict__},
            "memory": dict(self.memory.__dict__),
            "parallel": self._parallel_dict(),
            **({"host_note": self.host_note} if self.host_note else {}),
            **self.prepared.convention.extras(self.evaluation.stages, self.evaluation.op_costs,
                                              self.index),
        }

    def _parallel_dict(self) -> dict[str, Any]:
        p, hw = self.evaluation.parallel, self.hardware
        return {
            "tp": p.par.tp, "pp": p.par.pp, "ep": p.par.ep, "microbatches": p.par.m, "gpus": p.par.gpus,
            "interconnect": hw.interconnect_kind,
            "link_bytes_per_s": hw.interconnect_bytes_per_s,
            "link_latency_s": link_latency_s(hw),
            "stage_layers": [list(b) for b in p.stage_layers],
            "comm_s": self._at_point(p.comm_s), "p2p_s": self._at_point(p.p2p_s),
            "prefill_bubble_fraction": p.prefill_bubble_fraction,
        }

    def stage_frame(self) -> pd.DataFrame:
        """One row per stage, the columns of `costmodel estimate --format csv` (latency_s on
        the engine, bound_latency_s at the roofline bound), with the stage as the index."""
        import pandas as pd

        rows = {s: {"flops": r.flops, "useful_flops": r.useful_flops, "bytes": r.bytes,
                    "weight_bytes": r.weight_bytes, "act_bytes": r.act_bytes,
                    "kv_bytes": r.kv_bytes, "latency_s": r.latency_s,
                    "bound_latency_s": r.bound_latency_s, "device_s": r.device_s,
                    "launch_s": r.launch_s, "host_bound": r.host_bound,
                    "compute_share": r.compute_share, "bound_by": r.bound_by,
                    "engine": self.prepared.engine.id} for s, r in self.stages.items()}
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("stage")

    def to_frame(self, per_layer: bool = False) -> pd.DataFrame:
        """Per-operator tidy table (one row per operator; per_layer=True: one per layer)."""
        from costmodel.analysis.frames import op_frame

        return op_frame(self.evaluation, self.index, per_layer)


def _stage_results(ev: Evaluation, shape: tuple[int, int], d: int,
                   k: int) -> dict[str, StageResult]:
    """Each stage's figures at point [d, k] (Estimate.at)."""
    def f(x: Arr | float) -> float:
        return pick(x, d, k, shape)

    like, b = np.zeros(shape), ev.bound
    share = {s: compute_share(ev.op_costs, (s,), like) for s in STAGES}
    by = {s: str(np.broadcast_to(v, shape)[d, k]) for s, v in stage_bounds(ev, share).items()}
    return {s: StageResult(f(t.flops), f(t.useful_flops), f(t.weight_bytes), f(t.act_bytes),
                           f(t.kv_bytes), f(t.latency_s), f(share[s]), f(b.stage_latency_s[s]),
                           f(t.device_s), f(t.launch_s), bool(f(t.host_bound)), by[s])
            for s, t in ev.stages.items()}


def estimate(model: ModelArg, hardware: HardwareArg, workload: Workload | None = None,
             **fields: Any) -> Estimate:
    """Estimate one request. `model`/`hardware` are specs, zoo/bundled ids or file paths (str
    or pathlib.Path); keyword fields build the Workload (batch=8, visual_tokens=576,
    act_dtype='bf16', ...), or replace those fields of `workload`. A bad argument, field or
    value raises costmodel.CostmodelError naming it and the fix (docs/python-api.md), and so
    do fields that mean nothing for the model and a compression keeping more visual tokens
    than the request has, as the CLI refuses them (analysis/refusals.py,
    analysis/compression_options.refuse_count_above)."""
    spec, hw = model_arg(model), hardware_arg(hardware)
    w = workload_arg(workload, fields)
    refuse_unused(spec, w)
    refuse_count_above(spec, w)
    return point(spec, hw, w)


def point(spec: ModelSpec, hw: HardwareProfile, w: Workload) -> Estimate:
    """One point without `estimate`'s refusals: what a sweep row is (a sweep accepts a
    text-only model's visual tokens and a compression of zero tokens, analysis/refusals.py)."""
    prep = prepare(spec, [hw], w)
    return Estimate.at(spec, hw, prep.workload, prep, evaluate(spec, prep))
