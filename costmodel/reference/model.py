"""A PyTorch reference implementation of a `ModelSpec` (random weights, no downloads).

LLM decoder: RMSNorm (or LayerNorm), RoPE, GQA attention through
`F.scaled_dot_product_attention`, SwiGLU (or GELU) MLP, lm_head (tied or not), with a
preallocated KV cache for prefill and decode. ViT: patch embedding as a Linear over flattened
patches (the same arithmetic as a stride = kernel Conv2d/Conv3d), optional CLS token, learned
position table or 2-D RoPE (Qwen2-VL), optional pre-norm, fused qkv. Projector: linear,
2-layer GELU MLP or Qwen2-VL's patch merger. Every module mirrors the closed-form parameter
counts of `costmodel.specs.model` one for one (a test checks it for every zoo model).

torch is imported only under `costmodel.reference`; the core never imports this module.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor, nn

from costmodel.errors import CostmodelError
from costmodel.reference.tiny import tiny_spec  # noqa: F401  (re-exported)
from costmodel.specs.model import LLMSpec, ModelSpec, ProjectorSpec, VisionSpec

ROPE_THETA = 10000.0
INIT_STD = 0.02
_ACTS = {
    "gelu": lambda x: F.gelu(x),
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
}


def _norm(kind: str, dim: int) -> nn.Module:
    return nn.RMSNorm(dim, eps=1e-6) if kind == "rmsnorm" else nn.LayerNorm(dim, eps=1e-6)


def rope_tables(pos: Tensor, dim: int, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """cos, sin [T, dim] for positions `pos` [T] (rotate-half convention)."""
    inv = 1.0 / ROPE_THETA ** (torch.arange(0, dim, 2, device=pos.device).float() / dim)
    ang = pos.float()[:, None] * inv[None, :]
    ang = torch.cat([ang, ang], dim=-1)
    return ang.cos().to(dtype), ang.sin().to(dtype)


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """x [..., T, dim] rotated by position."""
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin


class KVCache:
    """Preallocated K and V per layer: [batch, kv_heads, capacity, head_dim] each.

    `length` is the number of positions written so far. Static shapes make decode capturable
    in a CUDA graph.
    """

    def __init__(self, m: LLMSpec, batch: int, capacity: int, dtype: torch.dtype,
                 device: torch.device | str) -> None:
        shape = (batch, m.num_kv_heads, capacity, m.head_dim)
        self.k = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(m.num_layers)]
        self.v = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(m.num_layers)]
        self.capacity = capacity
        self.length = 0

    @property
    def nbytes(self) -> int:
        """Bytes of all allocated cache tensors."""
        return sum(t.numel() * t.element_size() for t in self.k + self.v)

    def write(self, layer: int, pos: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Store k, v [B, kv_heads, T, hd] at positions pos..pos+T-1; return keys 0..pos+T-1."""
        end = pos + k.shape[2]
        if end > self.capacity:
            raise CostmodelError(
                f"KV cache: position {end} exceeds capacity {self.capacity}; allocate more"
            )
        self.k[layer][:, :, pos:end] = k
        self.v[layer][:, :, pos:end] = v
        self.length = max(self.length, end)
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]


def _band_mask(t: int, window: int, device: torch.device) -> Tensor:
    """[t, t] True where query i may see key j: 0 <= i - j < window (causal sliding window)."""
    d = torch.arange(t, device=device)[:, None] - torch.arange(t, device=device)[None, :]
    return (d >= 0) & (d < window)


class Attention(nn.Module):
    def __init__(self, m: LLMSpec, layer: int = 0) -> None:
        super().__init__()
        self.h, self.kvh, self.hd = m.num_heads, m.num_kv_heads, m.head_dim
        self.window = m.window(layer)
        if m.qk_norm:  # Gemma 3: RMSNorm(head_dim) on each query and key head
            self.q_norm, self.k_norm = _norm(m.norm_kind, m.head_dim), _norm(m.norm_kind,
                                                                              m.head_dim)
        self.q = nn.Linear(m.hidden_size, m.q_dim, bias=m.qkv_bias)
        self.k = nn.Linear(m.hidden_size, m.kv_dim, bias=m.qkv_bias)
        self.v = nn.Linear(m.hidden_size, m.kv_dim, bias=m.qkv_bias)
        self.o = nn.Linear(m.q_dim, m.hidden_size, bias=m.o_bias)
        self.rope = m.rope

    def forward(self, x: Tensor, cache: KVCache, layer: int, pos: int,
                rope: tuple[Tensor, Tensor]) -> Tensor:
        b, t, _ = x.shape
        q = self.q(x).view(b, t, self.h, self.hd).transpose(1, 2)
        k = self.k(x).view(b, t, self.kvh, self.hd).transpose(1, 2)
        v = self.v(x).view(b, t, self.kvh, self.hd).transpose(1, 2)
        if hasattr(self, "q_norm"):
            q, k = self.q_norm(q), self.k_norm(k)
        if self.rope:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        keys, values = cache.write(layer, pos, k, v)
        # Prefill (t > 1 from position 0): causal over the prompt (a band under a sliding
        # window: the full score matrix is computed and masked). Decode (t == 1): every key,
        # or the last `window` of them (as transformers' DynamicSlidingWindowLayer returns).
        mask = None
        if self.window is not None and t > 1:
            mask = _band_mask(t, self.window, x.device)
        elif self.window is not None:
            keys, values = keys[:, :, -self.window:], values[:, :, -self.window:]
        o = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask,
                                           is_causal=t > 1 and mask is None,
                                           enable_gqa=self.h != self.kvh)
        return self.o(o.transpose(1, 2).reshape(b, t, self.h * self.hd))


class MLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x)); GeGLU: down(gelu_tanh(gate(x)) * up(x)); GELU:
    down(gelu(up(x))). No biases (as the spec)."""

    def __init__(self, m: LLMSpec) -> None:
        super().__init__()
        self.swiglu, self.geglu = m.mlp_kind == "swiglu", m.mlp_kind == "geglu"
        if self.swiglu or self.geglu:
            self.gate = nn.Linear(m.hidden_size, m.intermediate_size, bias=False)
        self.up = nn.Linear(m.hidden_size, m.intermediate_size, bias=False)
        self.down = nn.Linear(m.intermediate_size, m.hidden_size, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.swiglu:
            return self.down(F.silu(self.gate(x)) * self.up(x))
        if self.geglu:
            return self.down(F.gelu(self.gate(x), approximate="tanh") * self.up(x))
        return self.down(F.gelu(self.up(x)))


class DecoderLayer(nn.Module):
    def __init__(self, m: LLMSpec, layer: int = 0) -> None:
        super().__init__()
        self.attn_norm, self.mlp_norm = _norm(m.norm_kind, m.hidden_size), _norm(m.norm_kind,
                                                                                  m.hidden_size)
        self.attn, self.mlp = Attention(m, layer), MLP(m)
        # Gemma 2/3 sandwich norms on each sub-block's output.
        post = m.sandwich_norm
        self.post_attn_norm = _norm(m.norm_kind, m.hidden_size) if post else nn.Identity()
        self.post_mlp_norm = _norm(m.norm_kind, m.hidden_size) if post else nn.Identity()

    def forward(self, x: Tensor, cache: KVCache, layer: int, pos: int,
                rope: tuple[Tensor, Tensor]) -> Tensor:
        x = x + self.post_attn_norm(self.attn(self.attn_norm(x), cache, layer, pos, rope))
        return x + self.post_mlp_norm(self.mlp(self.mlp_norm(x)))


class DecoderLM(nn.Module):
    """The LLM. `prefill` and `decode` return logits of the last position only."""

    def __init__(self, m: LLMSpec) -> None:
        super().__init__()
        self.spec = m
        self.embed = nn.Embedding(m.vocab_size, m.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(m, i) for i in range(m.num_layers))
        self.norm = _norm(m.norm_kind, m.hidden_size)
        self.lm_head = nn.Linear(m.hidden_size, m.vocab_size, bias=False)
        self.tie()

    def tie(self) -> None:
        if self.spec.tie_embeddings:
            self.lm_head.weight = self.embed.weight

    def new_cache(self, batch: int, capacity: int) -> KVCache:
        w = self.embed.weight
        return KVCache(self.spec, batch, capacity, w.dtype, w.device)

    def _run(self, x: Tensor, cache: KVCache, pos: int) -> Tensor:
        t = x.shape[1]
        positions = torch.arange(pos, pos + t, device=x.device)
        rope = rope_tables(positions, self.spec.head_dim, x.dtype)
        for i, layer in enumerate(self.layers):
            x = layer(x, cache, i, pos, rope)
        return self.lm_head(self.norm(x)[:, -1:])

    def prefill(self, text_ids: Tensor, cache: KVCache, visual: Tensor | None = None) -> Tensor:
        """Prompt = visual embeddings [B, V, h] (if any) followed by embedded text [B, T]."""
        x = self._embed(text_ids)
        if visual is not None:
            x = torch.cat([visual.to(x.dtype), x], dim=1)
        return self._run(x, cache, 0)

    def decode(self, token_ids: Tensor, cache: KVCache, pos: int) -> Tensor:
        """One new token per sequence [B, 1] at position `pos` (attends to pos + 1 keys)."""
        return self._run(self._embed(token_ids), cache, pos)

    def _embed(self, ids: Tensor) -> Tensor:
        x = self.embed(ids)
        return x * self.spec.hidden_size**0.5 if self.spec.embed_scale else x


class ViTLayer(nn.Module):
    """Pre-norm block; InternViT adds q/k RMSNorm (qk_norm) and per-channel layer scale."""

    def __init__(self, v: VisionSpec) -> None:
        super().__init__()
        d = v.hidden_size
        self.heads, self.rope2d = v.num_heads, v.rope2d
        self.norm1, self.norm2 = _norm(v.norm_kind, d), _norm(v.norm_kind, d)
        self.qkv, self.o = nn.Linear(d, 3 * d, bias=v.qkv_bias), nn.Linear(d, d)
        self.q_norm = nn.RMSNorm(d, eps=1e-6) if v.qk_norm else None
        self.k_norm = nn.RMSNorm(d, eps=1e-6) if v.qk_norm else None
        self.ls1 = nn.Parameter(torch.ones(d)) if v.layer_scale else None
        self.ls2 = nn.Parameter(torch.ones(d)) if v.layer_scale else None
        self.fc1, self.fc2 = nn.Linear(d, v.intermediate_size), nn.Linear(v.intermediate_size, d)
        self.act = _ACTS[v.mlp_act]

    def forward(self, x: Tensor, rope: tuple[Tensor, Tensor] | None) -> Tensor:
        n, s, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(d, dim=-1)
        if self.q_norm is not None and self.k_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k, v = (t.reshape(n, s, self.heads, -1).transpose(1, 2) for t in (q, k, v))
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        o = F.scaled_dot_product_attention(q, k, v)  # bidirectional
        a = self.o(o.transpose(1, 2).reshape(n, s, d))
        x = x + (a if self.ls1 is None else self.ls1 * a)
        m = self.fc2(self.act(self.fc1(self.norm2(x))))
        return x + (m if self.ls2 is None else self.ls2 * m)


def _rope2d(s: int, head_dim: int, device: torch.device,
            dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """2-D RoPE over a square-ish patch grid: half the head dim by row, half by column."""
    side = math.ceil(math.sqrt(s))
    idx = torch.arange(s, device=device)
    cr, sr = rope_tables(idx // side, head_dim // 2, dtype)
    cc, sc = rope_tables(idx % side, head_dim // 2, dtype)
    return torch.cat([cr, cc], -1), torch.cat([sr, sc], -1)


class ViT(nn.Module):
    """forward(patches [n, P, C*t*p*p]) -> patch features [n, P, d] of the selected layer."""

    def __init__(self, v: VisionSpec) -> None:
        super().__init__()
        self.spec, d = v, v.hidden_size
        if v.rope2d and v.head_dim % 4:
            raise CostmodelError(f"vision.num_heads: 2-D RoPE needs head_dim % 4 == 0, got "
                                 f"{v.head_dim}")
        self.patch_embed = nn.Linear(v.patch_input_dim, d, bias=v.patch_bias)
        self.cls = nn.Parameter(torch.zeros(d)) if v.cls_token else None
        table = v.patches_per_image + int(v.cls_token)
        self.pos_embed = nn.Embedding(table, d) if v.learned_pos_embedding else None
        self.pre_norm = nn.LayerNorm(d, eps=1e-6) if v.pre_norm else None
        self.layers = nn.ModuleList(ViTLayer(v) for _ in range(v.num_layers))
        # Built for the parameter count; features come from hidden states before it (as in
        # transformers' hidden_states[feature_layer]), so it is not applied.
        self.post_norm = nn.LayerNorm(d, eps=1e-6) if v.post_norm else None

    def forward(self, patches: Tensor) -> Tensor:
        x = self.patch_embed(patches)
        n, s, d = x.shape
        if self.cls is not None:
            x = torch.cat([self.cls.expand(n, 1, d), x], dim=1)
        if self.pos_embed is not None:
            if x.shape[1] > self.pos_embed.num_embeddings:
                raise CostmodelError(f"vision: {s} patches exceed the position table "
                                     f"({self.spec.patches_per_image}); use more crops")
            x = x + self.pos_embed.weight[: x.shape[1]]
        if self.pre_norm is not None:
            x = self.pre_norm(x)
        rope = _rope2d(x.shape[1], self.spec.head_dim, x.device, x.dtype) if self.spec.rope2d \
            else None
        for layer in self.layers[: self.spec.executed_layers]:
            x = layer(x, rope)
        if self.post_norm is not None and self.spec.post_norm_applied:
            x = self.post_norm(x)
        # CLS dropped, unless kept as a feature (LLaVA "full": LlavaModel.get_image_features)
        return x[:, int(self.spec.cls_token and not self.spec.feature_keeps_cls):]


class Projector(nn.Module):
    """forward(features [B, rows, d_in]) -> [B, rows / merge^2, d_out].

    patch_merger: LayerNorm, then merge^2 rows into one. pixel_shuffle_*: merge^2 rows into one
    (a reshape standing in for the spatial shuffle: the same shapes and FLOPs), then
    LayerNorm (pixel_shuffle_mlp)."""

    def __init__(self, p: ProjectorSpec) -> None:
        super().__init__()
        self.spec = p
        self.norm = nn.LayerNorm(p.norm_dim, eps=1e-6) if p.norm_dim else None
        # Gemma 3: average m x m patches (grouped as consecutive rows: the same FLOPs), RMSNorm.
        self.pool_norm = nn.RMSNorm(p.input_dim, eps=1e-6) if p.kind == "avgpool_norm_linear" \
            else None
        self.fcs = nn.ModuleList(nn.Linear(i, o, bias=p.bias) for i, o in p.linear_shapes())

    def forward(self, x: Tensor) -> Tensor:
        b, rows, d = x.shape
        if self.pool_norm is not None:
            x = self.pool_norm(x.reshape(b, rows // self.spec.merge_size**2, -1, d).mean(2))
        if self.spec.kind == "patch_merger" and self.norm is not None:
            x = self.norm(x)
        if self.spec.merge_size > 1 and self.pool_norm is None:
            x = x.reshape(b, rows // self.spec.merge_size**2, -1)
        if self.spec.kind == "pixel_shuffle_mlp" and self.norm is not None:
            x = self.norm(x)
        for i, fc in enumerate(self.fcs):
            x = fc(x) if i == 0 else fc(F.gelu(x))
        return x


class ReferenceModel(nn.Module):
    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        if spec.llm.cross_attention_layers:
            raise CostmodelError(f"{spec.name}: the torch reference model has no cross-attention "
                                 "layers (Llama-3.2-Vision); use a self-attention model")
        if spec.llm.moe is not None:  # checked against transformers' own classes instead
            # (tests/unit/reference/test_moe.py)
            raise CostmodelError(f"{spec.name}: the torch reference model builds dense MLPs; "
                                 "mixture-of-experts models are checked against transformers")
        self.spec = spec
        self.llm = DecoderLM(spec.llm)
        self.vision = ViT(spec.vision) if spec.vision else None
        self.projector = Projector(spec.projector) if spec.projector else None
        # LLaVA-NeXT / OneVision: one learned row appended after each row of tile features
        # (counted with the projector, as ModelSpec.param_counts does).
        newline = spec.projector is not None and spec.token_scheme.newline_token
        self.image_newline = nn.Parameter(torch.zeros(spec.llm.hidden_size)) if newline else None

    def param_counts(self) -> dict[str, int]:
        """numel per component (shared tensors once), keyed as ModelSpec.param_counts()."""
        def n(m: nn.Module | None) -> int:
            return sum(p.numel() for p in m.parameters()) if m is not None else 0

        newline = self.image_newline.numel() if self.image_newline is not None else 0
        counts = {"llm": n(self.llm), "vision": n(self.vision),
                  "projector": n(self.projector) + newline}
        counts["total"] = sum(counts.values())
        return counts


def mirrors(spec: ModelSpec) -> bool:
    """Whether this reference builds `spec` module for module. It does not build the
    Qwen2.5-VL / Qwen3-VL vision modules (SwiGLU ViT blocks, windowed attention, interpolated
    positions, DeepStack mergers, an RMSNorm merger), cross-attention decoders or mixture-of-
    experts MLPs: those specs are checked against transformers' own classes instead
    (tests/unit/reference/test_qwen_vl.py, test_mllama_flops.py, test_moe.py)."""
    v, pj = spec.vision, spec.projector
    qwen_vit = v is not None and (v.mlp_kind != "fc" or v.window_size is not None
                                  or v.num_position_embeddings is not None)
    qwen_proj = pj is not None and (pj.deepstack > 0 or pj.norm_kind != "layernorm")
    other = bool(spec.llm.cross_attention_layers) or spec.llm.moe is not None
    return not (qwen_vit or qwen_proj or other)


def build(spec: ModelSpec, device: str | torch.device = "meta",
          dtype: torch.dtype = torch.float32, seed: int = 0) -> ReferenceModel:
    """The reference model with N(0, 0.02) random weights (norm scales 1) on `device`."""
    if not mirrors(spec):
        raise CostmodelError(f"{spec.name}: the torch reference model does not build its "
                             "Qwen2.5-VL / Qwen3-VL vision modules, cross-attention or experts; "
                             "use a model it mirrors")
    with torch.device("meta"):
        model = ReferenceModel(spec).to(dtype)
    if torch.device(device).type == "meta":
        return model.eval()
    model = model.to_empty(device=device)
    model.llm.tie()
    gen = torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.fill_(1.0 if name.endswith("weight") else 0.0)
            else:
                p.normal_(0.0, INIT_STD, generator=gen)
    return model.eval()
