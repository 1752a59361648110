"""Token-compression scenarios: where visual tokens are removed and how many remain.

where='projector': after the projector, before the LLM; the vision encoder and projector see
  every token, the LLM sees the kept visual tokens (select | cluster | merge | divprune).
where='encoder': after the vision encoder, before the projector (VisionZip, PruMerge): the
  projector and the LLM see the kept tokens.
where='llm_layer': pruning inside the LLM. One stage (FastV at layer K, `layer`): layers < K
  see every prompt token, layers >= K the text tokens plus the kept visual tokens. Several
  stages (`schedule`, PyramidDrop-style): ((first layer, kept), ...) with layers increasing
  and kept not increasing; layers before the first entry see every token. The KV cache of
  each layer holds what that layer saw.
where='vit': ToMe-style merging inside the vision encoder: each executed ViT layer merges
  `merge_per_layer` (r) tokens, so layer i sees S - r*i tokens; if r is not given it follows
  from keep_ratio as r = floor(patches * (1 - keep_ratio) / layers).

Kept visual tokens: keep_tokens (a count, capped at the tokens present) or
floor(keep_ratio * tokens); schedule entries are all counts (> 1) or all ratios (0..1).
`overhead` adds the method's own cost as separate operators; `eager_scoring` (None = the
named method's own need, costmodel/specs/compression_methods.py) prices the scoring layer
with eager attention. A `CompressionPlan` chains one stage per place (vit -> encoder ->
projector -> llm_layer) and a KV-cache compression (`KVCompression`, applied after prefill).
Formulas: docs/methodology.md, section "Token compression".
"""

from __future__ import annotations

from typing import Literal

from pydantic import (
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    model_validator,
)

from costmodel.specs.base import InputModel
from costmodel.specs.compression_methods import ALLOWED, DEFAULT_METHOD, METHODS, ORDER

Where = Literal["projector", "llm_layer", "vit", "encoder"]
Method = Literal["select", "cluster", "merge", "fastv", "tome", "pyramiddrop", "sparsevlm",
                 "visionzip", "divprune", "prumerge", "dymu", "tempmerge", "dycoke"]


def check_schedule(entries: tuple[tuple[int, float], ...]) -> None:
    if not entries:
        raise ValueError("schedule: give at least one LAYER:TOKENS entry")
    layers = [lo for lo, _ in entries]
    values = [v for _, v in entries]
    if any(b <= a for a, b in zip(layers, layers[1:], strict=False)) or layers[0] < 0:
        raise ValueError("schedule: layers must start at >= 0 and increase, e.g. "
                         "0:576,8:288,16:144")
    if any(v < 0 for v in values):
        raise ValueError("schedule: kept tokens must be >= 0")
    nonzero = [v for v in values if v != 0]
    ratios, counts = all(v <= 1 for v in nonzero), all(v > 1 for v in nonzero)
    if not (ratios or counts):
        raise ValueError("schedule: give every entry as a count (> 1) or every one as a "
                         "ratio (0..1), not a mix")
    if counts and any(v != int(v) for v in values):
        raise ValueError("schedule: token counts above 1 must be whole numbers")
    if any(b > a for a, b in zip(values, values[1:], strict=False)):
        raise ValueError("schedule: kept tokens must not increase from one stage to the next")


