"""ViT cost of a video equals transformers' Qwen2-VL vision tower under FlopCounterMode.

A shrunken Qwen2-VL (2 ViT blocks of width 32, merger to 48) on CPU with real tensors: a
5-frame video of 112x84 is padded to 6 frames -> grid (t, h, w) = (3, 6, 8), 144 patches of
3 x 2 x 14 x 14 values. transformers' `Qwen2VisionTransformerPretrainedModel` attends within
each temporal patch (cu_seqlens = h x w per t), so its attention FLOPs are 3 passes of 48
tokens, not one of 144: costmodel's plan (3 ViT passes of 48 patches) gives the same count.
Convention: FLOPs = 2 x MAC; eager attention (bmm) on both sides.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers", minversion="5.23")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from costmodel.core.stages import stage_ops  # noqa: E402
from costmodel.core.video import plan_video  # noqa: E402
from costmodel.loading.from_config import spec_from_config  # noqa: E402
from costmodel.reference.crosscheck import _UNIT, points  # noqa: E402

VISION = dict(depth=2, embed_dim=32, num_heads=2, hidden_size=48, mlp_ratio=4, patch_size=14,
              spatial_merge_size=2, temporal_patch_size=2, in_channels=3)
TEXT = dict(hidden_size=48, num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=2,
            intermediate_size=64, vocab_size=100)


def _transformers_vision_flops(t: int, h: int, w: int) -> tuple[int, int, int]:
    """(vision, merger, LLM tokens) of transformers' vision tower on one video grid."""
    from transformers import Qwen2VLConfig
    from transformers.models.qwen2_vl.modeling_qwen2_vl import (
        Qwen2VisionTransformerPretrainedModel,
    )

    vc = Qwen2VLConfig(vision_config=VISION, text_config=TEXT).vision_config
    vc._attn_implementation = "eager"
    model = Qwen2VisionTransformerPretrainedModel(vc).eval()
    x = torch.randn(t * h * w, 3 * 2 * 14 * 14)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        out = model(x, grid_thw=torch.tensor([[t, h, w]]))
    counts = fc.get_flop_counts()
    merger = int(sum(counts["Qwen2VisionTransformerPretrainedModel.merger"].values()))
    return int(fc.get_total_flops()) - merger, merger, int(out.pooler_output.shape[0])


def test_qwen2vl_video_vit_flops_equal_flop_counter():
    from transformers import Qwen2VLConfig

    cfg = Qwen2VLConfig(vision_config=VISION, text_config=TEXT).to_dict()
    spec = spec_from_config(cfg, "qwen2-vl-tiny")
    plan = plan_video(spec, 5, 112, 84)
    assert (plan.crops, plan.seq_per_crop, plan.llm_tokens) == (3, 48, 36)
    ops = stage_ops(spec, points(plan, 1, 0), _UNIT, False)
    ours = {s: int(round(sum(float(o.matmul_flops[0]) * o.count for o in ops[s])))
            for s in ("vision", "projector")}
    vision, merger, tokens = _transformers_vision_flops(3, 6, 8)
    assert tokens == plan.llm_tokens
    assert ours == {"vision": vision, "projector": merger}
    # the same patches as one 144-token sequence would cost more attention (not what runs)
    whole = plan.model_copy(update={"crops": 1, "seq_per_crop": 144})
    ops1 = stage_ops(spec, points(whole, 1, 0), _UNIT, False)
    assert sum(float(o.matmul_flops[0]) * o.count for o in ops1["vision"]) > vision
