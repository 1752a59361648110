"""Operators of a mixture-of-experts MLP (one decoder layer), called from stages.llm_layer_ops.

R = rows (tokens) in the forward, h hidden, E experts, k experts a token, I expert width, S
shared-expert width, bytes per element w (weights), a (activations). FLOPs = 2 x MAC.
- router: Linear(h, E) over R rows (2*R*h*E matmul FLOPs).
- topk: softmax over the E logits (SOFTMAX_FLOPS each), one comparison per logit for the top-k
  selection, and 2 FLOPs per kept weight when norm_topk_prob renormalises them (vector FLOPs).
- experts gate / up / down: SwiGLU GEMMs over the R*k routed rows (each token's row runs in
  each of its k experts): 2*R*k*h*I FLOPs each. Weight bytes read = expected distinct experts
  touched (distinct_experts) x h*I*w each: decode at batch 1 reads k experts, a long prefill
  all E. transformers' eager loop (MixtralExperts.forward) runs each hit expert over exactly
  its routed rows, so the executed FLOPs are R*k*(3 GEMMs) whatever the routing.
- shared expert (Qwen2-MoE): a dense SwiGLU of width S over R rows, optionally scaled by
  sigmoid(Linear(h, 1)).
- combine: each token's k expert outputs scaled by their weight and summed (+ the shared one).
- expert parallelism (moe.ep > 1; this spec one GPU's share): the GPU holds E/ep experts and,
  routing balanced, runs R*k/ep of the routed rows; it reads (E/ep)(1 - (1 - k/E)^R) experts'
  weights. Two all-to-alls a layer (a2a_dispatch before the experts, a2a_combine after), each
  sending R*k*h*a*(ep-1)/ep bytes per GPU over the link in ep-1 steps.
docs/methodology.md, sections "Mixture of experts" and "Expert parallelism".
"""

from __future__ import annotations

import numpy as np

from costmodel.core.inputs import Precision
from costmodel.core.ops import ACT_FLOPS, SOFTMAX_FLOPS, Arr, Op, linear, vector_op
from costmodel.specs.model import LLMSpec
from costmodel.specs.moe import MoESpec


def distinct_experts(num_experts: int, k: int, tokens: Arr | float) -> Arr:
    """Expected experts touched by `tokens` routed tokens, each choosing k distinct experts of
    E uniformly and independently of the other tokens: E x (1 - (1 - k/E)^tokens).

    An expert is missed by one token with probability 1 - k/E (k of the E are chosen), by all
    T tokens with probability (1 - k/E)^T; by linearity of expectation over the E experts the
    expected number hit is E(1 - (1 - k/E)^T). 1 token: k; k = E: E; grows with T towards E.
    """
    t = np.asarray(tokens, dtype=float)
    return num_experts * (1.0 - (1.0 - k / num_experts) ** np.maximum(t, 0.0))


def _all_to_all(name: str, stage: str, rows: Arr, moe: MoESpec, h: int, a_bytes: float) -> Op:
    """One all-to-all of the R*k routed rows of width h: each GPU sends the (ep-1)/ep of its
    rows whose experts are on other GPUs (bytes) in ep - 1 pairwise steps (op_class 'comm')."""
    ep, z = moe.ep, rows * 0.0
    sent = rows * moe.experts_per_token * h * a_bytes * (ep - 1) / ep
    return Op(name=name, stage=stage, op_class="comm", matmul_flops=z, vector_flops=z,
              useful_flops=z, weight_bytes=z, act_read_bytes=z, act_write_bytes=z,
              link_bytes=sent, link_hops=float(ep - 1))


def _experts_read(op: Op, weight_bytes: Arr) -> Op:
    """A routed GEMM reads the weights of the experts touched, not one matrix."""
    return Op(**{**op.__dict__, "weight_bytes": weight_bytes})