class Compression(InputModel):
    """One compression stage (frozen; see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    where: Where
    keep_ratio: float | None = Field(default=None, ge=0.0, le=1.0)
    keep_tokens: int | None = Field(default=None, ge=0)
    layer: int | None = Field(default=None, ge=1)  # FastV's K
    schedule: tuple[tuple[NonNegativeInt, float], ...] | None = None  # (layer, kept) stages
    merge_per_layer: int | None = Field(default=None, ge=0)  # ToMe's r
    method: Method | None = None
    cluster_iters: PositiveInt = 10  # k-means iterations for method='cluster'
    eager_scoring: bool | None = None  # None: the named method's need (compression_methods)
    overhead: bool = True
    # Video methods (tempmerge, dycoke): share of each frame's kept tokens merged into the
    # previous frame's (frames 2..F); keep_ratio is then the per-frame keep.
    temporal_merge: float | None = Field(default=None, ge=0.0, lt=1.0)

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, data: object) -> object:
        """A named method fills in its place, its pruning layer and its default keep."""
        if not isinstance(data, dict) or data.get("method") not in METHODS:
            return data
        info, d = METHODS[data["method"]], dict(data)
        d.setdefault("where", info.where)
        free = d.get("schedule") is None and d["where"] == info.where == "llm_layer"
        if free and d.get("layer") is None and info.layer is not None:
            d["layer"] = info.layer
        if free and d.get("keep_ratio") is None and d.get("keep_tokens") is None and info.keep:
            d["keep_ratio"] = info.keep
        if info.video and d.get("keep_ratio") is None and d.get("keep_tokens") is None:
            d["keep_ratio"] = 1.0  # a video method keeps every token of a frame by default
        return d

    @model_validator(mode="after")
    def _check(self) -> Compression:
        if self.method is not None and self.method not in ALLOWED[self.where]:
            raise ValueError(f"method: '{self.method}' does not apply at {self.where}; use one of "
                             f"{', '.join(ALLOWED[self.where])}")
        if self.keep_ratio is not None and self.keep_tokens is not None:
            raise ValueError("keep_tokens: give keep_ratio or keep_tokens, not both")
        if self.schedule is not None:
            self._check_schedule()
        elif self.where == "vit":
            if self.keep_tokens is not None:
                raise ValueError("keep_tokens: ToMe in the ViT merges r per layer; give "
                                 "merge_per_layer or keep_ratio")
            if self.merge_per_layer is None and self.keep_ratio is None:
                raise ValueError("merge_per_layer: ToMe needs merge_per_layer (r) or keep_ratio")
        elif self.keep_ratio is None and self.keep_tokens is None:
            raise ValueError("keep_ratio: give keep_ratio (0..1) or keep_tokens (a count)")
        if self.where == "llm_layer" and self.layer is None and self.schedule is None:
            if not self._preset_stages:
                raise ValueError("layer: pruning inside the LLM needs the layer K (>= 1) or a "
                                 "schedule")
            if self.keep_tokens is not None:
                raise ValueError(f"keep_tokens: the {self.method} preset keeps a ratio lambda "
                                 "per stage; give keep_ratio, or a schedule for counts")
        self._check_video()
        if self.where != "llm_layer" and self.layer is not None:
            raise ValueError("layer: only where='llm_layer' takes a layer")
        if self.where != "vit" and self.merge_per_layer is not None:
            raise ValueError("merge_per_layer: only where='vit' merges per layer")
        return self

    def _check_video(self) -> None:
        if not self.is_video:
            if self.temporal_merge is not None:
                raise ValueError("temporal_merge: only the video methods (tempmerge, dycoke) "
                                 "merge across frames")
            return
        if self.keep_tokens is not None:
            raise ValueError(f"keep_tokens: {self.method} keeps a ratio of each frame's tokens, "
                             "not a count; give keep_ratio (0..1)")
        if self.temporal_merge is None:
            raise ValueError(f"temporal_merge: {self.method} needs the share of each frame's "
                             "tokens merged into the previous frame (0..1)")

    @property
    def is_video(self) -> bool:
        """A video method: per-frame keep and temporal merge (core/compression/video.py)."""
        return self.method is not None and METHODS[self.method].video

    def _check_schedule(self) -> None:
        if self.where != "llm_layer":
            raise ValueError("schedule: only where='llm_layer' takes a schedule")
        if (self.layer, self.keep_ratio, self.keep_tokens) != (None, None, None):
            raise ValueError("schedule: give a schedule or layer + keep, not both")
        check_schedule(self.schedule or ())

    @property
    def kind(self) -> str:
        """The method, with the default for the place (select / fastv / tome / visionzip)."""
        return self.method or DEFAULT_METHOD[self.where]

    @property
    def eager(self) -> bool:
        """Whether the scoring layer runs eager attention (no FlashAttention)."""
        if self.eager_scoring is not None:
            return self.eager_scoring
        return self.method is not None and METHODS[self.method].eager is not None

    @property
    def _preset_stages(self) -> tuple[float, ...]:
        return METHODS[self.method].stages if self.method is not None else ()

    def llm_stages(self, n_layers: int) -> tuple[tuple[int, float | None, int | None], ...]:
        """LLM pruning stages as (first layer, keep ratio, keep tokens). A preset with stages
        (PyramidDrop) starts stage i at floor(f_i x layers), keeping lambda^(i+1)."""
        if self.schedule is None and self.layer is None:
            lam = float(self.keep_ratio if self.keep_ratio is not None else 1.0)
            return tuple((max(1, int(f * n_layers)), lam ** (i + 1), None)
                         for i, f in enumerate(self._preset_stages))
        if self.schedule is None:
            return ((int(self.layer or 0), self.keep_ratio, self.keep_tokens),)
        ratio = all(v <= 1 for _, v in self.schedule)
        return tuple((lo, v if ratio else None, None if ratio else int(v))
                     for lo, v in self.schedule)

    @property
    def label(self) -> str:
        """Short text id, e.g. 'fastv@L2 keep 0.5' or 'pyramiddrop@L 0:576,8:288'. Pruning in
        the LLM with no method (FlashAttention throughout, no eager scoring layer) is 'prune':
        'fastv' would name FastV's eager layer K-1, which it does not price."""
        kind = "prune" if self.where == "llm_layer" and self.method is None and not self.eager \
            else self.kind
        if self.schedule is not None:
            sched = ",".join(f"{lo}:{v:g}" for lo, v in self.schedule)
            return f"{kind}@L {sched}"
        if self.where == "llm_layer" and self.layer is None:
            return f"{kind}@stages lambda {self.keep_ratio:g}"
        at = {"projector": "projector", "llm_layer": f"L{self.layer}", "vit": "vit",
              "encoder": "encoder"}[self.where]
        if self.where == "vit" and self.merge_per_layer is not None:
            return f"{kind}@{at} r={self.merge_per_layer}"
        keep = self.keep_ratio if self.keep_ratio is not None else self.keep_tokens
        if self.is_video:
            return f"{kind}@{at} keep {keep:g}/frame merge {self.temporal_merge:g}"
        return f"{kind}@{at} keep {keep:g}"


