"""What every frozen spec shares: the pydantic config and the norm parameter count."""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, model_validator

# Layers of one stack (LLM or ViT). The largest published decoders have ~130; the bound keeps a
# config typo (1e9 layers) from running per-layer loops for hours instead of failing in one line.
MAX_LAYERS = 4_096

FROZEN = ConfigDict(frozen=True, extra="forbid")  # immutable; an unknown field is an error


def _takes_bool(tp: Any) -> bool:
    """The annotation admits a bool (or is a model, which checks its own fields)."""
    if tp is bool or (isinstance(tp, type) and issubclass(tp, BaseModel)):
        return True
    return any(_takes_bool(a) for a in get_args(tp))


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


def norm_params(kind: str, dim: int) -> int:
    """RMSNorm has a scale (dim); LayerNorm a scale and a bias (2 x dim)."""
    return dim if kind == "rmsnorm" else 2 * dim
