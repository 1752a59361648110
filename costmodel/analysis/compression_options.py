"""The compression options as text (the CLI's --keep, --at, --method, --schedule, --kv-keep,
--kv-policy, --sparse-decode, --cluster-iters, --merge-per-layer, and the same keywords of
`costmodel.compare_compression`) -> a Compression or a CompressionPlan
(`compression_from_options`), and the checks on them: one place for the CLI and the Python API,
so both refuse the same input with the same line (a CostmodelError naming the option and the
fix). A comma list of --keep values is `keep_values`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import ValidationError

from costmodel.core.compression.formulas import visual_token_counts
from costmodel.core.compression.points import kept_counts
from costmodel.core.inputs import Points
from costmodel.core.ops import Arr
from costmodel.errors import CostmodelError, one_line
from costmodel.specs.compression import (
    AnyCompression,
    Compression,
    CompressionPlan,
    KVCompression,
    as_plan,
    check_schedule,
)
from costmodel.specs.compression_methods import METHODS, MethodInfo
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import Workload
from costmodel.units import count as count_text

KV_POLICIES = ("uniform", "pyramid", "sink_window", "retrieval_heads")

def parse_at(text: str) -> tuple[str, int | None]:
    """'projector' | 'encoder' | 'llm-layer:K' | 'vit' -> (where, K)."""
    t = text.strip().lower()
    if t in ("projector", "vit", "encoder"):
        return t, None
    head, _, k = t.partition(":")
    if head in ("llm-layer", "llm_layer") and k.strip().isdigit() and int(k) >= 1:
        return "llm_layer", int(k)
    raise CostmodelError(f"--at: '{text}' is not projector, encoder, llm-layer:K (K >= 1) or vit")


def parse_keep(text: str, option: str = "--keep") -> tuple[float | None, int | None]:
    """'0.1' -> ratio 0.1; '64' -> 64 tokens. Values up to 1 are ratios, larger ones counts."""
    if "," in text:  # a list: only compare-compression takes one (keep_values)
        raise CostmodelError(f"{option}: one value here; compare several with `costmodel "
                             f"compare-compression MODEL -H HW --keep {text}`")
    try:
        x = float(text)
    except ValueError:
        raise CostmodelError(f"{option}: '{text}' is not a ratio (0..1) or a token count") from None
    if not math.isfinite(x) or x < 0:
        raise CostmodelError(f"{option}: '{text}' must be a ratio in 0..1 or a count >= 2")
    if x <= 1.0:
        return x, None
    if x != int(x):
        raise CostmodelError(f"{option}: '{text}' is above 1, so it must be a whole token count")
    return None, int(text) if text.strip().isdigit() else int(x)  # 10**30 as typed, not 1e30


def parse_schedule(text: str) -> tuple[tuple[int, float], ...]:
    """'0:576,8:288' -> ((0, 576.0), (8, 288.0)), checked by the spec's schedule rules."""
    try:
        pairs = [p.split(":") for p in text.split(",")]
        entries = tuple((int(lo), float(v)) for lo, v in pairs)
    except ValueError:
        raise CostmodelError(f"--schedule: '{text}' is not LAYER:TOKENS pairs, e.g. "
                             "0:576,8:288,16:144 (tokens a count or a ratio 0..1)") from None
    try:
        check_schedule(entries)
    except ValueError as e:
        raise CostmodelError(f"--schedule: {str(e).removeprefix('schedule: ')}") from None
    return entries


def parse_video_method(text: str | None) -> tuple[str | None, float | None]:
    """'tempmerge:0.5' -> ('tempmerge', 0.5): a video method and the share of each frame's
    tokens merged into the previous frame; other methods pass unchanged."""
    if text is None or ":" not in text:
        if text in METHODS and METHODS[text].video:
            raise CostmodelError(f"--method: {text} needs the share merged across frames, e.g. "
                                 f"{text}:0.5 (0 merges nothing)")
        return text, None
    name, _, share = text.partition(":")
    if name not in METHODS or not METHODS[name].video:
        video = ", ".join(n for n, m in METHODS.items() if m.video)
        raise CostmodelError(f"--method: '{text}': only the video methods ({video}) take "
                             ":SHARE")
    try:
        value = float(share)
        if not 0.0 <= value < 1.0:
            raise ValueError
    except ValueError:
        raise CostmodelError(f"--method: '{share}' in '{text}' is not a share in [0, 1) of each "
                             "frame's tokens merged into the previous frame") from None
    return name, value


def _build(cls: Any, prefix: str, **fields: Any) -> Any:
    try:
        return cls(**fields)
    except ValidationError as e:
        raise CostmodelError(one_line(e, prefix)) from None


