"""FlopCounterMode drivers shared by the cross-checks against the real transformers classes
(tests/unit/reference, marker `xcheck`): count a call's FLOPs, and the same stages counted by
costmodel. Imports torch, so only those modules import this one (tests/helpers.py stays light).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from costmodel.core.inputs import Points, Precision
from costmodel.core.stages import decode_ops, stage_ops
from costmodel.loading.from_config import spec_from_config
from tests.helpers import zoo_config

# 1 byte an element: FLOPs do not depend on it
UNIT = Precision(weight_bytes_per_element=1.0, act_bytes_per_element=1.0, kv_bytes_per_element=1.0)
# Token ids inside the shrunken vocabularies (the real ones are above 150,000).
IDS = dict(image_token_id=990, video_token_id=991, vision_start_token_id=992,
           vision_end_token_id=993)
FAMILY = {"qwen2.5-vl": ("Qwen2_5_VLConfig", "Qwen2_5_VLForConditionalGeneration"),
          "qwen3-vl": ("Qwen3VLConfig", "Qwen3VLForConditionalGeneration")}


def qwen_vl_classes(mid: str) -> tuple[type, type]:
    """(config class, model class) of transformers for a qwen2.5-vl-* / qwen3-vl-* zoo id."""
    import transformers

    names = FAMILY[mid.rsplit("-", 1)[0]]
    return getattr(transformers, names[0]), getattr(transformers, names[1])


def small_qwen25() -> dict:
    """qwen2.5-vl-3b shrunk to run on a CPU (every cost-relevant kind of field kept)."""
    c = zoo_config("qwen2.5-vl-3b")
    c.update(hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, vocab_size=1000, vision_token_id=994, **IDS)
    c["rope_scaling"]["mrope_section"] = [4, 6, 6]
    c["vision_config"].update(depth=4, hidden_size=64, intermediate_size=96, num_heads=4,
                              out_hidden_size=128, fullatt_block_indexes=[1, 3])
    return c


def small_qwen3() -> dict:
    """qwen3-vl-8b shrunk to run on a CPU (DeepStack, interpolated positions kept)."""
    c = zoo_config("qwen3-vl-8b")
    c.update(**IDS)
    c["text_config"].update(hidden_size=128, intermediate_size=256, num_hidden_layers=3,
                            num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                            vocab_size=1000)
    c["text_config"]["rope_scaling"]["mrope_section"] = [6, 5, 5]
    c["vision_config"].update(depth=4, hidden_size=64, intermediate_size=96, num_heads=4,
                              out_hidden_size=128, num_position_embeddings=64,
                              deepstack_visual_indexes=[0, 2])
    return c


def count_flops(fn: Callable[[], object]) -> tuple[int, object]:
    """(FLOPs FlopCounterMode counts in fn(), what fn returned), under no_grad."""
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        out = fn()
    return int(fc.get_total_flops()), out


def qwen_vl_torch_counts(model: object, vision_hidden: int, h: int, w: int
                         ) -> tuple[dict[str, int], int]:
    """FlopCounterMode per stage of a real Qwen2.5-VL / Qwen3-VL(-MoE) model for one image of
    an h x w patch grid (2x2 merge): (counts, text tokens in the prompt)."""
    visual = model.model.visual  # type: ignore[attr-defined]
    grid, tokens = torch.tensor([[1, h, w]]), h * w // 4
    pix = torch.randn(h * w, visual.patch_embed.proj.weight[0].numel())
    ids = torch.tensor([[1, 1, 1, 992] + [990] * tokens + [993, 2, 2, 2, 2]])
    feats = torch.randn(h * w, vision_hidden)
    mergers = [visual.merger, *getattr(visual, "deepstack_merger_list", [])]
    counts = {"projector": sum(count_flops(lambda m=m: m(feats))[0] for m in mergers)}
    both, _ = count_flops(lambda: visual(pix, grid_thw=grid))
    counts["vision"] = both - counts["projector"]
    total, out = count_flops(lambda: model(  # type: ignore[operator]
        input_ids=ids, pixel_values=pix, image_grid_thw=grid,
        mm_token_type_ids=(ids == 990).long(), logits_to_keep=1, use_cache=True))
    counts["prefill"] = total - both
    counts["decode"], _ = count_flops(lambda: model(  # type: ignore[operator]
        input_ids=torch.tensor([[5]]), logits_to_keep=1,
        past_key_values=out.past_key_values, use_cache=True))  # type: ignore[attr-defined]
    return counts, ids.shape[1] - tokens


def qwen_vl_costmodel_counts(cfg: dict, h: int, w: int, text: int, flash: bool
                             ) -> dict[str, int]:
    """costmodel's matmul FLOPs per stage for the same request as qwen_vl_torch_counts."""
    spec = spec_from_config(copy.deepcopy(cfg), "small")

    def a(x: float) -> np.ndarray:
        return np.asarray([float(x)])

    pts = Points(batch=a(1), crops=a(1), seq_per_crop=a(h * w), projector_rows=a(h * w),
                 visual=a(h * w // 4), text=a(text), output=a(2), grid_w=a(w))
    ops = stage_ops(spec, pts, UNIT, flash)
    ops["decode"] = decode_ops(spec, pts, 0.0, UNIT, flash)
    return {s: int(round(sum(float(o.matmul_flops[0]) * o.count for o in v)))
            for s, v in ops.items()}
