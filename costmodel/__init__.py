"""costmodel: an operator-level roofline cost model for vision-language-model inference.

Public API:
    load_model(id_or_path) -> ModelSpec
    load_hardware(id_or_path) -> HardwareProfile
    estimate(model, hardware, workload=None, **workload_fields) -> Estimate
    Compression, CompressionPlan: a workload's token compression (compression=...)
"""

from costmodel.analysis.estimate import Estimate, estimate
from costmodel.errors import CostmodelError, UnknownName
from costmodel.loading.load import hardware_ids, load_hardware, load_model, model_ids
from costmodel.specs.compression import Compression, CompressionPlan
from costmodel.specs.hardware import HardwareProfile
from costmodel.specs.model import LLMSpec, ModelSpec, ProjectorSpec, VisionSpec
from costmodel.specs.workload import Workload
from costmodel.units import DType

__all__ = [
    "Compression", "CompressionPlan", "CostmodelError", "DType", "Estimate", "HardwareProfile",
    "LLMSpec", "ModelSpec", "ProjectorSpec", "UnknownName", "VisionSpec", "Workload", "estimate",
    "hardware_ids", "load_hardware", "load_model", "model_ids",
]
__version__ = "0.1.0"
