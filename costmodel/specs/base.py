"""What every frozen spec shares: the pydantic config and the norm parameter count."""

from __future__ import annotations

from pydantic import ConfigDict

FROZEN = ConfigDict(frozen=True, extra="forbid")  # immutable; an unknown field is an error


def norm_params(kind: str, dim: int) -> int:
    """RMSNorm has a scale (dim); LayerNorm a scale and a bias (2 x dim)."""
    return dim if kind == "rmsnorm" else 2 * dim
