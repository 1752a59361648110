"""What every frozen spec shares: the pydantic config, the bases of the models read from files
(FileModel) and built from Python (InputModel), and the norm parameter count."""

from __future__ import annotations

import math
from typing import Annotated, Any, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, model_validator

from costmodel.errors import FieldError, field_error

# Layers of one stack (LLM or ViT). The largest published decoders have ~130; the bound keeps a
# config typo (1e9 layers) from running per-layer loops for hours instead of failing in one line.
MAX_LAYERS = 4_096

FROZEN = ConfigDict(frozen=True, extra="forbid")  # immutable; an unknown field is an error


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError(f"{text!r} is blank; write one (visible characters)")
    return text


# A file's id or name: at least one visible character (id: ' ' was a device named blank).
NonBlank = Annotated[str, AfterValidator(_not_blank)]


# A figure in its key's units is scaled by at most TERA to base units: above this it becomes
# inf there (memory_bandwidth_GBps=1e300 was inf B/s, so memory time 0, and accepted).
MAX_FIGURE = 1e290


def _positive(x: float) -> float:
    if not (math.isfinite(x) and x > 0):
        raise ValueError(f"{x:g} must be a finite number > 0")
    return _not_huge(x)


def _non_negative(x: float) -> float:
    if not (math.isfinite(x) and x >= 0):
        raise ValueError(f"{x:g} must be a finite number >= 0")
    return _not_huge(x)


def _not_huge(x: float) -> float:
    if x > MAX_FIGURE:
        raise ValueError(f"{x:g} is above {MAX_FIGURE:g} (infinite in base units); give the "
                         "figure in the key's units")
    return x


# A figure (hardware YAML): finite and > 0 (inf, 1e400 and NaN refused alike); or >= 0.
PositiveFloat = Annotated[float, AfterValidator(_positive)]
NonNegativeFloat = Annotated[float, AfterValidator(_non_negative)]


def _takes_bool(tp: Any) -> bool:
    """The annotation admits a bool (or is a model, which checks its own fields)."""
    if tp is bool or (isinstance(tp, type) and issubclass(tp, BaseModel)):
        return True
    return any(_takes_bool(a) for a in get_args(tp))


def _takes_number(tp: Any) -> bool:
    """The annotation admits an int or a float (PositiveInt, tuple[int, int], ...)."""
    if isinstance(tp, type) and issubclass(tp, int | float) and not issubclass(tp, bool):
        return True
    return any(_takes_number(a) for a in get_args(tp))


def _holds_bool(value: Any) -> bool:
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return any(isinstance(x, bool) for x in value)
    return isinstance(value, bool)


class FileModel(BaseModel):
    """A YAML file's fields: frozen, an unknown key refused, and true / false refused where a
    number goes (pydantic's lax mode would read `true` as 1)."""

    model_config = FROZEN

    @model_validator(mode="before")
    @classmethod
    def _no_bool_figures(cls, data: object) -> object:
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                value = data.get(field.alias or name)
                if _holds_bool(value) and not _takes_bool(field.annotation):
                    raise ValueError(f"{name}: true / false is not a number; give the figure")
        return data


class OneLineModel(BaseModel):
    """A model a user may build by hand (the specs costmodel exports: ModelSpec, LLMSpec,
    VisionSpec, ProjectorSpec, TokenScheme; and every InputModel): a bad value given to the
    constructor is costmodel.errors.FieldError, one line, a CostmodelError and still pydantic's
    ValidationError (model_validate, which the loaders use, raises pydantic's own)."""

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except FieldError:
            raise
        except ValidationError as e:
            raise field_error(e) from None


class InputModel(OneLineModel):
    """A model built from Python (Workload, Parallelism, Compression, KVCompression,
    CompressionPlan): frozen, an unknown field refused, True / False refused where a number
    goes (pydantic's lax mode reads True as 1: batch=True was a batch of 1), and a bad value
    raised as costmodel.errors.FieldError: one line, a CostmodelError and still pydantic's
    ValidationError. Nested in another model it fails as pydantic fails, with its location."""

    model_config = FROZEN

    @model_validator(mode="before")
    @classmethod
    def _no_bool_numbers(cls, data: object) -> object:
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                value = data.get(name)
                if (_holds_bool(value) and _takes_number(field.annotation)
                        and not _takes_bool(field.annotation)):
                    raise ValueError(f"{name}: got {value!r}; True / False is not a "
                                     "number here, give the number")
        return data


def norm_params(kind: str, dim: int) -> int:
    """RMSNorm has a scale (dim); LayerNorm a scale and a bias (2 x dim)."""
    return dim if kind == "rmsnorm" else 2 * dim
