"""Token-compression scenarios: where visual tokens are removed and how many remain.

where='projector': after the projector, before the LLM; the vision encoder and projector see
  every token, the LLM sees the kept visual tokens (method select | cluster | merge).
where='llm_layer': FastV-style pruning inside the LLM at layer K (`layer`): layers < K see every
  prompt token, layers >= K the text tokens plus the kept visual tokens; the KV cache of each
  layer holds what that layer saw.
where='vit': ToMe-style merging inside the vision encoder: each executed ViT layer merges
  `merge_per_layer` (r) tokens, so layer i sees S - r*i tokens; if r is not given it follows
  from keep_ratio as r = floor(patches * (1 - keep_ratio) / layers).

Kept visual tokens: keep_tokens (a count, capped at the tokens present) or
floor(keep_ratio * tokens). `overhead` adds the method's own cost as separate operators.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

Where = Literal["projector", "llm_layer", "vit"]
Method = Literal["select", "cluster", "merge", "fastv", "tome"]
_DEFAULT_METHOD: dict[str, str] = {"projector": "select", "llm_layer": "fastv", "vit": "tome"}
_ALLOWED: dict[str, tuple[str, ...]] = {
    "projector": ("select", "cluster", "merge"), "llm_layer": ("fastv",), "vit": ("tome",),
}


class Compression(BaseModel):
    """One compression scenario (frozen; see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    where: Where
    keep_ratio: float | None = Field(default=None, ge=0.0, le=1.0)
    keep_tokens: int | None = Field(default=None, ge=0)
    layer: int | None = Field(default=None, ge=1)  # FastV's K
    merge_per_layer: int | None = Field(default=None, ge=0)  # ToMe's r
    method: Method | None = None
    cluster_iters: PositiveInt = 10  # k-means iterations for method='cluster'
    overhead: bool = True

    @model_validator(mode="after")
    def _check(self) -> Compression:
        if self.method is not None and self.method not in _ALLOWED[self.where]:
            raise ValueError(f"method: '{self.method}' does not apply at {self.where}; use one of "
                             f"{', '.join(_ALLOWED[self.where])}")
        if self.keep_ratio is not None and self.keep_tokens is not None:
            raise ValueError("keep_tokens: give keep_ratio or keep_tokens, not both")
        if self.where == "vit":
            if self.keep_tokens is not None:
                raise ValueError("keep_tokens: ToMe in the ViT merges r per layer; give "
                                 "merge_per_layer or keep_ratio")
            if self.merge_per_layer is None and self.keep_ratio is None:
                raise ValueError("merge_per_layer: ToMe needs merge_per_layer (r) or keep_ratio")
        elif self.keep_ratio is None and self.keep_tokens is None:
            raise ValueError("keep_ratio: give keep_ratio (0..1) or keep_tokens (a count)")
        if self.where == "llm_layer" and self.layer is None:
            raise ValueError("layer: FastV pruning inside the LLM needs the layer K (>= 1)")
        if self.where != "llm_layer" and self.layer is not None:
            raise ValueError("layer: only where='llm_layer' takes a layer")
        if self.where != "vit" and self.merge_per_layer is not None:
            raise ValueError("merge_per_layer: only where='vit' merges per layer")
        return self

    @property
    def kind(self) -> str:
        """The method, with the default for the place (select / fastv / tome)."""
        return self.method or _DEFAULT_METHOD[self.where]

    @property
    def label(self) -> str:
        """Short text id, e.g. 'fastv@L2 keep 0.5' or 'cluster@projector keep 64'."""
        at = {"projector": "projector", "llm_layer": f"L{self.layer}", "vit": "vit"}[self.where]
        if self.where == "vit" and self.merge_per_layer is not None:
            return f"{self.kind}@{at} r={self.merge_per_layer}"
        keep = self.keep_ratio if self.keep_ratio is not None else self.keep_tokens
        return f"{self.kind}@{at} keep {keep:g}"
