"""llama.cpp's windowed ViT attention (Engine.packed_attention = 'masked'). Pure numpy.

llama.cpp's CLIP code (ggml-org/llama.cpp tools/mtmd/models/qwen2vl.cpp, clip_graph_qwen2vl::
build; tools/mtmd/clip.cpp, clip_image_batch_encode, commit 0024aa74) runs Qwen2.5-VL's ViT one
image per graph ("only support batch size of 1"); a windowed layer attends over the image's
WHOLE sequence of S patch tokens (reordered window by window) under an additive window mask of
S x S (f32 on the host, cast to f16 in the graph when FlashAttention is on), where the model
counts attention within each window only. Priced here (seconds, per layer instance):

    full   = the device time of the model's full-attention layer's matching operator (the
             same S x S non-causal attention per pass, after core/packed's per-pass split):
             the FlashAttention op, or each of the eager qk / softmax / pv ops
    visited = 1, except with FlashAttention where ggml's mask scan (fattn-common.cuh,
             launch_fattn: flash_attn_mask_to_KV_max, run when K->ne[1] % FATTN_KQ_STRIDE == 0
             and Q->ne[1] >= 1024; clip's build_attn passes K unpadded, so K->ne[1] = S)
             stops each query tile at its last KV tile of 256 keys that is not all -inf:
             for S % 256 == 0 and S >= 1024, with n = S / L windows of the mean length L,
             visited = sum_{j=1..n} L min(S, 256 ceil(j L / 256)) / S^2
             (tiles of queries that straddle two windows not modelled)
    mask_s = S^2 x 2 bytes x passes / the device's memory-bound rate (FlashAttention: the f16
             mask read once; heads re-reading it assumed served by L2; eager: the f32 mask's
             read is not counted beside the scores' own traffic)
    t      = visited x full + mask_s, spread over the layer's window-kind operators in
             proportion to their own device times; launches: the full operator's (one call
             per image) on the layer's first kind

FLOPs and bytes counted stay the windows' (the counts and the bound are the model's), only the
expected time follows what the engine executes (the other ViT operators, one graph per image:
core/per_pass.py). Not modelled: the host building and uploading the S x S f32 mask once per
image, the f16 cast and the mask scan's own kernel. Source: docs/methodology.md, "Packed ViT
attention on an engine that splits it".
"""

from __future__ import annotations

import numpy as np

from costmodel.core.chunked import flat
from costmodel.core.ops import Arr, is_packed_attention, window_layer
from costmodel.core.pricing import OpCost, points_width
from costmodel.core.roofline import Rates
from costmodel.errors import CostmodelError

KQ_STRIDE = 256.0  # keys per KV tile of ggml's CUDA FlashAttention (FATTN_KQ_STRIDE)
SCAN_MIN_QUERIES = 1024.0  # launch_fattn scans the mask only from Q->ne[1] >= 1024 queries
MASK_BYTES = 2.0  # the f16 mask FlashAttention reads (clip: ggml_cast(window_mask, F16))


def visited_fraction(s: Arr, mean_window: Arr) -> Arr:
    """Share of the S x S scores ggml's FlashAttention computes under the window mask (module
    docstring): 1 unless S is a whole number of 256-key tiles and at least 1024. Computed once
    per distinct (S, L) of the points (a sweep's points share them), each alone, so a point
    gets the same bits beside others as in its own estimate."""
    s, w = np.broadcast_arrays(np.asarray(s, float), np.maximum(np.asarray(mean_window, float), 1.0))
    out = np.ones(s.shape)
    scan = (np.mod(s, KQ_STRIDE) == 0) & (s >= SCAN_MIN_QUERIES)
    for si, wi in {(float(a), float(b)) for a, b in zip(s[scan], w[scan], strict=True)}:
        out[(s == si) & (w == wi)] = _visited(si, wi)
    return out