def _kv(kv_keep: str | None, kv_policy: str | None) -> KVCompression | None:
    if kv_keep is None:
        if kv_policy is not None:
            raise CostmodelError("--kv-policy: give --kv-keep too, e.g. --kv-keep 0.5")
        return None
    policy, _, share = (kv_policy or "uniform").partition(":")
    rolling = policy == "sink_window" and share == "rolling"
    if policy not in KV_POLICIES or (share and policy != "retrieval_heads" and not rolling):
        raise CostmodelError(f"--kv-policy: '{kv_policy}' is not uniform, pyramid, "
                             "sink_window[:rolling] or retrieval_heads[:SHARE] (SHARE of KV heads "
                             "kept whole, e.g. 0.15)")
    extra: dict[str, float | bool] = {"during_decode": True} if rolling else {}
    if share and not rolling:
        try:
            extra["retrieval_heads"] = float(share)
            if not 0.0 <= extra["retrieval_heads"] <= 1.0:
                raise ValueError
        except ValueError:
            raise CostmodelError(f"--kv-policy: '{share}' in '{kv_policy}' is not a share of "
                                 "KV heads in 0..1, e.g. retrieval_heads:0.15") from None
    ratio, count = parse_keep(kv_keep, "--kv-keep")
    return _build(KVCompression, "--kv-keep", keep_ratio=ratio, keep_tokens=count, policy=policy,
                  **extra)


def parse_sparse(text: str) -> tuple[int, tuple[int, ...] | None]:
    """'2048' -> (2048, None: the paper's selection layers); '2048:2,16' -> (2048, (2, 16))."""
    k, _, layers = text.partition(":")
    try:
        top_k = int(k)
        select = tuple(int(x) for x in layers.split(",")) if layers else None
    except ValueError:
        top_k, select = 0, None
    if top_k < 1:
        raise CostmodelError(f"--sparse-decode: '{text}' is not K[:LAYERS] with K >= 1 keys, "
                             "e.g. 2048 or 2048:2,16")
    if select is not None and (min(select) < 0 or list(select) != sorted(set(select))):
        raise CostmodelError(f"--sparse-decode: layers in '{text}' must increase from 0, "
                             "e.g. 2048:2,16")
    return top_k, select


def _check_clash(at: str | None, where: str, keep: str | None, merge_per_layer: int | None,
                 stage: bool, schedule: str | None, method: str | None) -> None:
    """Option combinations that name nothing to do, or something another option ignores."""
    if at is not None and not stage and schedule is None:
        raise CostmodelError(f"--at: '{at[:40]}' places a compression; give --keep too, "
                             "e.g. --keep 0.5")
    if where == "vit" and keep is not None and merge_per_layer is not None:
        raise CostmodelError("--keep: --at vit takes --keep RATIO or --merge-per-layer R, not "
                             "both (R decides and the ratio would be ignored)")
    if where != "vit" and merge_per_layer is not None:
        raise CostmodelError("--merge-per-layer: only --at vit merges per layer; drop it or "
                             "use --at vit")
    if where == "vit" and stage and keep is None and merge_per_layer is None and not method:
        raise CostmodelError("--keep: --at vit needs --keep RATIO or --merge-per-layer R, "
                             "e.g. --keep 0.5")


def _check_keep(where: str, layer: int | None, has_keep: bool, count: int | None,
                merge_per_layer: int | None, info: MethodInfo | None) -> None:
    """--keep as the place and the method take it (a ratio, a count, or the method's default),
    refused in the options' words before the library's messages name its fields (keep_ratio,
    keep_tokens, merge_per_layer). A method away from its place is left to the library."""
    if where == "vit" and count is not None:
        raise CostmodelError("--keep: merging in the ViT (--at vit, tome, dymu) keeps a "
                             "ratio, e.g. --keep 0.5, not a count (compare-compression "
                             "also takes --merge-per-layer R)")
    if info is not None and info.where != where:
        return
    what = f"--method {info.name}" if info is not None else f"--at {where}"
    if where == "vit" and not has_keep and merge_per_layer is None:
        raise CostmodelError(f"--keep: {what} merges in the ViT; give the kept ratio, e.g. "
                             "--keep 0.5 (compare-compression also takes --merge-per-layer R)")
    if where != "vit" and not has_keep and not (info and (info.video or info.keep is not None)):
        raise CostmodelError(f"--keep: {what} needs the visual tokens kept, a ratio 0..1 or "
                             "a count, e.g. --keep 0.5 or --keep 64")
    if count is not None and info is not None and info.video:
        raise CostmodelError(f"--keep: {info.name} keeps a ratio of each frame's tokens, not a "
                             "count; give a ratio 0..1, e.g. --keep 0.5")
    if count is not None and info is not None and info.stages and layer is None:
        raise CostmodelError(f"--keep: {info.name} keeps a ratio lambda per stage, not a count; "
                             "give a ratio 0..1, e.g. --keep 0.5, or the counts as a schedule, "
                             "e.g. --schedule 0:576,8:288,16:144")