# TidalDecode (Yang et al., arXiv 2410.05076, Figure 2): full attention in the first two
# layers, token selection in the third and in "a middle layer" (13 assumed for 32 layers; the
# paper's choice per model is not confirmed here: docs/methodology.md).
SPARSE_DENSE = (0, 1)
SPARSE_SELECT = (2, 13)
RETRIEVAL_SHARE = 0.15  # assumed default share of retrieval heads (model-specific; set it)
KVPolicy = Literal["uniform", "pyramid", "sink_window", "retrieval_heads"]


class KVCompression(InputModel):
    """KV-cache compression applied after prefill: each layer keeps a budget of its prompt
    tokens' K and V (generated tokens are appended and kept). keep_ratio: budget = floor(ratio
    x the layer's prompt tokens); keep_tokens: a per-layer budget (capped at the prompt).
    policy: 'uniform' (every layer the same, SnapKV-style scoring over an observation window of
    `obs_window` queries), 'pyramid' (PyramidKV: budgets falling linearly with depth, bottom
    layer 2M - M/beta, top M/beta, mean M; capped at the prompt with the mean kept), or
    'sink_window' (StreamingLLM: `sink_tokens` first tokens + the most recent ones, no scoring),
    or 'retrieval_heads' (RazorAttention: a share `retrieval_heads` of the KV heads keeps every
    token; the others keep `sink_tokens` + a recent buffer of the budget + one compensation
    token; heads chosen offline, no scoring).
    during_decode (sink_window only): the budget is a rolling cap while generating
    (StreamingLLM's cache stops growing at sink + recent = the budget; a ring buffer, so
    evicting a token during decode moves nothing).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    keep_ratio: float | None = Field(default=None, ge=0.0, le=1.0)
    keep_tokens: NonNegativeInt | None = None
    policy: KVPolicy = "uniform"
    beta: float = Field(default=20.0, gt=1.0)  # PyramidKV's top-layer divisor
    sink_tokens: NonNegativeInt = 4  # StreamingLLM's attention sinks
    obs_window: PositiveInt = 32  # SnapKV's observation window (queries scoring the keys)
    # RazorAttention: share of KV heads kept whole (ceil(share x KV heads) per layer). 0.15 is
    # an assumed default: the retrieval heads are model-specific, set the share you found.
    retrieval_heads: float = Field(default=RETRIEVAL_SHARE, ge=0.0, le=1.0)
    during_decode: bool = False  # sink_window: the budget also caps the cache while decoding
    overhead: bool = True

    @model_validator(mode="after")
    def _check(self) -> KVCompression:
        if (self.keep_ratio is None) == (self.keep_tokens is None):
            raise ValueError("kv.keep_ratio: give keep_ratio (0..1) or keep_tokens (a "
                             "per-layer budget), one of them")
        if self.retrieval_heads != RETRIEVAL_SHARE and self.policy != "retrieval_heads":
            raise ValueError(f"kv.retrieval_heads: only the retrieval_heads policy uses it (policy "
                             f"is {self.policy}); drop it or set policy retrieval_heads")
        if self.during_decode and self.policy != "sink_window":
            raise ValueError(f"kv.during_decode: only the sink_window policy keeps a rolling "
                             f"cache while decoding (policy is {self.policy})")
        return self

    @property
    def label(self) -> str:
        keep = self.keep_ratio if self.keep_ratio is not None else self.keep_tokens
        if self.during_decode:
            return f"kv sink_window:rolling keep {keep:g}"
        if self.policy == "retrieval_heads":
            return f"kv retrieval_heads {self.retrieval_heads:g} keep {keep:g}"
        return f"kv {self.policy} keep {keep:g}"


class CompressionPlan(InputModel):
    """Several stages, at most one per place, applied in the order vit -> encoder ->
    projector -> llm_layer, then KV-cache compression after prefill."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    stages: tuple[Compression, ...] = ()
    kv: KVCompression | None = None
    # TidalDecode sparse decode attention: keys read per non-selection layer (top-k), and the
    # token selection layers (None: the paper's, SPARSE_SELECT; layers 0-1 stay dense).
    sparse_decode: PositiveInt | None = None
    sparse_select: tuple[NonNegativeInt, ...] | None = None

    @model_validator(mode="after")
    def _check(self) -> CompressionPlan:
        places = [c.where for c in self.stages]
        if len(set(places)) != len(places):
            raise ValueError("stages: at most one stage per place (vit, encoder, projector, "
                             "llm_layer)")
        if not self.stages and self.kv is None and self.sparse_decode is None:
            raise ValueError("stages: give at least one stage, a kv compression or "
                             "sparse_decode")
        if self.sparse_select is not None and self.sparse_decode is None:
            raise ValueError("sparse_select: names the selection layers of sparse_decode; "
                             "give sparse_decode (the top-k) too")
        if self.sparse_select is not None and (not self.sparse_select or list(
                self.sparse_select) != sorted(set(self.sparse_select))):
            raise ValueError("sparse_select: give increasing layer indices, e.g. 2,13")
        return self

    @property
    def ordered(self) -> tuple[Compression, ...]:
        return tuple(sorted(self.stages, key=lambda c: ORDER.index(c.where)))

    @property
    def label(self) -> str:
        parts = [c.label for c in self.ordered] + ([self.kv.label] if self.kv else [])
        if self.sparse_decode is not None:
            parts.append(f"sparse_decode top-{self.sparse_decode}")
        return " + ".join(parts)


AnyCompression = Compression | CompressionPlan


def as_plan(c: AnyCompression | None) -> CompressionPlan | None:
    """Every compression as a plan (a single stage becomes a one-stage plan)."""
    if c is None or isinstance(c, CompressionPlan):
        return c
    return CompressionPlan(stages=(c,))
