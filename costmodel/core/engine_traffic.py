"""An engine's own memory traffic around attention, beyond the model's operators (whose
counted FLOPs and bytes stay engine-independent): Engine.kv_append and Engine.gqa_expand.

Per decoder layer (self-attention), per prefill pass or per decode step, in bytes:

    KV        = the K and V bytes the layer's attention reads (its operators' kv_read_bytes:
                2 x batch x keys x kv_heads x head_dim x KV bytes per element)
    kv_concat = 2 x KV      kv_append: concat, decode steps only: torch.cat reads the layer's
                            cache and the new token and writes the grown copy (the prefill
                            stores the prompt's K and V as they are); all of it a copy
    repeat_kv = 2 g x KV    gqa_expand with g = heads / kv_heads > 1 (g = 1: none): the copy
                            reads KV and writes g x KV ((1 + g) KV copied), and the attention
                            then reads g x KV instead of KV ((g - 1) KV read)
    time_s    = (copied / copy_fraction + read) / the rate of a memory-bound kernel: the
                device's achievable bandwidth (Rates.bytes_per_s) x its memory_fraction where it
                has kernel figures (KernelModel.memory_rate, as efficiency.memory_bound_time_s);
                copy_fraction (Engine, default 1): the share of that rate the engine's copy
                kernels reach (hf-eager: fitted, its YAML's source); the copies' own per-kernel
                fixed costs and launches are not priced

Device time (no launches of their own, no FLOPs or counted bytes), one row per stage
(`engine/kv_concat`, `engine/repeat_kv`). Decode: KV is affine in the step (one key per step),
so the n steps' total n x t_0 + (t_last - t_0) / span x n(n-1)/2 is exact between capped-KV
knees (as every decode operator's bytes, core/pricing.decode_cost). Source: transformers
DynamicCache.update (cache_utils.py) and repeat_kv in the Llama/Qwen2 attention
(modeling_llama.py, modeling_qwen2.py). Formula: docs/methodology.md, "Inference engines".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from costmodel.core.ops import Arr, Op
from costmodel.core.pricing import OpCost
from costmodel.specs.engine import Engine

KV_CONCAT = "engine/kv_concat"
REPEAT_KV = "engine/repeat_kv"


def layer_kv_bytes(ops: Sequence[Op], stage: str) -> Arr:
    """KV bytes the LLM's self-attention reads in one pass (step) over its layers: the sum of
    count x kv_read_bytes of its attention operators (cross-attention and compression's own
    operators excluded)."""
    mine = [o for o in ops if o.stage == stage and o.op_class == "attention"
            and o.name.startswith("llm/") and "/cross/" not in o.name]
    return sum((o.count * np.asarray(o.kv_read_bytes, dtype=float) for o in mine),
               np.asarray(0.0))


def factors(e: Engine | None, groups: float, stage: str) -> list[tuple[str, float]]:
    """(row name, memory-rate bytes per KV byte) of the engine's traffic in this stage: the
    copied bytes over copy_fraction plus the bytes only read (formula above)."""
    if e is None or e.kernels == "bound":
        return []
    out = []
    if e.kv_append == "concat" and stage == "decode":
        out.append((KV_CONCAT, 2.0 / e.copy_fraction))
    if e.gqa_expand and groups > 1.0:
        out.append((REPEAT_KV, (1.0 + groups) / e.copy_fraction + (groups - 1.0)))
    return out


def _row(name: str, stage: str, latency_s: Arr, like: Arr) -> OpCost:
    z = np.zeros_like(like, dtype=float)
    op = Op(name=name, stage=stage, op_class="overhead", matmul_flops=z, vector_flops=z,
            useful_flops=z, weight_bytes=z, act_read_bytes=z, act_write_bytes=z)
    t = latency_s + z
    return OpCost(op, z, z, z, z, z, z, t, t)


def prefill_rows(e: Engine | None, ops: Sequence[Op], groups: float, bytes_per_s: Arr,
                 like: Arr) -> list[OpCost]:
    """The engine's traffic in one prefill pass, in seconds, as rows."""
    kv = layer_kv_bytes(ops, "prefill")
    return [_row(name, "prefill", f * kv / bytes_per_s, like)
            for name, f in factors(e, groups, "prefill")]


def decode_rows(e: Engine | None, first: Sequence[Op], last: Sequence[Op], groups: float,
                bytes_per_s: Arr, n: Arr, span: Arr,
                like: Arr) -> tuple[list[OpCost], list[OpCost]]:
    """The engine's traffic over n decode steps and in the first step alone, as rows; first
    and last: the decode operators at step 0 and at step `span`."""
    kv0, kv1 = layer_kv_bytes(first, "decode"), layer_kv_bytes(last, "decode")
    total, one = [], []
    for name, f in factors(e, groups, "decode"):
        t0, t1 = f * kv0 / bytes_per_s, f * kv1 / bytes_per_s
        total.append(_row(name, "decode", n * t0 + (t1 - t0) / span * n * (n - 1.0) / 2.0,
                          like))
        one.append(_row(name, "decode", t0, like))
    return total, one