def _visited(s: float, w: float) -> float:
    """sum_{j=1..ceil(S/L)} (queries of window j) x min(S, 256 ceil(end_j / 256)) / S^2."""
    j = np.arange(1.0, np.ceil(s / w) + 1.0)
    ends = np.minimum(j * w, s)  # the last key of window j (the last window may be short)
    width = np.minimum(w, s - (j - 1.0) * w)  # its queries
    keys = np.minimum(s, KQ_STRIDE * np.ceil(ends / KQ_STRIDE))
    return float(np.cumsum(width * keys)[-1]) / (s * s)


def reprice(costs: list[OpCost], r: Rates) -> list[OpCost]:
    """`costs` (the full layers already split per image, core/packed.py) with each windowed
    layer's window-kind operators priced as the masked whole-sequence call (module docstring)."""
    refs: dict[str, OpCost] = {}
    groups: dict[tuple[str, str], list[int]] = {}
    for i, c in enumerate(costs):
        layer = window_layer(c.op)  # by name: a kind with no window at every point stays in
        # its layer's group (its first kind carries the launch at every point, as alone)
        if layer is None and not is_packed_attention(c.op):
            continue
        part = c.op.name.rsplit("/", 1)[1]  # flash | qk | softmax | pv
        if layer is not None:
            groups.setdefault((layer, part), []).append(i)
        else:
            refs.setdefault(part, c)
    out, width = list(costs), points_width(costs)
    seen: dict[bytes, Arr] = {}  # visited shares by (S, L) over the points: the runs share them
    for (layer, part), idx in groups.items():
        if not any(is_packed_attention(costs[i].op) for i in idx):
            continue  # no window at any point (no visual tokens): nothing to price
        if part not in refs:
            raise CostmodelError(
                f"{layer}: engine {r.engine.id if r.engine else '?'} runs windowed ViT layers as "
                "the model's full-attention layer under a mask (packed_attention 'masked'), and "
                "this model has no full-attention layer (fullatt_block_indexes): use another "
                "--engine")
        ref = refs[part]
        target = _layer_time_s(ref, [costs[i] for i in idx], r, width, seen)
        own = np.sum([_device_s(costs[i]) / costs[i].op.count for i in idx], axis=0)
        ratio = np.where(own > 0, target / np.where(own > 0, own, 1.0), 0.0)
        per_call = np.asarray(ref.launch_s) / ref.op.count
        for j, i in enumerate(idx):
            out[i] = costs[i].repriced(ratio, per_call * costs[i].op.count * (j == 0))
    return out


def _device_s(c: OpCost) -> Arr:
    return np.asarray(c.latency_s) - np.asarray(c.launch_s)


def _layer_time_s(ref: OpCost, kinds: list[OpCost], r: Rates, width: int,
                  seen: dict[bytes, Arr]) -> Arr:
    """One windowed layer's attention part (flash, or qk / softmax / pv) as the engine runs
    it: visited x the full layer's device time (+ the mask read with FlashAttention)."""
    full = _device_s(ref) / ref.op.count
    if ref.op.attn is None:  # eager: the full S x S rectangle, its f32 mask not counted
        return full
    s, passes = flat(ref.op.attn.q, width), flat(ref.op.attn.seqs, width)
    tokens = np.sum([flat(k.op.attn.seqs * k.op.attn.q, width) for k in kinds if k.op.attn],
                    axis=0)
    windows = np.sum([flat(k.op.attn.seqs, width) for k in kinds if k.op.attn], axis=0)
    mean = tokens / np.maximum(windows, 1.0)
    rate = r.bytes_per_s if r.kernels is None else r.kernels.memory_rate(r.bytes_per_s)
    mask_s = passes * s * s * MASK_BYTES / rate
    key = s.tobytes() + np.asarray(mean, float).tobytes()
    if key not in seen:
        seen[key] = visited_fraction(s, mean)
    return seen[key] * full + mask_s
