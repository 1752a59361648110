"""The Python API for one point: `estimate(model, hardware, ...)` -> Estimate.

An Estimate is a view of point 0 of the vectorised `evaluate`; `.to_frame()` gives the
per-operator tidy table, `.to_dict()` the JSON document (base units throughout).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from costmodel.core.evaluate import STAGES, Evaluation
from costmodel.core.stages import Points, Precision
from costmodel.core.parallel.pipeline import ParallelResult, evaluate_parallel
from costmodel.core.quant import dequant_flops_per_element, weight_bytes_per_element
from costmodel.core.roofline import Rates, link_latency_s
from costmodel.specs.hardware import HardwareProfile
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import VisualPlan, Workload
from costmodel.core.visual_tokens import plan_images, plan_tokens

if TYPE_CHECKING:
    import pandas as pd


def visual_plan(spec: ModelSpec, w: Workload) -> VisualPlan:
    """Visual tokens and encoder passes per sample for a workload."""
    if w.visual_tokens is not None:
        return plan_tokens(spec, w.visual_tokens, w.images)
    if spec.vision is None:
        return plan_tokens(spec, 0)
    size = w.image_size or spec.token_scheme.default_image_size or (
        spec.vision.image_size, spec.vision.image_size)
    return plan_images(spec, w.images, size[0], size[1])


def precision(w: Workload) -> Precision:
    """Bytes per element (weights with their quantisation scales) and dequantisation work.
    LLM-Viewer's convention has neither: w_byte = w_bit / 8 and no dequantisation."""
    if w.convention == "llm-viewer":
        return Precision(weight=w.weights.bytes_per_element, act=w.act_dtype.bytes_per_element,
                         kv=w.kv.bytes_per_element)
    return Precision(weight=weight_bytes_per_element(w.weights, w.act_dtype),
                     act=w.act_dtype.bytes_per_element, kv=w.kv.bytes_per_element,
                     dequant_flops=dequant_flops_per_element(w.weights, w.act_dtype))


def points(plan: VisualPlan, w: Workload) -> Points:
    a = np.asarray
    return Points(batch=a([w.batch], float), crops=a([plan.crops], float),
                  seq_per_crop=a([plan.seq_per_crop], float),
                  projector_rows=a([plan.projector_rows], float),
                  visual=a([plan.llm_tokens], float), text=a([w.text_tokens], float),
                  output=a([w.output_tokens], float))


@dataclass(frozen=True)
class StageResult:
    flops: float  # executed FLOPs (what the latency uses)
    useful_flops: float  # causal-aware FLOPs
    weight_bytes: float
    act_bytes: float
    kv_bytes: float
    latency_s: float

    @property
    def bytes(self) -> float:
        return self.weight_bytes + self.act_bytes + self.kv_bytes

    @property
    def arithmetic_intensity(self) -> float:
        """FLOP per byte of memory traffic."""
        return self.flops / self.bytes if self.bytes else 0.0


@dataclass(frozen=True)
class Memory:
    weights_bytes: float
    kv_cache_bytes: float
    activation_bytes: float
    total_bytes: float
    capacity_bytes: float  # one GPU's
    fits: bool  # every GPU fits (one GPU unless --tp/--pp)
    per_gpu_bytes: float = 0.0  # most loaded GPU: its weights + KV cache + activations
    per_gpu_weights_bytes: float = 0.0
    per_gpu_kv_cache_bytes: float = 0.0
    gpus: int = 1


