"""Cross-attention VLMs (Llama-3.2-Vision, transformers `mllama`): operators of the tiled vision
encoder, the projector and the text decoder whose `cross_attention_layers` attend to the visual
tokens, and the KV cache (self-attention over text + a cross cache that does not grow).

Counted as transformers 5.23 `models/mllama/modeling_mllama.py` executes it (docs/methodology.md,
section "Cross-attention VLMs (Llama-3.2-Vision)"):
- `MllamaVisionModel.forward`: every image is max_num_tiles tiles (the processor's
  `pad_batches_and_tiles` pads with blank tiles); a tile is P patches + CLS = N tokens, padded to
  S (multiple of 8: 1601 -> 1608); the local and the global transformer attend over all
  T x S tokens of the image at once (`view(batch * media, -1, dim)`); padding stays in until the
  end, so every encoder operator runs on T x S rows; the output keeps T x N rows per image.
- `MllamaModel.forward`: multi_modal_projector = Linear(vision_output_dim, h) over T x N rows.
- `MllamaTextModel`: a cross layer projects K and V from the V visual tokens once (prefill),
  k_norm'd, into its cache; every step (prefill and decode) q (q_norm'd) attends to all V keys,
  no causal mask; tanh gates scale attention and MLP outputs. Without images the cross layers
  are skipped. Self-attention layers are Llama 3 layers over the text tokens only.
FLOPs = 2 x MAC; shapes per sample, B = batch.
"""

from __future__ import annotations

import numpy as np

from costmodel.core.inputs import Points, Precision
from costmodel.core.moe import swiglu_ops
from costmodel.core.ops import (
    ACT_FLOPS,
    ADD_FLOPS,
    Arr,
    AttnShape,
    Op,
    attention,
    embedding,
    linear,
    norm,
    vector_op,
)
from costmodel.core.stages import _kv_linear, _layers, _repeat, llm_layer_ops
from costmodel.errors import CostmodelError
from costmodel.specs.compression import AnyCompression, as_plan
from costmodel.specs.mllama import MllamaVisionSpec
from costmodel.specs.model import LLMSpec, ModelSpec

GATE_FLOPS = 2.0  # residual + tanh(gate) x branch: one multiply and one add per element


def _encoder_layer(v: MllamaVisionSpec, seqs: Arr, seq: Arr, p: Precision, flash: bool,
                   pre: str, gated: bool) -> list[Op]:
    """MllamaVisionEncoderLayer over `seqs` sequences of `seq` tokens: q/k/v/o without biases,
    fc1/fc2 with, GELU; a gated (global) layer scales both branches by tanh(gate)."""
    rows, d, st, inter = seqs * seq, v.hidden_size, "vision", v.intermediate_size
    shape = AttnShape(seqs=seqs, q=seq, k=seq, heads=v.num_heads, kv_heads=v.num_heads,
                      head_dim=v.head_dim, causal=False, kv_from_cache=False)
    res = GATE_FLOPS if gated else ADD_FLOPS
    return [
        norm(f"{pre}/norm1", st, rows, d, "layernorm", p.weight_bytes_per_element, p.act_bytes_per_element),
        linear(f"{pre}/attn/qkv", st, rows, d, 3 * d, False, p.weight_bytes_per_element,
               p.act_bytes_per_element),
        *attention(f"{pre}/attn", st, shape, p.act_bytes_per_element, p.act_bytes_per_element, flash),
        linear(f"{pre}/attn/o", st, rows, d, d, False, p.weight_bytes_per_element, p.act_bytes_per_element),
        vector_op(f"{pre}/attn/residual", st, "elementwise", rows * d, res, 2.0, p.act_bytes_per_element),
        norm(f"{pre}/norm2", st, rows, d, "layernorm", p.weight_bytes_per_element, p.act_bytes_per_element),
        linear(f"{pre}/mlp/fc1", st, rows, d, inter, True, p.weight_bytes_per_element,
               p.act_bytes_per_element),
        vector_op(f"{pre}/mlp/act", st, "activation", rows * inter, ACT_FLOPS["gelu"], 1.0,
                  p.act_bytes_per_element),
        linear(f"{pre}/mlp/fc2", st, rows, inter, d, True, p.weight_bytes_per_element,
               p.act_bytes_per_element),
        vector_op(f"{pre}/mlp/residual", st, "elementwise", rows * d, res, 2.0, p.act_bytes_per_element),
    ]


