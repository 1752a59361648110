"""costmodel: an operator-level roofline cost model for vision-language-model inference.

Public API (docs/python-api.md):
    load_model(id_or_path) -> ModelSpec
    load_hardware(id_or_path_or_profile, sets=()) -> HardwareProfile (sets: what-if KEY=VALUE
        overrides, on a bundled id, a YAML path or a profile already loaded)
    estimate(model, hardware, workload=None, **workload_fields) -> Estimate
        (.to_frame(): per operator, .stage_frame(): per stage, .to_dict(): the CLI's JSON)
    compare_compression(model, hardware, keep=..., at=..., method=..., kv_keep=..., ...,
        **workload_fields) -> CompressionComparison (.frame(): `compare-compression --format
        csv`, .to_dict(): its JSON)
    compare(model, hardware=None, workload=None, engine=..., rank_by="e2e", power_mode=None,
        **workload_fields) -> DeviceComparison (devices, and engines given as a list, ranked:
        `compare`; .records(): its `--format json` rows, .frame(): its `--format csv`)
    plan(model, hardware=None, workload=None, ttft_s=..., tpot_s=..., max_batch=1024,
        engine=None, **workload_fields) -> DevicePlan (per device against a latency SLO: the
        largest batch meeting it, what limits it, the scaling that meets it: `plan`;
        .records(): its `--format json` rows, .frame(): its `--format csv`)
    batching(model, hardware=None, workload=None, batches=range(1, 257), engine=None,
        **workload_fields) -> BatchingStudy (decode versus batch: `batching`)
    capacity(model, hardware=None, workload=None, ttft_s=None, tpot_s=None, max_batch=1024,
        engine=None, **workload_fields) -> ServingCapacity (`capacity`; both with .records()
        and .frame() as plan's)
    energy(model, hardware=None, workload=None, engine=None, power_mode=None,
        **workload_fields) -> EnergyEstimate (per device, estimated joules per request, per
        stage, and per output token at TDP or the power mode: `energy`; .records(): its
        `--format json` rows, .frame(): its `--format csv`)
    costmodel.sweep.sweep(specs, hardware, visual_tokens, batch, ...) -> DataFrame (or an axis
        of images=, image_sizes=, video_frames=, video_seconds= with video_fps=)
    Compression, CompressionPlan, KVCompression: a workload's token compression (compression=...)
Bad input raises CostmodelError (a ValueError) with one line naming the field and the fix.
"""

from costmodel.analysis.compression import CompressionComparison, compare_compression
from costmodel.analysis.device_energy import EnergyEstimate, energy
from costmodel.analysis.device_ranking import DeviceComparison, compare
from costmodel.analysis.estimate import Estimate, estimate
from costmodel.analysis.planning import DevicePlan, plan
from costmodel.analysis.serving import BatchingStudy, ServingCapacity, batching, capacity
from costmodel.errors import CostmodelError, UnknownName
from costmodel.loading.load import hardware_ids, load_hardware, load_model, model_ids
from costmodel.specs.compression import Compression, CompressionPlan, KVCompression
from costmodel.specs.hardware import HardwareProfile
from costmodel.specs.model import LLMSpec, ModelSpec, ProjectorSpec, VisionSpec
from costmodel.specs.workload import Workload
from costmodel.units import DType

__all__ = [
    "BatchingStudy", "Compression", "CompressionComparison", "CompressionPlan", "CostmodelError",
    "DType", "DeviceComparison", "DevicePlan", "EnergyEstimate", "Estimate", "HardwareProfile",
    "KVCompression", "LLMSpec", "ModelSpec", "ProjectorSpec", "ServingCapacity", "UnknownName",
    "VisionSpec", "Workload", "batching", "capacity", "compare", "compare_compression", "energy",
    "estimate", "hardware_ids", "load_hardware", "load_model", "model_ids", "plan",
]
__version__ = "0.1.0"

# Submodules a notebook reaches as attributes after `import costmodel` alone
# (costmodel.sweep.sweep, costmodel.plots.sweep_figure), imported on first use: `import
# costmodel` imports neither pandas nor matplotlib.
_LAZY = ("sweep", "plots")


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"costmodel.{name}")
    raise AttributeError(f"module 'costmodel' has no attribute {name!r}")

