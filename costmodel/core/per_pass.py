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

from costmodel.core.chunked import flat
from costmodel.core.ops import Arr, Op, is_packed_attention
from costmodel.core.packed import calls_ratio
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
        ratio = 1.0 if eager else calls_ratio(c.op, r, p)
        out.append(c.repriced(ratio, np.asarray(c.launch_s) * p))
    return out


def _per_pass(op: Op) -> bool:
    """A vision or projector operator the engine runs once per pass: not a packed attention
    operator (core/packed.py prices those per image), not a compression method's own operator
    at the projector (it runs once per request over all its visual tokens)."""
    if op.stage not in STAGES or op.op_class in ("comm", "overhead") or is_packed_attention(op):
        return False
    return not (op.stage == "projector" and op.name.startswith("compress/"))