def vision_ops(v: MllamaVisionSpec, pts: Points, p: Precision, flash: bool) -> list[Op]:
    """The tiled encoder over B x crops images (pts.crops = images per sample), each T tiles.

    Rows: patches T*P (conv), tokens T*N (CLS and position embeddings, layernorm_pre), padded
    T*S (both transformers, layernorm_post, post-tile embedding); output T*N x vision_output_dim.
    """
    imgs, t, d, st = pts.batch * pts.crops, v.max_num_tiles, v.hidden_size, "vision"
    n, s = v.tokens_per_tile, v.padded_tokens_per_tile
    tok, pad = imgs * t * n, imgs * t * s
    ops = [
        linear("vision/patch_embed", st, imgs * t * v.patches_per_tile,
               v.in_channels * v.patch_size**2, d, False, p.weight_bytes_per_element,
               p.act_bytes_per_element),
        vector_op("vision/pre_tile_embed", st, "elementwise", imgs * t * v.patches_per_tile * d,
                  ADD_FLOPS, 1.0, p.act_bytes_per_element, t * d, p.weight_bytes_per_element),
        # hidden + (1 - tanh g) x position + tanh g x tile position: two adds, one multiply
        vector_op("vision/pos_embed", st, "elementwise", tok * d, 3.0, 1.0, p.act_bytes_per_element,
                  (t + 1) * n * d, p.weight_bytes_per_element),
        norm("vision/layernorm_pre", st, tok, d, "layernorm", p.weight_bytes_per_element,
             p.act_bytes_per_element),
        # _prepare_aspect_ratio_attention_mask: [T*S, 1] @ [1, T*S] per image (a matmul)
        linear("vision/attention_mask", st, imgs * t * s, 1, t * s, False, 0.0, p.act_bytes_per_element),
    ]
    seq = t * s + 0.0 * imgs  # one attention sequence per image: all its padded tiles
    for lo, hi, gated, part in ((0, v.num_layers, False, "local"),
                                (0, v.num_global_layers, True, "global")):
        if gated:
            ops += [norm("vision/layernorm_post", st, pad, d, "layernorm", p.weight_bytes_per_element,
                         p.act_bytes_per_element),
                    vector_op("vision/post_tile_embed", st, "elementwise", pad * d, ADD_FLOPS,
                              1.0, p.act_bytes_per_element, t * d, p.weight_bytes_per_element)]
        layer = _encoder_layer(v, imgs, seq, p, flash, f"vision/{part}/{_layers(lo, hi)}", gated)
        ops += [_repeat(o, hi - lo, lo) for o in layer]
    # final + intermediate-layer features concatenated (a copy): T*N x vision_output_dim
    ops.append(vector_op("vision/concat_features", st, "elementwise", tok * v.vision_output_dim,
                         0.0, 1.0, p.act_bytes_per_element))
    return ops


def projector_ops(v: MllamaVisionSpec, pts: Points, p: Precision) -> list[Op]:
    """multi_modal_projector: Linear(vision_output_dim -> text hidden, bias) over every visual
    token (pts.projector_rows = images x T x N per sample)."""
    return [linear("projector/fc1", "projector", pts.batch * pts.projector_rows,
                   v.vision_output_dim, v.text_hidden_size, True, p.weight_bytes_per_element,
                   p.act_bytes_per_element)]


