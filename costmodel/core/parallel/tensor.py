"""Tensor parallelism: one GPU's shard of the model (Megatron-LM sharding) and the collective
operators it adds (ring all-reduce per attention and MLP block, all-gather of the logits;
op_class "comm"). Formula: docs/methodology.md, section "Multi-GPU".
"""

from __future__ import annotations

import math

import numpy as np

from costmodel.core.ops import Arr, Op
from costmodel.errors import CostmodelError
from costmodel.specs.model import ModelSpec


def allreduce_link(message_bytes: Arr | float, n: int) -> tuple[Arr, float]:
    """(bytes each GPU sends, latency steps) of a ring all-reduce of `message_bytes`."""
    return 2.0 * (n - 1) / n * np.asarray(message_bytes, dtype=float), 2.0 * (n - 1)


def allreduce_time_s(message_bytes: Arr | float, n: int, link_bytes_per_s: float,
                     link_latency_s: float) -> Arr:
    """Ring all-reduce time: 2(n-1)/n * M / bandwidth + 2(n-1) * latency (seconds)."""
    sent, hops = allreduce_link(message_bytes, n)
    return sent / link_bytes_per_s + hops * link_latency_s


def _comm(after: Op, name: str, link_bytes: Arr, hops: float) -> Op:
    z = after.matmul_flops * 0.0
    return Op(name=name, stage=after.stage, op_class="comm", matmul_flops=z, vector_flops=z,
              useful_flops=z, weight_bytes=z, act_read_bytes=z, act_write_bytes=z,
              count=after.count, first_layer=after.first_layer, link_bytes=link_bytes + z,
              link_hops=hops)


def with_allreduce(ops: list[Op], tp: int) -> list[Op]:
    """Insert an all-reduce after every LLM attn/o and mlp/down (an MoE layer: mlp/combine, the
    sum of its experts' partial outputs), an all-gather after lm_head."""
    if tp == 1:
        return ops
    out: list[Op] = []
    for op in ops:
        out.append(op)
        if op.name.startswith("llm/") and op.name.endswith(("/attn/o", "/mlp/down", "/mlp/combine")):
            sent, hops = allreduce_link(op.act_write_bytes, tp)
            out.append(_comm(op, op.name.rsplit("/", 1)[0] + "/allreduce", sent, hops))
        elif op.op_class == "lm_head":  # each GPU holds 1/tp of the logits; gather the rest
            out.append(_comm(op, "llm/lm_head/allgather", (tp - 1) * op.act_write_bytes,
                             float(tp - 1)))
    return out


def shard_experts(spec: ModelSpec, ep: int) -> ModelSpec:
    """Expert parallelism: each GPU holds E / ep of every MoE layer's routed experts (the rest
    of the model replicated); core/moe.py prices the per-GPU experts and the all-to-alls."""
    if ep == 1:
        return spec
    moe = spec.llm.moe
    if moe is None:
        raise CostmodelError(f"parallel.ep: {spec.name} has no experts to split (a dense model); "
                             "expert parallelism is for mixture-of-experts models, use ep 1 (--ep 1)")
    if moe.num_experts % ep:
        raise CostmodelError(f"parallel.ep: {ep} does not divide the {moe.num_experts} experts; "
                             "choose a divisor of the number of experts")
    llm = spec.llm.model_copy(update={"moe": moe.model_copy(update={"ep": ep})})
    return spec.model_copy(update={"llm": llm})


def kv_heads_per_gpu(num_kv_heads: int, tp: int) -> int:
    """KV heads each GPU holds: split when tp divides them, else one (replicated)."""
    return num_kv_heads // tp if num_kv_heads >= tp else 1


def shard_spec(spec: ModelSpec, tp: int, ep: int = 1) -> ModelSpec:
    """One GPU's share of the model under tensor and expert parallelism (the same spec for
    tp = ep = 1)."""
    spec = shard_experts(spec, ep)
    if tp == 1:
        return spec
    m = spec.llm
    if m.num_heads % tp:
        raise CostmodelError(f"parallel.tp: {tp} does not divide the {m.num_heads} attention "
                             "heads; choose a divisor of num_heads")
    if m.num_kv_heads % tp and tp % m.num_kv_heads:
        raise CostmodelError(f"parallel.tp: {tp} and the {m.num_kv_heads} KV heads do not "
                             "divide one another; choose tp that divides or is a multiple")
    llm = m.model_copy(update={
        "num_heads": m.num_heads // tp, "num_kv_heads": kv_heads_per_gpu(m.num_kv_heads, tp),
        "head_dim_override": m.head_dim, "intermediate_size": math.ceil(m.intermediate_size / tp),
        "vocab_size": math.ceil(m.vocab_size / tp),
    })
    if m.moe is not None:  # every expert split like a dense MLP; the router is replicated
        llm = llm.model_copy(update={"moe": m.moe.model_copy(update={
            "expert_intermediate_size": math.ceil(m.moe.expert_intermediate_size / tp),
            "shared_expert_intermediate_size": math.ceil(m.moe.shared_expert_intermediate_size / tp),
        })})
    return spec.model_copy(update={"llm": llm})
