"""Cross-checks of the analytical operators against the torch reference model.

FLOPs: `torch.utils.flop_counter.FlopCounterMode` counts matrix products only (mm, addmm,
bmm, baddbmm, convolution, and the fused SDPA kernels), 2 FLOPs per multiply-accumulate, with
no bias adds (addmm counts 2*M*K*N). That is exactly costmodel's `Op.matmul_flops`; bias adds,
norms, activations, softmax and RoPE are `vector_flops`, which torch does not count.

Conventions that differ, named (see docs/validation.md):
- Causal attention. FlopCounterMode counts the full q x k score rectangle whatever `is_causal`
  says (the SDPA formulas ignore the mask; the math path runs full bmm's then masks). That is
  costmodel's eager count (`flash=False`). costmodel's FlashAttention count (`flash=True`)
  skips the masked triangle: `causal_skipped_flops` below is the difference, exactly.
- Device. On CPU tensors SDPA runs `_scaled_dot_product_flash_attention_for_cpu`, which
  FlopCounterMode has no formula for (it counts 0). We count on the meta device, where SDPA
  decomposes into bmm's that are counted; no memory is allocated, so 7B models count in ms.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from costmodel.core.inputs import Points, Precision
from costmodel.core.model_ops import decode_ops, stage_ops
from costmodel.core.ops import band_scores
from costmodel.core.visual_tokens import plan_tokens
from costmodel.reference.model import ReferenceModel, build
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import VisualPlan

STAGES = ("vision", "projector", "prefill", "decode")
_UNIT = Precision(weight_bytes_per_element=1.0, act_bytes_per_element=1.0, kv_bytes_per_element=1.0)


def points(plan: VisualPlan, batch: int, text_tokens: int) -> Points:
    def a(x: float) -> np.ndarray:
        return np.asarray([float(x)])

    return Points(batch=a(batch), crops=a(plan.crops), seq_per_crop=a(plan.seq_per_crop),
                  projector_rows=a(plan.projector_rows), visual=a(plan.llm_tokens),
                  text=a(text_tokens), output=a(2))


def analytical_matmul_flops(spec: ModelSpec, batch: int, visual_tokens: int, text_tokens: int,
                            flash: bool = False, step: int = 0) -> dict[str, int]:
    """Sum of Op.matmul_flops x count per stage; decode = decode step `step` (0-based)."""
    pts = points(plan_tokens(spec, visual_tokens), batch, text_tokens)
    ops = stage_ops(spec, pts, _UNIT, flash)
    ops["decode"] = decode_ops(spec, pts, float(step), _UNIT, flash)
    return {s: int(round(sum(float(o.matmul_flops[0]) * o.count for o in ops[s])))
            for s in STAGES}


def causal_skipped_flops(spec: ModelSpec, batch: int, prompt_tokens: int) -> int:
    """Masked FLOPs of prefill attention: QK^T and PV over the q(q-1)/2 keys a causal mask
    hides, 2 x 2 x head_dim each, per head, sequence and layer; in a sliding-window layer
    (window W) over the q^2 - band(q) keys outside the band, band(q) = sum_p min(p + 1, W)
    (core.ops.band_scores). Counted by torch (the mask is applied to the full score matrix)
    and by costmodel's eager attention, skipped by costmodel's FlashAttention count."""
    m, q = spec.llm, prompt_tokens
    hidden = 0
    for i in range(m.num_layers):
        w = m.window(i)
        hidden += q * (q - 1) // 2 if w is None else q * q - int(band_scores(np.float64(q), w))
    return hidden * batch * m.num_heads * 4 * m.head_dim


def _count(fn: object) -> int:
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        fn()  # type: ignore[operator]
    return int(fc.get_total_flops())


def stage_inputs(spec: ModelSpec, plan: VisualPlan, batch: int) -> dict[str, Any]:
    """Shapes of each stage's input for a plan from `plan_tokens`: patches [crops, P, C*p*p],
    patch features into the projector and visual tokens into the LLM, per sample."""
    out: dict[str, Any] = {}
    if spec.vision is not None and plan.crops:
        v = spec.vision
        seq = plan.seq_per_crop - int(v.cls_token)
        if seq != int(seq):
            raise ValueError(f"visual tokens give {seq} patches per crop; pick a multiple")
        out["patches"] = (batch * int(plan.crops), int(seq), v.patch_input_dim)
    out["projector_rows"] = int(plan.projector_rows)
    out["visual"] = int(plan.llm_tokens)
    return out


def visual_inputs(spec: ModelSpec, plan: VisualPlan, batch: int, device: str | torch.device,
                  dtype: torch.dtype) -> torch.Tensor | None:
    """Random patches [B*crops, P, C*p*p] for a VLM; random visual embeddings [B, V, h] for a
    text-only LLM given visual tokens; None without visual tokens."""
    shp = stage_inputs(spec, plan, batch)
    if not shp["visual"]:
        return None
    if spec.vision is None or spec.projector is None:
        return torch.randn(batch, shp["visual"], spec.llm.hidden_size, device=device, dtype=dtype)
    return torch.randn(*shp["patches"], device=device, dtype=dtype)


def visual_embeds(model: ReferenceModel, plan: VisualPlan, batch: int, x: torch.Tensor | None,
                  counts: dict[str, int] | None = None) -> torch.Tensor | None:
    """Vision -> projector on `x` from visual_inputs (counting each stage's FLOPs into
    `counts` if given); the visual embeddings entering the LLM."""
    spec = model.spec
    vit, proj = model.vision, model.projector  # built exactly when spec.vision, spec.projector are
    if x is None or vit is None or proj is None or spec.vision is None:
        return x
    rows = stage_inputs(spec, plan, batch)["projector_rows"]
    width = spec.vision.hidden_size
    box: dict[str, torch.Tensor] = {}

    def vision() -> None:
        box["f"] = vit(x).reshape(batch, -1, width)

    def projector() -> None:
        box["v"] = proj(box["f"][:, :rows])

    for name, fn in (("vision", vision), ("projector", projector)):
        if counts is None:
            fn()
        else:
            counts[name] = _count(fn)
    return box["v"]


def torch_matmul_flops(spec: ModelSpec, batch: int, visual_tokens: int, text_tokens: int,
                       step: int = 0, model: ReferenceModel | None = None) -> dict[str, int]:
    """FlopCounterMode totals per stage of the reference model on the meta device."""
    model = model or build(spec, "meta")
    plan = plan_tokens(spec, visual_tokens)
    counts = {"vision": 0, "projector": 0}
    x = visual_inputs(spec, plan, batch, "meta", torch.float32)
    vis = visual_embeds(model, plan, batch, x, counts)
    prompt = int(plan.llm_tokens) + text_tokens
    cache = model.llm.new_cache(batch, prompt + step + 1)
    ids = torch.zeros(batch, text_tokens, dtype=torch.long, device="meta")
    counts["prefill"] = _count(lambda: model.llm.prefill(ids, cache, vis))
    tok = torch.zeros(batch, 1, dtype=torch.long, device="meta")
    for j in range(step):  # earlier steps fill the cache; only step `step` is counted
        model.llm.decode(tok, cache, prompt + j)
    counts["decode"] = _count(lambda: model.llm.decode(tok, cache, prompt + step))
    return counts