def cross_layer_ops(m: LLMSpec, stage: str, batch: Arr, q: Arr, visual: Arr, p: Precision,
                    flash: bool, layer: int, project_kv: bool) -> list[Op]:
    """MllamaCrossAttentionDecoderLayer over B sequences of q text tokens and `visual` visual
    tokens; project_kv: K and V are projected (and k_norm'd) into the cross cache (prefill);
    otherwise read from it (decode). Zero where visual = 0 (transformers skips the layer)."""
    on = np.asarray(visual) > 0
    h, pre = m.hidden_size, f"llm/L{layer}/cross"
    rows, kv_rows = batch * q * on, batch * visual * on  # [B*q], [B*V]
    shape = AttnShape(seqs=batch, q=q * on, k=visual, heads=m.num_heads, kv_heads=m.num_kv_heads,
                      head_dim=m.head_dim, causal=False, kv_from_cache=True)
    ops = [norm(f"{pre}/attn_norm", stage, rows, h, m.norm_kind, p.weight_bytes_per_element,
                p.act_bytes_per_element),
           linear(f"{pre}/attn/q", stage, rows, h, m.q_dim, False, p.weight_bytes_per_element,
                  p.act_bytes_per_element),
           norm(f"{pre}/attn/q_norm", stage, rows * m.num_heads, m.head_dim, "rmsnorm",
                p.weight_bytes_per_element, p.act_bytes_per_element)]
    if project_kv:
        ops += [_kv_linear(f"{pre}/attn/k", stage, kv_rows, h, m.kv_dim, False, p),
                _kv_linear(f"{pre}/attn/v", stage, kv_rows, h, m.kv_dim, False, p),
                norm(f"{pre}/attn/k_norm", stage, kv_rows * m.num_kv_heads, m.head_dim,
                     "rmsnorm", p.weight_bytes_per_element, p.kv_bytes_per_element)]
    ops += attention(f"{pre}/attn", stage, shape, p.act_bytes_per_element, p.kv_bytes_per_element, flash)
    ops += [
        linear(f"{pre}/attn/o", stage, rows, m.q_dim, h, False, p.weight_bytes_per_element,
               p.act_bytes_per_element),
        vector_op(f"{pre}/attn/gated_residual", stage, "elementwise", rows * h, GATE_FLOPS, 2.0,
                  p.act_bytes_per_element, 1, p.weight_bytes_per_element),
    ] + _cross_mlp_ops(m, stage, pre, rows, p)
    return [_repeat(o, 1, layer) for o in ops]


def _cross_mlp_ops(m: LLMSpec, stage: str, pre: str, rows: Arr, p: Precision) -> list[Op]:
    """The cross layer's gated MLP over `rows` text tokens: norm, SwiGLU MLP, then the text
    row mask and residual + tanh(gate) x the MLP output (MllamaCrossAttentionDecoderLayer)."""
    h, inter = m.hidden_size, m.intermediate_size
    return [
        norm(f"{pre}/mlp_norm", stage, rows, h, m.norm_kind, p.weight_bytes_per_element,
             p.act_bytes_per_element),
        *swiglu_ops(f"{pre}/mlp", stage, rows, h, inter, p),
        # full_text_row_masked_out_mask x MLP output, then residual + tanh(gate) x that
        vector_op(f"{pre}/mlp/gated_residual", stage, "elementwise", rows * h, 1.0 + GATE_FLOPS,
                  2.0, p.act_bytes_per_element, 1, p.weight_bytes_per_element),
    ]