def _schedule_stage(schedule: str, where: str, keep: str | None, layer: int | None,
                    method: str | None, info: Any, overhead: bool) -> Compression:
    """The LLM layer schedule's stage (--schedule); a --keep/--at inside the LLM clashes."""
    if where == "llm_layer" and (keep is not None or layer is not None):
        raise CostmodelError("--schedule: gives the LLM stages; use --keep/--at for a stage "
                             "before the LLM (projector, encoder or vit)")
    llm_method = method if info is not None and info.where == "llm_layer" else None
    return _build(Compression, "compression", where="llm_layer",
                  schedule=parse_schedule(schedule), method=llm_method, overhead=overhead)


def _method(method: str | None, cluster_iters: int | None
            ) -> tuple[str | None, float | None, MethodInfo | None]:
    """--method (and a video method's share, 'tempmerge:0.5') with its METHODS entry; an
    unknown method, or --cluster-iters without --method cluster, refused."""
    method, merge = parse_video_method(method)
    if method is not None and method not in METHODS:
        raise CostmodelError(f"--method: '{method}' is not one of {', '.join(METHODS)}")
    if cluster_iters is not None and method != "cluster":
        raise CostmodelError("--cluster-iters: only --method cluster runs k-means; add "
                             "--method cluster or drop --cluster-iters")
    return method, merge, METHODS[method] if method else None


def _stage(where: str, layer: int | None, keep: str | None, merge_per_layer: int | None,
           method: str | None, extra: dict[str, Any]) -> Compression:
    """The stage at --at (or the method's place): --keep as a ratio or a count, checked
    against the place and the method (`method`: the stage's own, None when it acts elsewhere);
    `extra`: cluster_iters, overhead and a video method's temporal_merge."""
    ratio, count = parse_keep(keep) if keep is not None else (None, None)
    _check_keep(where, layer, keep is not None, count, merge_per_layer,
                METHODS[method] if method else None)
    return _build(Compression, "compression", where=where, keep_ratio=ratio, keep_tokens=count,
                  layer=layer, merge_per_layer=merge_per_layer, method=method, **extra)


def compression_from_options(keep: str | None = None, at: str | None = None,
                             method: str | None = None, schedule: str | None = None,
                             kv_keep: str | None = None, kv_policy: str | None = None,
                             cluster_iters: int | None = None, merge_per_layer: int | None = None,
                             overhead: bool = True, require: bool = False,
                             sparse_decode: str | None = None) -> AnyCompression | None:
    """The compression the options describe: a stage at --at (or the method's place) when
    --keep, --merge-per-layer or --method asks for one, an LLM schedule, a KV compression; one
    stage alone is a Compression, several a CompressionPlan. require: always build the stage
    at --at (compare-compression), so a missing --keep is refused."""
    method, merge, info = _method(method, cluster_iters)
    kv = _kv(kv_keep, kv_policy)
    where, layer = parse_at(at) if at is not None else (info.where if info else "projector", None)
    stages = [] if schedule is None else [_schedule_stage(schedule, where, keep, layer, method,
                                                          info, overhead)]
    wanted = keep is not None or merge_per_layer is not None or (
        info is not None and not (info.where == "llm_layer" and schedule is not None))
    if require and where != "vit" and not any((keep, merge_per_layer, method, schedule, kv_keep,
                                                       sparse_decode)):
        raise CostmodelError("--keep: give the visual tokens kept, a ratio 0..1 or a count, "
                             "e.g. --keep 0.1")
    build = wanted or (require and schedule is None and kv_keep is None and sparse_decode is None)
    _check_clash(at, where, keep, merge_per_layer, build, schedule, method)
    if build:
        own = method if info is None or info.where == where or schedule is None else None
        stages.append(_stage(where, layer, keep, merge_per_layer, own,
                             {"cluster_iters": cluster_iters or 10, "overhead": overhead,
                              **({} if merge is None else {"temporal_merge": merge})}))
    if not overhead and not stages:
        raise CostmodelError("--no-overhead: there is no token-compression method whose own "
                             "cost to leave out; give --keep, --method or --schedule")
    top_k, select = parse_sparse(sparse_decode) if sparse_decode is not None else (None, None)
    if kv is None and top_k is None and len(stages) <= 1:
        return stages[0] if stages else None
    return _build(CompressionPlan, "compression", stages=tuple(stages), kv=kv,
                  sparse_decode=top_k, sparse_select=select)


