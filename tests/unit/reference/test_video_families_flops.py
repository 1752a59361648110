"""Video ViT cost of Qwen2.5-VL and Qwen3-VL equals transformers' vision towers under
FlopCounterMode (5.23, shrunken configs of each family, CPU, real tensors, eager attention).

A 5-frame video is padded to 6 frames: grid (t, h, w) = (3, 20, 12) patches. transformers
attends within each temporal patch, and Qwen2.5-VL's windowed layers cut each 20 x 12 grid into
full, right, bottom and corner windows: costmodel's video plan carries grid_w = 12, so its
window partition equals transformers' (the packed fallback, without the grid, would not).
Convention: FLOPs = 2 x MAC.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers", minversion="5.23")

from costmodel.core.inputs import Points  # noqa: E402
from costmodel.core.stages import stage_ops  # noqa: E402
from costmodel.core.video import plan_video  # noqa: E402
from costmodel.loading.from_config import spec_from_config  # noqa: E402
from tests.flops import (  # noqa: E402
    UNIT,
    count_flops,
    qwen_vl_classes,
    small_qwen3,
    small_qwen25,
)


def _torch(cfg: dict, mid: str, t: int, h: int, w: int) -> dict[str, int]:
    config_cls, model_cls = qwen_vl_classes(mid)
    config = config_cls.from_dict(copy.deepcopy(cfg))
    for c in (config, config.text_config, config.vision_config):
        c._attn_implementation = "eager"
    torch.manual_seed(0)
    visual = model_cls(config).float().eval().model.visual
    n = t * h * w
    pix = torch.randn(n, visual.patch_embed.proj.weight[0].numel())
    feats = torch.randn(n, config.vision_config.hidden_size)
    mergers = [visual.merger, *getattr(visual, "deepstack_merger_list", [])]
    projector = sum(count_flops(lambda m=m: m(feats))[0] for m in mergers)
    both, _ = count_flops(lambda: visual(pix, grid_thw=torch.tensor([[t, h, w]])))
    return {"vision": both - projector, "projector": projector}


def _ours(spec, plan, grid_w: float) -> dict[str, int]:
    def a(x: float) -> np.ndarray:
        return np.asarray([float(x)])

    pts = Points(batch=a(1), crops=a(plan.crops), seq_per_crop=a(plan.seq_per_crop),
                 projector_rows=a(plan.projector_rows), visual=a(plan.llm_tokens), text=a(8),
                 output=a(2), grid_w=a(grid_w))
    ops = stage_ops(spec, pts, UNIT, False)
    return {s: int(round(sum(float(o.matmul_flops[0]) * o.count for o in ops[s])))
            for s in ("vision", "projector")}


@pytest.mark.parametrize(("mid", "make", "patch"), [
    ("qwen2.5-vl-x", small_qwen25, 14), ("qwen3-vl-x", small_qwen3, 16)])
def test_video_vit_flops_equal_flop_counter(mid, make, patch):
    cfg = make()
    spec = spec_from_config(copy.deepcopy(cfg), "small")
    plan = plan_video(spec, 5, 12 * patch, 20 * patch)
    assert (plan.crops, plan.seq_per_crop, plan.grid_w) == (3, 240, 12)
    want = _torch(cfg, mid, 3, 20, 12)
    assert _ours(spec, plan, plan.grid_w) == want
    if mid.startswith("qwen2.5"):  # without the grid the windows are packed: not what runs
        assert _ours(spec, plan, 0)["vision"] != want["vision"]