@dataclass(frozen=True)
class Estimate:
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
    evaluation: Evaluation
    parallel: ParallelResult | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready document, base units only."""
        w = self.workload
        return {
            "model": self.model.name,
            "hardware": self.hardware.id,
            "hardware_changes": list(self.hardware.changes),
            "convention": w.convention,
            "workload": {
                "batch": w.batch, "visual_tokens": self.plan.llm_tokens,
                "vision_crops": self.plan.crops, "text_tokens": w.text_tokens,
                "output_tokens": w.output_tokens, "weight_dtype": w.weights.value,
                "act_dtype": w.act_dtype.value, "kv_dtype": w.kv.value,
                "flash_attention": w.flash_attention, "overlap": w.overlap, "logits": w.logits,
                "execution": w.execution,
                "compression": w.compression.model_dump() if w.compression else None,
            },
            "params": self.model.param_counts(),
            "stages": {
                s: {"flops": r.flops, "useful_flops": r.useful_flops, "bytes": r.bytes,
                    "weight_bytes": r.weight_bytes, "act_bytes": r.act_bytes,
                    "kv_bytes": r.kv_bytes, "latency_s": r.latency_s}
                for s, r in self.stages.items()
            },
            "ttft_s": self.ttft_s, "tpot_s": self.tpot_s, "e2e_latency_s": self.e2e_latency_s,
            "tokens_per_s": self.tokens_per_s,
            "memory": {k: v for k, v in self.memory.__dict__.items()},
            "parallel": self._parallel_dict(),
            **self._llm_viewer_dict(),
        }

    def _llm_viewer_dict(self) -> dict[str, Any]:
        """Under --convention llm-viewer: LLM-Viewer's own prefill totals (its field names);
        OPs, memory access and time are the prefill stage's, the traffic split is per op."""
        if self.workload.convention != "llm-viewer":
            return {}
        from costmodel.conventions.llm_viewer import prefill_traffic

        p = self.stages["prefill"]
        return {"llm_viewer": {"prefill": {
            "ops_flops": p.flops, "memory_access_bytes": p.bytes,
            **prefill_traffic(self.evaluation.op_costs), "inference_time_s": p.latency_s}}}

    def _parallel_dict(self) -> dict[str, Any]:
        p, hw = self.parallel, self.hardware
        if p is None:
            return {}

        def f(x: Any) -> float:
            return float(np.asarray(x).reshape(-1)[0])

        return {
            "tp": p.par.tp, "pp": p.par.pp, "microbatches": p.par.m, "gpus": p.par.gpus,
            "interconnect": hw.interconnect_kind,
            "link_bytes_per_s": hw.interconnect_bandwidth_Bps,
            "link_latency_s": link_latency_s(hw),
            "stage_layers": [list(b) for b in p.stage_layers],
            "comm_s": f(p.comm_s), "p2p_s": f(p.p2p_s),
            "prefill_bubble_fraction": p.prefill_bubble_fraction,
        }

    def to_frame(self, per_layer: bool = False) -> pd.DataFrame:
        """Per-operator tidy table (one row per operator; per_layer=True: one per layer)."""
        from costmodel.analysis.frames import op_frame

        return op_frame(self.evaluation, 0, per_layer)


def estimate(model: ModelSpec | str, hardware: HardwareProfile | str,
             workload: Workload | None = None, **fields: Any) -> Estimate:
    """Estimate one request. `model`/`hardware` are specs, zoo/bundled ids or file paths;
    keyword fields build the Workload (batch=8, visual_tokens=576, act_dtype='bf16', ...)."""
    from costmodel.loading.load import load_hardware, load_model

    spec = load_model(model) if isinstance(model, str) else model
    hw = load_hardware(hardware) if isinstance(hardware, str) else hardware
    w = workload or Workload(**fields)
    plan = visual_plan(spec, w)
    if w.convention == "llm-viewer":
        from costmodel.conventions.llm_viewer import bare_rates

        rates = bare_rates([hw], (w.weights, w.act_dtype, w.kv))
    else:
        rates = Rates.from_profiles([hw], w.act_dtype, w.execution)
    ev, par = evaluate_parallel(spec, points(plan, w), precision(w), rates,
                                np.asarray([hw.memory_bytes]), w.parallel,
                                flash=w.flash_attention, overlap=w.overlap,
                                all_logits=w.logits == "all", convention=w.convention,
                                compression=w.compression)
    return from_evaluation(spec, hw, w, plan, ev, par=par)


def from_evaluation(spec: ModelSpec, hw: HardwareProfile, w: Workload, plan: VisualPlan,
                    ev: Evaluation, i: int = 0, par: ParallelResult | None = None) -> Estimate:
    def f(x: np.ndarray) -> float:
        return float(np.asarray(x).reshape(-1)[i])

    stages = {s: StageResult(f(t.flops), f(t.useful_flops), f(t.weight_bytes), f(t.act_bytes),
                             f(t.kv_bytes), f(t.latency_s)) for s, t in ev.stages.items()}
    mem = Memory(f(ev.weights_bytes), f(ev.kv_cache_bytes), f(ev.activation_bytes),
                 f(ev.total_bytes), hw.memory_bytes, bool(np.asarray(ev.fits).reshape(-1)[i]))
    if par is not None:
        mem = dataclasses.replace(
            mem, per_gpu_bytes=f(par.per_gpu_total_bytes),
            per_gpu_weights_bytes=f(par.per_gpu_weights_bytes),
            per_gpu_kv_cache_bytes=f(par.per_gpu_kv_cache_bytes), gpus=par.par.gpus)
    else:
        mem = dataclasses.replace(mem, per_gpu_bytes=mem.total_bytes,
                                  per_gpu_weights_bytes=mem.weights_bytes,
                                  per_gpu_kv_cache_bytes=mem.kv_cache_bytes)
    assert tuple(stages) == STAGES
    return Estimate(spec, hw, w, plan, stages, f(ev.ttft_s), f(ev.tpot_s), f(ev.e2e_latency_s),
                    f(ev.tokens_per_s), mem, ev, par)
