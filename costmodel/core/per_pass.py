"""An engine that runs each ViT pass as its own graph (Engine.vision_graph = 'per_pass':
llama.cpp). Pure numpy.

llama.cpp's multimodal code encodes a request's images and tiles one at a time:
clip_image_batch_encode builds one graph for one image ("only support batch size of 1",
ggml-org/llama.cpp tools/mtmd/clip.cpp, commit 0024aa74) and mtmd_encode loops over a LLaVA /
MiniCPM-V image's tiles, one clip_image_encode each ("llava does not support batched encoding",
tools/mtmd/mtmd.cpp). So every vision and projector operator over P passes (P = batch x the
encoder passes per request: images, tiles, frame pairs) runs P times over one pass's rows, where
the model's operator is one batched call. Priced here (seconds):

    launches   x P (each pass launches its own kernels)
    kernel     P x t(one pass) in place of t(all P passes), where the device has fitted kernel
               figures (core/kernel_model.py): a GEMM of m / P rows reads its weights P times
               and pays its fixed cost and wave quantisation per pass; an attention call of one
               pass (efficiency.prefill_attention_time_s with one sequence); a memory-bound
               kernel its fixed cost per pass. The operator's compute and memory times are
               scaled by that ratio; a device without figures keeps its device time.

The Qwen2-VL family's packed attention operators are priced per image by core/packed.py, and
the eager qk / softmax / pv kernels keep their device time (their launches x P). A compression
method's own operators at the projector (compress/..., once per request over all its visual
tokens) are not split; its encoder-stage ones (per pass) are. Llama-3.2-Vision's tiled encoder
(ModelSpec.cross_vision, no ViT of the ordinary kind) stays batched. FLOPs and bytes reported
stay the batched count's (weights read once) and the bound is unchanged. Source:
docs/methodology.md, "Packed ViT attention on an engine that splits it".
"""

from __future__ import annotations

import numpy as np

from costmodel.core.chunked import flat, share_op
from costmodel.core.kernel_model import device_ratios
from costmodel.core.ops import Arr, Op
from costmodel.core.packed import one_call, split_calls
from costmodel.core.pricing import OpCost, points_width
from costmodel.core.roofline import Rates

STAGES = ("vision", "projector")


def reprice(costs: list[OpCost], passes: Arr | None, r: Rates) -> list[OpCost]:
    """`costs` with every vision and projector operator run once per pass (module docstring)
    on an engine whose vision_graph is 'per_pass'; unchanged elsewhere. passes: the encoder
    passes per point ([K]), None for a model without a ViT of its own."""
    if passes is None or r.engine is None or r.engine.vision_graph != "per_pass":
        return costs
    p = flat(passes, points_width(costs))
    out = []
    for c in costs:
        if not _per_pass(c.op):
            out.append(c)
            continue
        eager = c.op.op_class == "attention" and c.op.attn is None
        ratio = 1.0 if eager else _ratio(c.op, r, p)
        out.append(c.repriced(ratio, np.asarray(c.launch_s) * p))
    return out


def _per_pass(op: Op) -> bool:
    """A vision or projector operator the engine runs once per pass: not a packed attention
    operator (core/packed.py prices those per image), not a compression method's own operator
    at the projector (it runs once per request over all its visual tokens)."""
    if op.stage not in STAGES or op.op_class in ("comm", "overhead") or split_calls(op):
        return False
    return not (op.stage == "projector" and op.name.startswith("compress/"))


def _ratio(op: Op, r: Rates, p: Arr) -> Arr:
    """P x t(one pass) / t(all passes) per device row with kernel figures ([D, K]); 1
    elsewhere."""
    km, k = r.kernels, p.size
    e = r.engine
    assert e is not None
    share = np.where(p > 0, 1.0 / np.maximum(p, 1.0), 0.0)
    one = one_call(op, p) if op.attn is not None else share_op(op, share)
    fused, gemm = op.op_class in e.fused_op_classes, op.fuse in e.fused_gemms

    def times_at(d: int) -> tuple[Arr, Arr]:
        assert km is not None
        peak, bw = r.matmul_flops_per_s, r.bytes_per_s
        return (p * flat(km.kernel_s(one, d, peak, bw, fused, gemm), k),
                flat(km.kernel_s(op, d, peak, bw, fused, gemm), k))

    return device_ratios(km, k, times_at)
