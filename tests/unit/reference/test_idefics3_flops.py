"""Idefics3 / SmolVLM: costmodel's stage FLOPs against the real transformers classes (5.23.0).

FlopCounterMode on a shrunken Idefics3 (same family: SigLIP-style encoder with post-LayerNorm,
pixel shuffle by scale_factor, one Linear without bias, llama decoder) run on CPU with real
tensors and eager attention. Eager attention computes the full q x k rectangle (the causal mask
is added afterwards), which is costmodel's eager count (flash=False); the masked triangle is
`causal_skipped_flops` (a closed form, tested in test_crosscheck.py). No other convention
differs: the stage totals are equal as integers. The wrapper text tokens of the 'splits' scheme
are ordinary prompt tokens here (part of `text`).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers", minversion="5.23")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from costmodel.core.stages import decode_ops, stage_ops  # noqa: E402
from costmodel.loading.from_config import spec_from_config  # noqa: E402
from costmodel.reference.crosscheck import _UNIT, causal_skipped_flops, points  # noqa: E402
from costmodel.specs.workload import VisualPlan  # noqa: E402

IMAGE_TOKEN = 7
TINY = {"architectures": ["Idefics3ForConditionalGeneration"], "model_type": "idefics3",
        "scale_factor": 2, "image_token_id": IMAGE_TOKEN, "tie_word_embeddings": False,
        "text_config": {"model_type": "llama", "hidden_size": 64, "intermediate_size": 96,
                        "num_hidden_layers": 2, "num_attention_heads": 4,
                        "num_key_value_heads": 2, "vocab_size": 300},
        "vision_config": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                          "intermediate_size": 48, "image_size": 32, "patch_size": 8}}
PATCHES, PER_TILE = 16, 4  # (32/8)^2 patches -> / 2^2 tokens per encoder pass


def _hf():
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration

    c = Idefics3Config.from_dict(TINY)
    for sub in (c, c.text_config, c.vision_config):
        sub._attn_implementation = "eager"
    torch.manual_seed(0)
    return Idefics3ForConditionalGeneration(c).eval()


def _count(fn):
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        out = fn()
    return int(fc.get_total_flops()), out


def _flops(ops) -> int:
    return int(sum(float(o.matmul_flops[0]) * o.count for o in ops))


@pytest.mark.parametrize(("tiles", "text", "batch"), [(5, 6, 2)])
def test_stage_flops_equal_flop_counter(tiles, text, batch):
    m, spec = _hf(), spec_from_config(TINY)
    pix = torch.randn(batch, tiles, 3, 32, 32)  # (batch, images, C, H, W): tiles as images
    row = [IMAGE_TOKEN] * (tiles * PER_TILE) + list(range(10, 10 + text))
    ids = torch.tensor([row] * batch)
    vis, _ = _count(lambda: m.model.vision_model(pixel_values=pix.flatten(0, 1)))
    img, _ = _count(lambda: m.model.get_image_features(pixel_values=pix))
    total, out = _count(lambda: m(input_ids=ids, pixel_values=pix, logits_to_keep=1))
    step, _ = _count(lambda: m(input_ids=ids[:, -1:], past_key_values=out.past_key_values,
                               logits_to_keep=1))
    plan = VisualPlan(crops=tiles, seq_per_crop=PATCHES, projector_rows=tiles * PATCHES,
                      llm_tokens=tiles * PER_TILE)
    pts = points(plan, batch, text)
    ops = stage_ops(spec, pts, _UNIT, flash=False)
    ops["decode"] = decode_ops(spec, pts, 0.0, _UNIT, flash=False)
    cm = {k: _flops(v) for k, v in ops.items()}
    assert cm == {"vision": vis, "projector": img - vis, "prefill": total - img, "decode": step}
    flash = stage_ops(spec, pts, _UNIT, flash=True)["prefill"]
    skipped = causal_skipped_flops(spec, batch, tiles * PER_TILE + text)
    assert _flops(flash) + skipped == total - img


def test_connector_flops_by_hand():
    # one Linear(32 * 2^2, 64) over tiles * 4 merged rows: 2 x rows x 128 x 64 (FLOPs = 2 x MAC)
    spec = spec_from_config(TINY)
    plan = VisualPlan(crops=3, seq_per_crop=PATCHES, projector_rows=3 * PATCHES, llm_tokens=12)
    proj = stage_ops(spec, points(plan, 1, 0), _UNIT, flash=False)["projector"]
    assert _flops(proj) == 2 * 12 * 128 * 64