def _topk(pre: str, stage: str, rows: Arr, moe: MoESpec, a_bytes: float) -> Op:
    e, k = moe.num_experts, moe.experts_per_token
    flops = rows * (e * (SOFTMAX_FLOPS + 1.0) + (2.0 * k if moe.norm_topk_prob else 0.0))
    z = rows * 0.0
    return Op(name=f"{pre}/mlp/topk", stage=stage, op_class="elementwise", matmul_flops=z,
              vector_flops=flops, useful_flops=flops, weight_bytes=z,
              act_read_bytes=rows * e * a_bytes, act_write_bytes=rows * k * 2.0 * a_bytes)


def swiglu_ops(pre: str, stage: str, rows: Arr, h: int, width: int, p: Precision) -> list[Op]:
    """A SwiGLU MLP without biases over `rows`: gate and up Linear(h, width), SiLU(gate) x up
    (5 FLOPs an element, two inputs), down Linear(width, h) (an expert, a shared expert,
    Llama-3.2-Vision's cross layers)."""
    return [
        linear(f"{pre}/gate", stage, rows, h, width, False, p.weight_bytes_per_element,
               p.act_bytes_per_element),
        linear(f"{pre}/up", stage, rows, h, width, False, p.weight_bytes_per_element,
               p.act_bytes_per_element),
        vector_op(f"{pre}/act", stage, "activation", rows * width, ACT_FLOPS["swiglu"], 2.0,
                  p.act_bytes_per_element),
        linear(f"{pre}/down", stage, rows, width, h, False, p.weight_bytes_per_element,
               p.act_bytes_per_element),
    ]


def moe_mlp_ops(m: LLMSpec, stage: str, rows: Arr, pre: str, p: Precision) -> list[Op]:
    """The MoE MLP of one layer over `rows` tokens (per instance; stages sets `count`)."""
    moe, h = m.moe, m.hidden_size
    assert moe is not None  # called for MoE layers only
    rows = np.asarray(rows, dtype=float)
    e, k, inter = moe.num_experts, moe.experts_per_token, moe.expert_intermediate_size
    routed = rows * k / moe.ep  # this GPU's share of the routed rows (balanced routing)
    hit = distinct_experts(e, k, rows) / moe.ep  # of its E/ep experts
    ops = [linear(f"{pre}/mlp/router", stage, rows, h, e, False, p.weight_bytes_per_element,
                  p.act_bytes_per_element),
           _topk(pre, stage, rows, moe, p.act_bytes_per_element)]
    if moe.ep > 1:
        ops.append(_all_to_all(f"{pre}/mlp/a2a_dispatch", stage, rows, moe, h, p.act_bytes_per_element))
    for op in swiglu_ops(f"{pre}/mlp/experts", stage, routed, h, inter, p):
        # gate, up (h x I) and down (I x h): one h*I matrix of each expert touched is read
        ops.append(_experts_read(op, hit * h * inter * p.weight_bytes_per_element) if op.gemm_k else op)
    if moe.ep > 1:
        ops.append(_all_to_all(f"{pre}/mlp/a2a_combine", stage, rows, moe, h, p.act_bytes_per_element))
    terms = k
    if moe.shared_expert_intermediate_size:
        ops += swiglu_ops(f"{pre}/mlp/shared", stage, rows, h, moe.shared_expert_intermediate_size, p)
        terms += 1
        if moe.shared_expert_gate:  # sigmoid(Linear(h, 1)) x the shared expert's output
            ops += [linear(f"{pre}/mlp/shared/gate_proj", stage, rows, h, 1, False,
                           p.weight_bytes_per_element, p.act_bytes_per_element),
                    vector_op(f"{pre}/mlp/shared/scale", stage, "elementwise", rows * h,
                              1.0, 1.0, p.act_bytes_per_element)]
    # Scale each expert output by its routing weight and sum (1 multiply + 1 add per term).
    ops.append(vector_op(f"{pre}/mlp/combine", stage, "elementwise", rows * h, 2.0 * terms,
                         float(terms), p.act_bytes_per_element))
    return ops
