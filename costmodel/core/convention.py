"""A counting convention: how a workload becomes operators, rates and a memory footprint.

The core evaluates through this small interface and never imports a convention module;
`costmodel.conventions` holds the registry (name -> object) and the other conventions
(LLM-Viewer's). `COSTMODEL` below is costmodel's own count (docs/methodology.md).
To add a convention: implement these methods in costmodel/conventions/<name>.py and register
the object in costmodel/conventions/__init__.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from costmodel.core.decode_caps import decode_knees
from costmodel.core.inputs import Options, Points, Precision
from costmodel.core.metrics import Footprint, footprint
from costmodel.core.model_ops import decode_ops, stage_ops
from costmodel.core.ops import Arr, Op
from costmodel.core.parallel.tensor import with_allreduce
from costmodel.core.quant import dequant_flops_per_element, weight_bytes_per_element, with_dequant
from costmodel.core.roofline import Rates
from costmodel.core.stages import kv_groups
from costmodel.specs.engine import IDEAL, Engine
from costmodel.specs.hardware import HardwareProfile
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import Workload
from costmodel.units import DType


class Convention(Protocol):
    name: str
    default_engine: str  # engine id when the workload leaves engine unset
    default_flash: bool | None  # attention kernel when unset; None: the engine's

    def check(self, w: Workload, engine: Engine) -> None:
        """Raise CostmodelError (one line naming the field) for a field it cannot honour."""

    def precision(self, w: Workload, engine: Engine) -> Precision: ...

    def rates(self, profiles: Sequence[HardwareProfile], dtypes: Sequence[DType],
              w: Workload, engine: Engine) -> Rates:
        """Rates on `engine` (the expected latency), one entry per device."""
        ...

    def bound_rates(self, profiles: Sequence[HardwareProfile], dtypes: Sequence[DType],
                    w: Workload) -> Rates:
        """Rates of the roofline bound (datasheet peaks, no launches), one entry per device."""
        ...

    def stage_ops(self, spec: ModelSpec, pts: Points, p: Precision,
                  o: Options) -> dict[str, list[Op]]:
        """Operators of vision, projector and prefill (spec = one GPU's TP shard)."""
        ...

    def decode_ops(self, spec: ModelSpec, pts: Points, step: Arr | float, p: Precision,
                   o: Options) -> list[Op]:
        """Operators of decode step `step` (0-based)."""
        ...

    def decode_knees(self, spec: ModelSpec, pts: Points) -> list[Arr]:
        """Steps after which a decode operator's cost changes slope (core/decode_caps.py)."""
        ...

    def footprint(self, spec: ModelSpec, gpu: ModelSpec, pts: Points, p: Precision, o: Options,
                  activation_bytes: Arr) -> Footprint: ...

    def extras(self, stages: dict[str, Any], costs: Sequence[Any], i: int) -> dict[str, Any]:
        """Convention-specific output keys for point i (empty for costmodel)."""
        ...


class CostmodelConvention:
    """costmodel's own count: every stage, weight quantisation scales and dequantisation,
    tensor-parallel collectives, the profile's efficiencies and launch overhead."""

    name = "costmodel"
    # Token-compression papers time their methods in Hugging Face transformers (LLaVA's
    # codebase, model.generate): the expected latency a researcher compares with is hf-eager.
    default_engine = "hf-eager"
    default_flash: bool | None = None

    def check(self, w: Workload, engine: Engine) -> None:
        return None

    def precision(self, w: Workload, engine: Engine) -> Precision:
        """The decoder layers' weight format, and each other part stored otherwise (a part
        outside w.weight_parts is in the activation dtype: specs/quantization.py)."""
        def fmt(dtype: DType) -> tuple[float, float]:
            return (weight_bytes_per_element(dtype, w.act_dtype, *w.int4_group(engine.int4_format)),
                    dequant_flops_per_element(dtype, w.act_dtype))

        layers = fmt(w.part_dtype("layers"))
        parts = tuple((part, *fmt(w.part_dtype(part))) for part in ("vision", "lm_head", "embed"))
        return Precision(
            weight_bytes_per_element=layers[0], act_bytes_per_element=w.act_dtype.bytes_per_element,
            kv_bytes_per_element=w.kv.bytes_per_element, dequant_flops=layers[1],
            parts=tuple(p for p in parts if p[1:] != layers))

    def rates(self, profiles: Sequence[HardwareProfile], dtypes: Sequence[DType],
              w: Workload, engine: Engine) -> Rates:
        return Rates.from_profiles(profiles, dtypes, engine,
                                   act_bytes_per_element=w.act_dtype.bytes_per_element,
                                   kv_dtype=w.kv)

    def bound_rates(self, profiles: Sequence[HardwareProfile], dtypes: Sequence[DType],
                    w: Workload) -> Rates:
        return Rates.from_profiles(profiles, dtypes, IDEAL)

    def _finish(self, ops: list[Op], p: Precision, o: Options) -> list[Op]:
        """Weight dequantisation work (core/quant.py) and TP collectives (parallel/tensor.py)."""
        return with_allreduce(with_dequant(ops, p), o.parallel.tp)

    def stage_ops(self, spec: ModelSpec, pts: Points, p: Precision,
                  o: Options) -> dict[str, list[Op]]:
        ops = stage_ops(spec, pts, p, o.flash, o.all_logits)
        return {s: self._finish(v, p, o) for s, v in ops.items()}

    def decode_ops(self, spec: ModelSpec, pts: Points, step: Arr | float, p: Precision,
                   o: Options) -> list[Op]:
        return self._finish(decode_ops(spec, pts, step, p, o.flash), p, o)

    def decode_knees(self, spec: ModelSpec, pts: Points) -> list[Arr]:
        if spec.cross_vision is not None:  # no windows or caps in Llama-3.2-Vision
            return []
        return decode_knees(spec.llm, kv_groups(spec.llm, pts), pts)

    def footprint(self, spec: ModelSpec, gpu: ModelSpec, pts: Points, p: Precision, o: Options,
                  activation_bytes: Arr) -> Footprint:
        return footprint(spec, gpu, pts, p, o.parallel, activation_bytes)

    def extras(self, stages: dict[str, Any], costs: Sequence[Any], i: int) -> dict[str, Any]:
        return {}


COSTMODEL = CostmodelConvention()