def decoder_ops(m: LLMSpec, stage: str, pts: Points, q: Arr, k: Arr, p: Precision, flash: bool,
                logit_rows: Arr) -> list[Op]:
    """Embedding of q text tokens, runs of self-attention layers (q new tokens over k keys)
    split at each cross layer, final norm and lm_head (MllamaForConditionalGeneration)."""
    b, h = pts.batch, m.hidden_size
    ops = [embedding("llm/embed", stage, b * q, h, p.part("embed").weight_bytes_per_element,
                     p.act_bytes_per_element)]
    lo = 0
    for x in (*m.cross_attention_layers, m.num_layers):
        if x > lo:
            ops += llm_layer_ops(m, stage, b, q, k, p, flash, (lo, x))
        if x < m.num_layers:
            ops += cross_layer_ops(m, stage, b, q, pts.visual, p, flash, x, stage == "prefill")
        lo = x + 1
    ops.append(norm("llm/final_norm", stage, b * q, h, m.norm_kind, p.weight_bytes_per_element,
                    p.act_bytes_per_element))
    ops.append(linear("llm/lm_head", stage, b * logit_rows, h, m.vocab_size, False,
                      p.part("lm_head").weight_bytes_per_element, p.act_bytes_per_element,
                      op_class="lm_head"))
    return ops


def stage_ops(spec: ModelSpec, pts: Points, p: Precision, flash: bool,
              all_logits: bool) -> dict[str, list[Op]]:
    """Vision, projector and prefill (the prompt = the text tokens, incl. <|image|> tokens)."""
    v = spec.cross_vision
    assert v is not None
    s = pts.text
    if np.any(s < 1):
        raise CostmodelError("text_tokens: a Llama-3.2-Vision prompt is its text tokens (one "
                             "<|image|> token per image included); give at least 1")
    logit_rows = s if all_logits else np.ones_like(s)
    pv = p.part("vision")  # the encoder's and projector's weights (specs/quantization.py)
    return {"vision": vision_ops(v, pts, pv, flash), "projector": projector_ops(v, pts, pv),
            "prefill": decoder_ops(spec.llm, "prefill", pts, s, s, p, flash, logit_rows)}


def decode_ops(spec: ModelSpec, pts: Points, step: Arr | float, p: Precision,
               flash: bool) -> list[Op]:
    """Decode step `step` (0-based): one token; self layers over text + 1 + step keys, cross
    layers over the whole (fixed) cross cache of pts.visual keys."""
    one = pts.text * 0 + 1.0
    return decoder_ops(spec.llm, "decode", pts, one, pts.text + 1.0 + step, p, flash, one)


def cached_token_layers(m: LLMSpec, pts: Points, lo: int, hi: int) -> Arr:
    """Tokens the KV cache of layers lo..hi-1 holds at the end of generation, summed over the
    layers (per sequence): a self layer text + N - 1, a cross layer the visual tokens (fixed
    after prefill). The bytes: metrics.kv_cache_bytes."""
    n_cross = sum(1 for i in m.cross_attention_layers if lo <= i < hi)
    n_self = max(0, hi - lo) - n_cross
    return n_self * (pts.prompt + pts.output - 1.0) + n_cross * pts.visual


def check_compression(comp: AnyCompression | None) -> None:
    """Token compression acts on the cross cache here: 'projector' (fewer visual tokens after
    the projector -> smaller cross K/V, cheaper cross-attention) applies; the rest do not."""
    plan = as_plan(comp)
    if plan is None:
        return
    for c in plan.ordered:
        if c.where != "projector":
            raise CostmodelError(
                f"compression.where: '{c.where}' does not apply to Llama-3.2-Vision (visual tokens "
                "feed cross-attention, not the prompt; its encoder is tiled); use where=projector "
                "(--at projector), which shrinks the cross-attention K/V cache")
    if plan.kv is not None:
        raise CostmodelError("compression.kv: KV-cache eviction of prompt tokens does not apply to "
                             "Llama-3.2-Vision's cross cache; drop it (compressing at the "
                             "projector, where=projector / --at projector, shrinks the cross "
                             "K/V)")
    if plan.sparse_decode is not None:
        raise CostmodelError("compression.sparse_decode: sparse decode attention is not modelled "
                             "for Llama-3.2-Vision's cross-attention layers")
