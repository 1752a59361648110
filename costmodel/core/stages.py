"""(spec, points, precision) -> operators, per stage: vision -> projector -> prefill -> decode.

Shapes in comments: B = batch, N = crops per sample, S = sequence, h = hidden, I = MLP size.
Identical layers are one Op with `count` = number of layers and a name like `llm/L0-31/...`.
Units and conventions: core/ops.py (FLOPs = 2 x multiply-accumulate; bytes = minimum traffic,
per instance). Formulas (each operator's FLOPs and bytes): docs/methodology.md, "Operators";
sources there, per architecture.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from costmodel.core.decode_caps import decode_groups, topk_ops
from costmodel.core.inputs import Points, Precision
from costmodel.core.layer_extras import (
    embed_scale_ops,
    geglu_ops,
    post_norm_ops,
    qk_norm_ops,
    window_keys,
)
from costmodel.core.moe import moe_mlp_ops
from costmodel.core.ops import (
    ACT_FLOPS,
    ADD_FLOPS,
    ROPE_FLOPS,
    Arr,
    AttnShape,
    Op,
    attention,
    embedding,
    fuse_gemms,
    linear,
    norm,
    vector_op,
)
from costmodel.core.pixel_shuffle import layer_scale_op, pixel_shuffle_ops, vit_qk_norm_ops
from costmodel.core.qwen_vl import (
    deepstack_add_op,
    deepstack_projector_ops,
    layer_runs,
    window_groups,
)
from costmodel.errors import CostmodelError
from costmodel.specs.model import LLMSpec, ModelSpec, ProjectorSpec, VisionSpec


def layer_groups(m: LLMSpec, pts: Points) -> tuple[tuple[int, int, Arr], ...]:
    """(first layer, end layer, prompt tokens kept in those layers' KV cache) per group."""
    return pts.layer_prompt or ((0, m.num_layers, pts.prompt),)


def kv_groups(m: LLMSpec, pts: Points) -> tuple[tuple[int, int, Arr], ...]:
    """(first layer, end layer, prompt tokens in those layers' KV cache after prefill): after
    KV-cache compression (pts.layer_kv) or what the layers saw (layer_groups)."""
    return pts.layer_kv or layer_groups(m, pts)


def _layers(lo: int, hi: int) -> str:
    return f"L{lo}" if hi - lo == 1 else f"L{lo}-{hi - 1}"


def vision_ops(v: VisionSpec, pts: Points, p: Precision, flash: bool) -> list[Op]:
    """ViT over B*N crops of S tokens, up to the selected feature layer.

    With ToMe merging (pts.vit_merge = r per layer), layer i sees vit_seq(v, pts, i) tokens
    and each layer is its own operator group.
    """
    seqs = pts.batch * pts.crops  # [B*N] encoder passes
    patch_rows = seqs * (pts.seq_per_crop - int(v.cls_token))  # patches, no CLS
    rows = seqs * pts.seq_per_crop  # [B*N*S] tokens
    d, st = v.hidden_size, "vision"
    ops = [linear("vision/patch_embed", st, patch_rows, v.patch_input_dim, d, v.patch_bias,
                  p.weight_bytes_per_element, p.act_bytes_per_element)]
    if v.num_position_embeddings:
        # Qwen3-VL (`Qwen3VLVisionModel.forward`): 4 bilinear taps of the table weighted and
        # summed (4 multiplies + 3 adds) and added to the patch (1): 8 FLOPs an element.
        ops.append(vector_op("vision/pos_embed", st, "elementwise", rows * d,
                             4 + 3 + ADD_FLOPS, 1.0, p.act_bytes_per_element, v.pos_table() * d,
                             p.weight_bytes_per_element))
    elif v.learned_pos_embedding:
        ops.append(vector_op("vision/pos_embed", st, "elementwise", rows * d, ADD_FLOPS, 1.0,
                             p.act_bytes_per_element, v.pos_table() * d, p.weight_bytes_per_element))
    if v.pre_norm:
        ops.append(norm("vision/pre_norm", st, rows, d, "layernorm", p.weight_bytes_per_element,
                        p.act_bytes_per_element))
    n = v.executed_layers
    if v.window_size is not None:
        return ops + _windowed_layers(v, pts, seqs, p, flash)
    if pts.vit_merge is None:
        layer = vit_layer_ops(v, seqs, pts.seq_per_crop, p, flash, f"vision/{_layers(0, n)}")
        ops += [_repeat(o, n, 0) for o in layer]
    else:
        for i in range(n):
            layer = vit_layer_ops(v, seqs, vit_seq(v, pts, i), p, flash, f"vision/L{i}")
            ops += [_repeat(o, 1, i) for o in layer]
    if v.post_norm and v.post_norm_applied:  # SigLIP's last_hidden_state (Gemma 3)
        ops.append(norm("vision/post_norm", st, seqs * vit_seq(v, pts, n), d, "layernorm",
                        p.weight_bytes_per_element, p.act_bytes_per_element))
    return ops


def _windowed_layers(v: VisionSpec, pts: Points, seqs: Arr, p: Precision,
                     flash: bool) -> list[Op]:
    """Qwen2.5-VL: runs of windowed layers (attention within each window) and full-attention
    layers (`fullatt_blocks`), one operator group per run (core/qwen_vl.py)."""
    if pts.vit_merge is not None:
        raise CostmodelError("merge_per_layer: ToMe inside a windowed ViT (Qwen2.5-VL) is "
                             "not modelled; compress at the projector or in the LLM")
    wins = window_groups(v, pts.seq_per_crop, pts.grid_w)
    ops: list[Op] = []
    for lo, hi, windowed in layer_runs(v):
        layer = vit_layer_ops(v, seqs, pts.seq_per_crop, p, flash, f"vision/{_layers(lo, hi)}",
                              wins if windowed else None)
        ops += [_repeat(o, hi - lo, lo) for o in layer]
    return ops


def vit_seq(v: VisionSpec, pts: Points, i: int) -> Arr:
    """Tokens per encoder pass entering ViT layer i under ToMe (r merged per layer, CLS and
    at least one patch kept): max(S - r*i, cls + 1)."""
    if pts.vit_merge is None:
        return pts.seq_per_crop
    return np.maximum(pts.seq_per_crop - pts.vit_merge * i, int(v.cls_token) + 1.0)


def vit_layer_ops(v: VisionSpec, seqs: Arr, seq: Arr, p: Precision, flash: bool,
                  pre: str, windows: list[tuple[str, Arr, Arr]] | None = None) -> list[Op]:
    """One ViT block over `seqs` passes of `seq` tokens; `windows` (Qwen2.5-VL windowed
    layers): attention within windows, one attention op per window kind (core/qwen_vl.py)."""
    rows, d, st, nk = seqs * seq, v.hidden_size, "vision", v.norm_kind
    layer = [
        norm(f"{pre}/norm1", st, rows, d, nk, p.weight_bytes_per_element, p.act_bytes_per_element),
        linear(f"{pre}/attn/qkv", st, rows, d, 3 * d, v.qkv_bias, p.weight_bytes_per_element,
               p.act_bytes_per_element),
    ] + vit_qk_norm_ops(v, pre, rows, p)
    if v.rope2d:
        layer.append(vector_op(f"{pre}/attn/rope", st, "rope", rows * 2 * d,
                               ROPE_FLOPS, 1.0, p.act_bytes_per_element))
    calls = [("attn", seqs, seq)] if windows is None else \
        [(f"attn/win_{kind}", seqs * n, size) for kind, n, size in windows]
    for name, n_seqs, q in calls:
        shape = AttnShape(seqs=n_seqs, q=q, k=q, heads=v.num_heads, kv_heads=v.num_heads,
                          head_dim=v.head_dim, causal=False, kv_from_cache=False)
        att = attention(f"{pre}/{name}", st, shape, p.act_bytes_per_element,
                        p.act_bytes_per_element, flash)  # flash: one op; eager: qk, softmax, pv
        layer += [replace(op, packed_seqs=n_seqs) for op in att] if v.packed_sequences else att
    layer += [
        linear(f"{pre}/attn/o", st, rows, d, d, True, p.weight_bytes_per_element, p.act_bytes_per_element),
        *layer_scale_op(v, f"{pre}/attn/layer_scale", rows, p),
        vector_op(f"{pre}/attn/residual", st, "elementwise", rows * d, ADD_FLOPS, 2.0,
                  p.act_bytes_per_element),
        norm(f"{pre}/norm2", st, rows, d, nk, p.weight_bytes_per_element, p.act_bytes_per_element),
    ]
    return layer + _vit_mlp(v, rows, p, pre)


def _vit_mlp(v: VisionSpec, rows: Arr, p: Precision, pre: str) -> list[Op]:
    """fc1, activation, fc2 (CLIP, SigLIP, Qwen2-VL, Qwen3-VL) or gate, up, SiLU gate, down,
    all with biases (Qwen2.5-VL `Qwen2_5_VLMLP(bias=True)`), and the residual add."""
    d, i, st = v.hidden_size, v.intermediate_size, "vision"
    if v.mlp_kind == "swiglu":
        mlp = [linear(f"{pre}/mlp/gate", st, rows, d, i, True, p.weight_bytes_per_element,
                      p.act_bytes_per_element),
               linear(f"{pre}/mlp/up", st, rows, d, i, True, p.weight_bytes_per_element,
                      p.act_bytes_per_element),
               vector_op(f"{pre}/mlp/act", st, "activation", rows * i, ACT_FLOPS["swiglu"],
                         2.0, p.act_bytes_per_element),
               linear(f"{pre}/mlp/down", st, rows, i, d, True, p.weight_bytes_per_element,
                      p.act_bytes_per_element)]
    else:
        mlp = [linear(f"{pre}/mlp/fc1", st, rows, d, i, True, p.weight_bytes_per_element,
                      p.act_bytes_per_element),
               vector_op(f"{pre}/mlp/act", st, "activation", rows * i, ACT_FLOPS[v.mlp_act],
                         1.0, p.act_bytes_per_element),
               linear(f"{pre}/mlp/fc2", st, rows, i, d, True, p.weight_bytes_per_element,
                      p.act_bytes_per_element)]
    return mlp + [*layer_scale_op(v, f"{pre}/mlp/layer_scale", rows, p),  # InternViT
                  vector_op(f"{pre}/mlp/residual", st, "elementwise", rows * d, ADD_FLOPS, 2.0,
                            p.act_bytes_per_element)]


def projector_ops(pj: ProjectorSpec, pts: Points, p: Precision) -> list[Op]:
    """Linear / 2-layer MLP over patch features, Qwen2-VL's 2x2 patch merger, or a pixel
    shuffle followed by InternVL's LayerNorm + MLP or Idefics3's Linear."""
    st = "projector"
    rows_in = pts.batch * pts.projector_rows  # [B*P] patch features
    ops: list[Op] = []
    if pj.kind == "patch_merger":
        ops.append(norm("projector/norm", st, rows_in, pj.input_dim, pj.norm_kind, p.weight_bytes_per_element,
                        p.act_bytes_per_element))
    ops += pixel_shuffle_ops(pj, rows_in, p)  # InternVL / Idefics3: shuffle (+ LayerNorm)
    rows = rows_in / pj.merge_size**2  # [B*P/m^2] merged rows
    if pj.kind == "avgpool_norm_linear":  # Gemma 3: m x m average pool, then RMSNorm
        ops += [vector_op("projector/avg_pool", st, "elementwise", rows * pj.input_dim,
                          float(pj.merge_size**2), float(pj.merge_size**2), p.act_bytes_per_element),
                norm("projector/norm", st, rows, pj.input_dim, "rmsnorm", p.weight_bytes_per_element,
                     p.act_bytes_per_element)]
    shapes = pj.linear_shapes()
    for i, (d_in, d_out) in enumerate(shapes):
        ops.append(linear(f"projector/fc{i + 1}", st, rows, d_in, d_out, pj.bias, p.weight_bytes_per_element,
                          p.act_bytes_per_element))
        if i + 1 < len(shapes):
            ops.append(vector_op("projector/act", st, "activation", rows * d_out, ACT_FLOPS["gelu"],
                                 1.0, p.act_bytes_per_element))
    if pj.deepstack:
        ops += deepstack_projector_ops(pj, pts, p)
    return ops


def _repeat(op: Op, count: int, first: int) -> Op:
    return Op(**{**op.__dict__, "count": count, "first_layer": first})


def llm_layer_ops(m: LLMSpec, stage: str, batch: Arr, q: Arr, k: Arr, p: Precision,
                  flash: bool, layers: tuple[int, int], window: int | None = None) -> list[Op]:
    """One decoder layer over B sequences of q new tokens attending to k keys (q <= k):
    the attention half, then the MLP half, each with its norm and residual add.

    Prefill: q = k = prompt. Decode: q = 1, k = context including the new token.
    window: the layers' sliding window (their calls hold window_keys(q, k, W) keys).
    """
    pre = f"llm/{_layers(*layers)}"
    rows = batch * q  # [B*q] new tokens
    shape = AttnShape(seqs=batch, q=q, k=window_keys(q, k, window), heads=m.num_heads,
                      kv_heads=m.num_kv_heads, head_dim=m.head_dim, causal=True,
                      kv_from_cache=True, window=window)
    ops = _attention_half(m, stage, pre, rows, shape, p, flash) + _mlp_half(m, stage, pre, rows, p)
    return [_repeat(o, layers[1] - layers[0], layers[0]) for o in ops]


def _attention_half(m: LLMSpec, stage: str, pre: str, rows: Arr, shape: AttnShape,
                    p: Precision, flash: bool) -> list[Op]:
    """Norm, q/k/v projections (+ q/k norms, RoPE), attention, output projection, post-norm
    (Gemma), residual add."""
    h = m.hidden_size
    return [
        norm(f"{pre}/attn_norm", stage, rows, h, m.norm_kind, p.weight_bytes_per_element,
             p.act_bytes_per_element),
        *_qkv_ops(m, stage, pre, rows, p),
        *attention(f"{pre}/attn", stage, shape, p.act_bytes_per_element, p.kv_bytes_per_element, flash),
        linear(f"{pre}/attn/o", stage, rows, m.q_dim, h, m.o_bias, p.weight_bytes_per_element,
               p.act_bytes_per_element),
        *post_norm_ops(m, f"{pre}/attn/post_norm", stage, rows, p),
        vector_op(f"{pre}/attn/residual", stage, "elementwise", rows * h, ADD_FLOPS, 2.0,
                  p.act_bytes_per_element),
    ]


def _qkv_ops(m: LLMSpec, stage: str, pre: str, rows: Arr, p: Precision) -> list[Op]:
    """The q, k, v projections, one GEMM where the engine fuses qkv (Engine.fused_gemms), then
    the q/k norms (Qwen3, Gemma 3) and RoPE on q and k."""
    h = m.hidden_size
    ops = fuse_gemms("qkv", [
        linear(f"{pre}/attn/q", stage, rows, h, m.q_dim, m.qkv_bias, p.weight_bytes_per_element,
               p.act_bytes_per_element),
        # K and V projections write straight into the KV cache (in the KV dtype).
        _kv_linear(f"{pre}/attn/k", stage, rows, h, m.kv_dim, m.qkv_bias, p),
        _kv_linear(f"{pre}/attn/v", stage, rows, h, m.kv_dim, m.qkv_bias, p)])
    ops += qk_norm_ops(m, pre, stage, rows, p)
    if m.rope:
        ops.append(vector_op(f"{pre}/attn/rope", stage, "rope",
                             rows * (m.q_dim + m.kv_dim), ROPE_FLOPS, 1.0, p.act_bytes_per_element))
    return ops


def _mlp_half(m: LLMSpec, stage: str, pre: str, rows: Arr, p: Precision) -> list[Op]:
    """Norm, the MLP (mixture of experts: router, top-k, routed experts, core/moe.py; else
    dense), post-norm (Gemma), residual add."""
    h = m.hidden_size
    mlp = moe_mlp_ops(m, stage, rows, pre, p) if m.moe is not None else \
        _dense_mlp(m, stage, pre, rows, p)
    return [
        norm(f"{pre}/mlp_norm", stage, rows, h, m.norm_kind, p.weight_bytes_per_element,
             p.act_bytes_per_element),
        *mlp,
        *post_norm_ops(m, f"{pre}/mlp/post_norm", stage, rows, p),
        vector_op(f"{pre}/mlp/residual", stage, "elementwise", rows * h, ADD_FLOPS, 2.0,
                  p.act_bytes_per_element),
    ]


def _dense_mlp(m: LLMSpec, stage: str, pre: str, rows: Arr, p: Precision) -> list[Op]:
    """GeGLU, SwiGLU (gate and up one GEMM where the engine fuses gate_up) or GELU up and
    activation, then the down projection."""
    h, inter = m.hidden_size, m.intermediate_size
    if m.mlp_kind == "geglu":
        ops = geglu_ops(m, pre, stage, rows, p)
    elif m.mlp_kind == "swiglu":
        ops = [
            *fuse_gemms("gate_up", [
                linear(f"{pre}/mlp/gate", stage, rows, h, inter, False, p.weight_bytes_per_element,
                       p.act_bytes_per_element),
                linear(f"{pre}/mlp/up", stage, rows, h, inter, False, p.weight_bytes_per_element,
                       p.act_bytes_per_element)]),
            vector_op(f"{pre}/mlp/act", stage, "activation", rows * inter, ACT_FLOPS["swiglu"],
                      2.0, p.act_bytes_per_element),
        ]
    else:
        ops = [
            linear(f"{pre}/mlp/up", stage, rows, h, inter, False, p.weight_bytes_per_element,
                   p.act_bytes_per_element),
            vector_op(f"{pre}/mlp/act", stage, "activation", rows * inter, ACT_FLOPS["gelu"],
                      1.0, p.act_bytes_per_element),
        ]
    return ops + [linear(f"{pre}/mlp/down", stage, rows, inter, h, False, p.weight_bytes_per_element,
                         p.act_bytes_per_element)]


def _kv_linear(name: str, stage: str, rows: Arr, d_in: int, d_out: int, bias: bool,
               p: Precision) -> Op:
    op = linear(name, stage, rows, d_in, d_out, bias, p.weight_bytes_per_element, p.act_bytes_per_element,
                kv_out=True)
    return Op(**{**op.__dict__,
                 "kv_write_bytes": op.kv_write_bytes * (p.kv_bytes_per_element / p.act_bytes_per_element)})


Group = tuple[int, int, Arr, Arr]  # (lo, hi, q new tokens, k keys) per sample


def llm_ops(m: LLMSpec, stage: str, batch: Arr, text_rows: Arr, groups: list[Group],
            p: Precision, flash: bool, logit_rows: Arr) -> list[Op]:
    """Embedding of text tokens, decoder layers by group, final norm and lm_head.

    text_rows: tokens per sample looked up in the embedding (visual tokens bypass it).
    logit_rows: tokens per sample whose logits are computed (1 = last only).
    """
    h = m.hidden_size
    ops = [embedding("llm/embed", stage, batch * text_rows, h, p.part("embed").weight_bytes_per_element,
                     p.act_bytes_per_element)]
    ops += embed_scale_ops(m, stage, batch * text_rows, p)
    for lo, hi, q, k in groups:
        for a, b, window in m.attn_runs(lo, hi):  # runs of one attention kind
            ops += llm_layer_ops(m, stage, batch, q, k, p, flash, (a, b), window)
    q_last = groups[-1][2]
    ops.append(norm("llm/final_norm", stage, batch * q_last, h, m.norm_kind, p.weight_bytes_per_element,
                    p.act_bytes_per_element))
    ops.append(linear("llm/lm_head", stage, batch * logit_rows, h, m.vocab_size, False,
                      p.part("lm_head").weight_bytes_per_element, p.act_bytes_per_element,
                      op_class="lm_head"))
    return ops


def prefill_ops(spec: ModelSpec, pts: Points, p: Precision, flash: bool, all_logits: bool) -> list[Op]:
    groups = [(lo, hi, s, s) for lo, hi, s in layer_groups(spec.llm, pts)]  # q = k = prompt
    last = groups[-1][2]
    logit_rows = last if all_logits else np.ones_like(last)
    ops = llm_ops(spec.llm, "prefill", pts.batch, pts.text, groups, p, flash, logit_rows)
    return ops + deepstack_add_op(spec, pts, p)


def decode_ops(spec: ModelSpec, pts: Points, step: Arr | float, p: Precision,
               flash: bool) -> list[Op]:
    """Decode step `step` (0-based): one token per sample attending over its layer group's
    cached prompt tokens (kv_groups) + 1 + step keys, capped by a rolling KV cache or sparse
    decode attention (core/decode_caps.py, which also adds the sparse top-k operators)."""
    kv = kv_groups(spec.llm, pts)
    groups = decode_groups(kv, pts, step)
    one = groups[0][2]
    ops = llm_ops(spec.llm, "decode", pts.batch, one, groups, p, flash, one)
    return ops + topk_ops(spec.llm, kv, pts, step, p)


def stage_ops(spec: ModelSpec, pts: Points, p: Precision, flash: bool,
              all_logits: bool = False) -> dict[str, list[Op]]:
    """Operators of the three pre-decode stages (decode depends on the context length)."""
    pv = p.part("vision")  # the encoder's and projector's weights (specs/quantization.py)
    vis = vision_ops(spec.vision, pts, pv, flash) if spec.vision else []
    proj = projector_ops(spec.projector, pts, pv) if spec.projector else []
    return {"vision": vis, "projector": proj, "prefill": prefill_ops(spec, pts, p, flash, all_logits)}
