"""InternVL: costmodel's operators against the real transformers classes (5.23.0).

Parameters: InternVLForConditionalGeneration built on the meta device from each zoo config.json.
FLOPs: FlopCounterMode on a shrunken InternVL (same family: InternViT with qk norm, RMSNorm
blocks and layer scale, pixel shuffle, LayerNorm + MLP projector, Qwen2 decoder) run on CPU with
real tensors and eager attention. Eager attention computes the full q x k rectangle (the causal
mask is added afterwards), which is costmodel's eager count (flash=False); the masked triangle
is `causal_skipped_flops` (a closed form, tested in test_crosscheck.py). No other convention
differs: the stage totals are equal as integers.
"""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers", minversion="5.23")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from costmodel.core.stages import decode_ops, stage_ops  # noqa: E402
from costmodel.loading.from_config import spec_from_config  # noqa: E402
from costmodel.loading.load import load_model  # noqa: E402
from costmodel.loading.zoo import ZOO  # noqa: E402
from costmodel.reference.crosscheck import _UNIT, causal_skipped_flops, points  # noqa: E402
from costmodel.specs.workload import VisualPlan  # noqa: E402
from tests.helpers import ZOO_CONFIGS as ZOO_DIR  # noqa: E402

TINY = {"architectures": ["InternVLForConditionalGeneration"], "model_type": "internvl",
        "downsample_ratio": 0.5, "image_seq_length": 4, "image_token_id": 7,
        "text_config": {"model_type": "qwen2", "hidden_size": 64, "intermediate_size": 96,
                        "num_hidden_layers": 2, "num_attention_heads": 4,
                        "num_key_value_heads": 2, "vocab_size": 300},
        "vision_config": {"model_type": "internvl_vision", "hidden_size": 32,
                          "num_hidden_layers": 2, "num_attention_heads": 4,
                          "intermediate_size": 48, "image_size": 56, "patch_size": 14,
                          "attention_bias": True, "use_qk_norm": True, "norm_type": "rms_norm"}}


def _hf(cfg: dict, device: str = "cpu"):
    from transformers import InternVLConfig, InternVLForConditionalGeneration

    c = InternVLConfig.from_dict(cfg)
    for sub in (c, c.text_config, c.vision_config):
        sub._attn_implementation = "eager"
    torch.manual_seed(0)
    with torch.device(device):
        return InternVLForConditionalGeneration(c).eval()


@pytest.mark.parametrize("mid", ["internvl3-2b", "internvl3-8b"])
def test_param_counts_equal_transformers_meta_build(mid):
    cfg = json.loads((ZOO_DIR / ZOO[mid].config_file).read_text())
    m = _hf(cfg, "meta")

    def n(mod) -> int:
        return sum(p.numel() for p in mod.parameters())

    got = load_model(mid).param_counts()
    assert got["vision"] == n(m.model.vision_tower)
    assert got["projector"] == n(m.model.multi_modal_projector)
    assert got["total"] == n(m)  # lm_head tied (InternVLConfig.tie_word_embeddings default)


def _count(fn):
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        out = fn()
    return int(fc.get_total_flops()), out


@pytest.mark.parametrize(("tiles", "text", "batch"), [(5, 6, 2)])
def test_stage_flops_equal_flop_counter(tiles, text, batch):
    m, spec = _hf(TINY), spec_from_config(TINY)
    pix = torch.randn(batch * tiles, 3, 56, 56)
    row = [1] + [7] * (tiles * 4) + [2] + list(range(10, 10 + text))  # <img> ctx </img> text
    ids = torch.tensor([row] * batch)
    vis, _ = _count(lambda: m.model.vision_tower(pixel_values=pix))
    img, _ = _count(lambda: m.model.get_image_features(pixel_values=pix))
    total, out = _count(lambda: m(input_ids=ids, pixel_values=pix, logits_to_keep=1))
    step, _ = _count(lambda: m(input_ids=ids[:, -1:], past_key_values=out.past_key_values,
                               logits_to_keep=1))
    # 16 patches + CLS per tile; 4 tokens per tile after the 2x2 shuffle; <img>, </img> are text
    # tokens in transformers' sequence and counted as visual tokens by costmodel's tiles scheme.
    plan = VisualPlan(crops=tiles, seq_per_crop=17, projector_rows=tiles * 16,
                      llm_tokens=tiles * 4 + 2)
    pts = points(plan, batch, text)
    ops = stage_ops(spec, pts, _UNIT, flash=False)
    ops["decode"] = decode_ops(spec, pts, 0.0, _UNIT, flash=False)
    cm = {k: int(sum(float(o.matmul_flops[0]) * o.count for o in v)) for k, v in ops.items()}
    assert cm == {"vision": vis, "projector": img - vis, "prefill": total - img, "decode": step}
    flash = stage_ops(spec, pts, _UNIT, flash=True)["prefill"]
    skipped = causal_skipped_flops(spec, batch, tiles * 4 + 2 + text)
    assert int(sum(float(o.matmul_flops[0]) * o.count for o in flash)) + skipped == total - img
