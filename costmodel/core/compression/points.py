"""Token compression applied to evaluation points: what every operator after each stage sees.
Formula: docs/methodology.md, section "Token compression".
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from costmodel.core.compression.kv import apply_kv, apply_sparse
from costmodel.core.compression.video import video_kept
from costmodel.core.cross_attention import check_compression
from costmodel.core.inputs import Points
from costmodel.core.ops import Arr
from costmodel.core.stages import vit_seq
from costmodel.errors import CostmodelError
from costmodel.specs.compression import AnyCompression, Compression, as_plan
from costmodel.specs.model import ModelSpec

EPS = 1e-9  # keeps floor(0.29 * 100) at 29 despite binary rounding


def kept_of(ratio: float | None, tokens: int | None, n: Arr) -> Arr:
    """Tokens kept out of n: min(tokens, n), or floor(ratio x n)."""
    n = np.asarray(n, dtype=float)
    if tokens is not None:
        return np.minimum(float(tokens), n)
    return np.floor(float(ratio or 0.0) * n + EPS)


def kept(comp: Compression, n: Arr) -> Arr:
    """Visual tokens kept out of n by a one-step stage (projector, encoder, FastV)."""
    return kept_of(comp.keep_ratio, comp.keep_tokens, n)


def tome_r(spec: ModelSpec, pts: Points, comp: Compression) -> Arr:
    """Tokens merged per ViT layer: given, or floor(patches * (1 - keep_ratio) / layers)."""
    v = spec.vision
    assert v is not None
    if comp.merge_per_layer is not None:
        return np.zeros_like(pts.seq_per_crop, dtype=float) + comp.merge_per_layer
    patches = pts.seq_per_crop - int(v.cls_token)
    return np.floor(patches * (1.0 - float(comp.keep_ratio or 0.0)) / v.executed_layers + EPS)


def llm_stages(spec: ModelSpec, pts: Points, comp: Compression) -> list[tuple[int, Arr, Arr]]:
    """(first layer, visual tokens entering, visual tokens kept) per LLM pruning stage; a
    stage never keeps more than the previous one (counts are capped at what is present)."""
    n_layers, out, cur = spec.llm.num_layers, [], pts.visual
    for lo, ratio, tokens in comp.llm_stages(n_layers):
        if lo >= n_layers:
            field = "schedule" if comp.schedule is not None else "layer"
            raise CostmodelError(f"compression.{field}: layer {lo} must be below the LLM's "
                                 f"{n_layers} layers")
        k = np.minimum(kept_of(ratio, tokens, pts.visual), cur)
        out.append((lo, cur, k))
        cur = k
    return out


def _llm(spec: ModelSpec, pts: Points, comp: Compression) -> Points:
    stages, n_layers = llm_stages(spec, pts, comp), spec.llm.num_layers
    groups, lo_prev, cur = [], 0, pts.visual
    for lo, _, k in stages:
        if lo > lo_prev:
            groups.append((lo_prev, lo, pts.text + cur))
        lo_prev, cur = lo, k
    groups.append((lo_prev, n_layers, pts.text + cur))
    return replace(pts, layer_prompt=tuple(groups))


def _no_merger(spec: ModelSpec, what: str, comp: Compression) -> None:
    if spec.vision is None or spec.projector is None:
        raise CostmodelError(f"compression.where: '{what}' needs a vision encoder; this model "
                             "has none")
    if spec.projector.merge_size != 1:
        # a named method's own place is not an --at the user gave: name the method
        by = f" ({comp.method}'s place)" if comp.method else ""
        m = spec.projector.merge_size
        raise CostmodelError(f"compression.where: '{what}'{by} is not modelled where the "
                             f"projector merges {m}x{m} patches into a token "
                             f"({spec.projector.kind}: it needs the whole grid); use projector "
                             "or llm_layer (--at llm-layer:K)")


def _vit(spec: ModelSpec, pts: Points, comp: Compression) -> Points:
    _no_merger(spec, "vit", comp)
    v = spec.vision
    assert v is not None
    merged = replace(pts, vit_merge=tome_r(spec, pts, comp))
    cls = int(v.cls_token)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(pts.seq_per_crop > cls,
                         (vit_seq(v, merged, v.executed_layers) - cls)
                         / np.maximum(pts.seq_per_crop - cls, 1.0), 1.0)
    # The CLS row of each pass is never merged: under LLaVA's "full" strategy it stays a feature
    keep = float(v.feature_keeps_cls) * pts.crops

    def rows(n: Arr) -> Arr:
        c = np.minimum(keep, n)
        return c + np.floor((n - c) * share + EPS)

    return replace(merged, projector_rows=rows(pts.projector_rows), visual=rows(pts.visual))


def _encoder(spec: ModelSpec, pts: Points, comp: Compression) -> Points:
    _no_merger(spec, "encoder", comp)
    k = kept(comp, pts.visual)
    return replace(pts, projector_rows=np.minimum(pts.projector_rows, k), visual=k)


def apply_stage(spec: ModelSpec, pts: Points, comp: Compression) -> Points:
    """The points after one stage."""
    if comp.where == "projector" and comp.is_video:  # per-frame keep, temporal merge
        return replace(pts, visual=video_kept(pts, comp))
    if comp.where == "projector":
        return replace(pts, visual=kept(comp, pts.visual))
    if comp.where == "llm_layer":
        return _llm(spec, pts, comp)
    if comp.where == "encoder":
        return _encoder(spec, pts, comp)
    return _vit(spec, pts, comp)


def stage_count(c: Compression) -> int | None:
    """The largest visual-token count stage c keeps: keep_tokens, or a schedule's largest count
    (entries > 1); None where it keeps ratios only."""
    if c.keep_tokens is not None:
        return c.keep_tokens
    return max((int(t) for _, t in c.schedule or () if t > 1), default=None)


def kept_counts(spec: ModelSpec, pts: Points,
                comp: AnyCompression | None) -> list[tuple[Compression, int, Arr]]:
    """Per stage of `comp` keeping a count (stage_count), in compress_points' order: (stage,
    count, the visual tokens entering the stage per point). An llm_layer stage is entered by
    the visual tokens reaching the LLM (after the vit, encoder, projector and video stages,
    before any in-LLM pruning). A count above them keeps them all: kept_of and llm_stages
    take the min, so that point is priced as with no count."""
    if spec.cross_vision is not None:
        check_compression(comp)
    plan, out = as_plan(comp), []
    for c in plan.ordered if plan is not None else ():
        count = stage_count(c)
        if count is not None:
            out.append((c, count, np.asarray(pts.visual, dtype=float)))
        if c.where != "llm_layer":  # the one llm_layer stage comes last and keeps the visual
            pts = apply_stage(spec, pts, c)
    return out


def capped_at(spec: ModelSpec, pts: Points, comp: AnyCompression | None) -> Arr:
    """Per point, the visual tokens a count of `comp` is capped at (NaN where none is): those
    entering the first stage whose count is above them (kept_counts)."""
    cap = np.full(np.shape(pts.visual), np.nan)
    for _, count, entering in kept_counts(spec, pts, comp):
        cap = np.where(np.isnan(cap) & (entering < count), entering, cap)
    return cap


def compress_points(spec: ModelSpec, pts: Points, comp: AnyCompression | None) -> Points:
    """The points every operator after the compression sees: the stages in order (vit,
    encoder, projector, llm_layer), then KV-cache compression (core/compression/kv.py)."""
    if spec.cross_vision is not None:  # Llama-3.2-Vision: only the cross cache shrinks
        check_compression(comp)
    plan = as_plan(comp)
    if plan is None:
        return pts
    for c in plan.ordered:
        pts = apply_stage(spec, pts, c)
    pts = apply_kv(spec.llm, pts, plan.kv) if plan.kv is not None else pts
    return apply_sparse(spec.llm, pts, plan)