def refuse_count_above(spec: ModelSpec, w: Workload) -> None:
    """check_kept_count on a command's workload, before any work: estimate, compare, energy,
    plan, batching and capacity refuse a count above the request's visual tokens as
    compare-compression does (they ran it as the uncompressed request, labelled 'keep N')."""
    from costmodel.analysis.prepare import points

    if w.compression is not None:
        pts = points(spec, w, {}, 1)
        check_kept_count(w.compression, spec, pts)
        if isinstance(w.compression, CompressionPlan):
            reach = _one(visual_token_counts(spec, pts, w.compression)[0])  # entering the LLM
            _check_kv_counts(w.compression, reach + w.text_tokens, w.output_tokens)


def _check_kv_counts(plan: CompressionPlan, prompt: float, output: int) -> None:
    """A --kv-keep count above the prompt tokens the LLM sees evicts nothing (above the whole
    sequence with sink_window:rolling, whose cache is capped while decoding), and a
    --sparse-decode top-K above the longest context reads every key: each ran as the
    uncompressed request under the compression's label. Refused, as a --keep count is."""
    kv, longest = plan.kv, prompt + output - 1  # the last decode step's context
    if kv is not None and kv.keep_tokens is not None:
        limit, what = (longest, "the longest context") if kv.during_decode else (
            prompt, "the prompt")
        if kv.keep_tokens > limit:
            raise CostmodelError(f"--kv-keep: {kv.keep_tokens} tokens kept, but {what} has "
                                 f"{count_text(limit)} tokens here; keep fewer or give a ratio")
    if plan.sparse_decode is not None and plan.sparse_decode > longest:
        raise CostmodelError(f"--sparse-decode: top-{plan.sparse_decode} keys, but the longest "
                             f"context has {count_text(longest)} tokens here, so every key "
                             "would be read; give a smaller K")


def check_kept_count(comp: AnyCompression, spec: ModelSpec, pts: Points) -> None:
    """A kept count above the visual tokens entering its stage at the request `pts` (one
    point) is refused, in a plan's stages too: a keep_tokens above the tokens there are, a
    schedule count above those reaching the LLM. The core would cap it to them, silently; a
    sweep labels those points '(capped at N)' by the same rule (core/compression/points.
    kept_counts)."""
    request = _one(pts.visual)
    for c, count, entering in kept_counts(spec, pts, comp):
        n = _one(entering)
        if count <= n:
            continue
        if c.schedule is None:
            raise CostmodelError(f"--keep: {count} tokens kept, but {spec.name} has "
                                 f"{count_text(n)} visual tokens here; keep fewer or give a "
                                 "ratio")
        after = f" (after {_before_llm(comp)})" if n < request else ""
        raise CostmodelError(f"--schedule: keeps {count_text(count)} tokens, but "
                             f"{count_text(n)} visual tokens reach the LLM{after}; give "
                             f"counts up to {count_text(n)} or ratios")


def _one(x: Arr) -> float:
    return float(np.asarray(x, dtype=float).reshape(-1)[0])


def _before_llm(comp: AnyCompression) -> str:
    """The option of the last stage before the LLM: --method for a video method (its merge
    and per-frame keep), --merge-per-layer for ToMe's r, else --keep."""
    plan = as_plan(comp)
    assert plan is not None
    c = [s for s in plan.ordered if s.where != "llm_layer"][-1]
    return (f"--method {c.method}" if c.is_video else "--merge-per-layer"
            if c.merge_per_layer is not None else "--keep")


def keep_values(keep: str | None) -> list[str | None]:
    """The --keep values in the order given: [keep] for one value or none (passed on as it was:
    compression_from_options parses it), else each item checked as one --keep would be, before
    any work: an empty item, a value that is no ratio or count and a repeated value (0.5 and
    0.50 alike) are refused in one line."""
    if keep is None or "," not in keep:
        return [keep]
    items = [k.strip() for k in keep.split(",")]
    seen: dict[tuple[float | None, int | None], str] = {}
    for k in items:
        if not k:
            raise CostmodelError(f"--keep: empty item in '{keep}'; separate the values by "
                                 "single commas, e.g. --keep 0.1,0.25,0.5")
        parsed = parse_keep(k)
        if parsed in seen:
            raise CostmodelError(f"--keep: {k} repeats {seen[parsed]} in '{keep}'; give each "
                                 "value once")
        seen[parsed] = k
    return list(items)
