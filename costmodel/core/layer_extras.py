"""Decoder-layer variants beyond the Llama block, appended by core/stages.py where they run:
sliding-window attention (keys a windowed call holds), q/k RMSNorm, the post-attention and
post-MLP ("sandwich") norms, the GeGLU MLP and the embedding scale of Gemma 2/3.

Sources: transformers `models/gemma3/modeling_gemma3.py` (5.23.0): Gemma3Attention.forward
(q_norm, k_norm on each head), Gemma3DecoderLayer.forward (input, post_attention,
pre_feedforward, post_feedforward norms), Gemma3MLP (down(gelu_tanh(gate(x)) * up(x))),
Gemma3TextScaledWordEmbedding (embedding x sqrt(hidden)); cache_utils
DynamicSlidingWindowLayer (a sliding layer returns at most W keys in decode). Formulas:
docs/methodology.md, "Sliding-window attention and Gemma 3".
"""

from __future__ import annotations

import numpy as np

from costmodel.core.inputs import Precision
from costmodel.core.ops import ACT_FLOPS, Arr, Op, linear, norm, vector_op
from costmodel.specs.model import LLMSpec


def window_keys(q: Arr, k: Arr, window: int | None) -> Arr:
    """Keys a call of q queries (the last q of k positions) holds under a window W: the
    first of them sees back to position k - q - W + 1, so min(k, W + q - 1) keys (decode,
    q = 1: min(context, W); prefill, q = k: all k, the band is masked inside)."""
    if window is None:
        return k
    return np.minimum(k, window + q - 1.0)


def cached_tokens(m: LLMSpec, lo: int, hi: int, tokens: Arr) -> Arr:
    """Token-layers held by the KV cache of layers lo..hi-1 that each saw `tokens` tokens: a
    sliding layer keeps the last min(tokens, W) (a W-slot ring; transformers' static
    SlidingWindowLayer allocates W)."""
    total = 0.0 * tokens
    for a, b, w in m.attn_runs(lo, hi):
        total = total + (b - a) * (tokens if w is None else np.minimum(tokens, float(w)))
    return total


def qk_norm_ops(m: LLMSpec, pre: str, stage: str, rows: Arr, p: Precision) -> list[Op]:
    """RMSNorm(head_dim) over every query head and every key head of each new token."""
    if not m.qk_norm:
        return []
    return [norm(f"{pre}/attn/q_norm", stage, rows * m.num_heads, m.head_dim, m.norm_kind,
                 p.weight_bytes_per_element, p.act_bytes_per_element),
            norm(f"{pre}/attn/k_norm", stage, rows * m.num_kv_heads, m.head_dim, m.norm_kind,
                 p.weight_bytes_per_element, p.act_bytes_per_element)]


def post_norm_ops(m: LLMSpec, name: str, stage: str, rows: Arr, p: Precision) -> list[Op]:
    """The sandwich norm on a sub-block's output (before the residual add)."""
    if not m.sandwich_norm:
        return []
    return [norm(name, stage, rows, m.hidden_size, m.norm_kind, p.weight_bytes_per_element,
                 p.act_bytes_per_element)]


def geglu_ops(m: LLMSpec, pre: str, stage: str, rows: Arr, p: Precision) -> list[Op]:
    """gate and up projections and gelu_tanh(gate) * up (the down projection follows)."""
    h, inter = m.hidden_size, m.intermediate_size
    return [
        linear(f"{pre}/mlp/gate", stage, rows, h, inter, False, p.weight_bytes_per_element,
               p.act_bytes_per_element),
        linear(f"{pre}/mlp/up", stage, rows, h, inter, False, p.weight_bytes_per_element,
               p.act_bytes_per_element),
        vector_op(f"{pre}/mlp/act", stage, "activation", rows * inter, ACT_FLOPS["geglu"],
                  2.0, p.act_bytes_per_element),
    ]


def embed_scale_ops(m: LLMSpec, stage: str, rows: Arr, p: Precision) -> list[Op]:
    """Embedding rows times sqrt(hidden): 1 FLOP per element, read and written once."""
    if not m.embed_scale:
        return []
    return [vector_op("llm/embed_scale", stage, "elementwise", rows * m.hidden_size, 1.0, 1.0,
                      p.act_bytes_per_element)]
