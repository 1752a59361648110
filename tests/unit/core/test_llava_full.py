"""LLaVA's vision_feature_select_strategy "full" on a CLIP ViT (VisionSpec.feature_keeps_cls):
transformers `LlavaModel.get_image_features` drops the CLS row only for "default", so each
encoder pass gives (336/14)^2 + 1 = 577 features: 577 projector rows and 577 visual tokens an
image for LLaVA-1.5-7B. Hand counts below; the real LlavaForConditionalGeneration is checked
in tests/unit/reference/test_transformers_flops.py (family llava_full)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from costmodel.analysis import token_rules
from costmodel.core.compression.points import compress_points
from costmodel.core.inputs import Precision
from costmodel.core.stages import stage_ops
from costmodel.core.visual_tokens import plan_images, plan_token_arrays, plan_tokens
from costmodel.loading.from_config import spec_from_config
from costmodel.reference.crosscheck import points
from costmodel.specs.compression import Compression
from costmodel.specs.model import ModelSpec, TokenScheme
from tests.helpers import CLIP_L336, LLAVA15_7B, zoo_config

UNIT = Precision(weight_bytes_per_element=1.0, act_bytes_per_element=1.0, kv_bytes_per_element=1.0)


def _full(mid: str = "llava-1.5-7b") -> ModelSpec:
    cfg = zoo_config(mid)
    cfg["vision_feature_select_strategy"] = "full"
    return spec_from_config(cfg, f"{mid}-full")


def test_loader_keeps_the_cls_row_for_full_only():
    assert _full().vision.feature_keeps_cls
    assert not spec_from_config(zoo_config("llava-1.5-7b")).vision.feature_keeps_cls
    # SigLIP has no CLS row: OneVision's "full" keeps the same 729 patches as before
    assert not spec_from_config(zoo_config("llava-onevision-0.5b")).vision.feature_keeps_cls


def test_one_image_is_577_tokens():
    p = plan_images(_full(), 1, 1024, 768)
    assert (p.crops, p.seq_per_crop, p.projector_rows, p.llm_tokens) == (1, 577, 577, 577)
    p2 = plan_images(_full(), 2, 336, 336)
    assert (p2.crops, p2.projector_rows, p2.llm_tokens) == (2, 1154, 1154)


def test_given_visual_tokens_fill_577_feature_passes():
    a = plan_token_arrays(_full(), np.array([577.0, 578.0, 1154.0, 1155.0]))
    assert list(a["crops"]) == [1, 2, 2, 3]
    assert list(a["seq_per_crop"]) == [577] * 4  # the ViT sequence itself is unchanged
    assert list(a["projector_rows"]) == [577, 578, 1154, 1155]
    default = plan_token_arrays(LLAVA15_7B, np.array([577.0]))
    assert list(default["crops"]) == [2]  # 576 patch features a pass


def test_params_are_unchanged():
    base = spec_from_config(zoo_config("llava-1.5-7b"))
    assert _full().param_counts() == base.param_counts()


def test_projector_and_prefill_by_hand():
    spec = _full()
    plan = plan_images(spec, 1, 336, 336)
    ops = stage_ops(spec, points(plan, 1, 10), UNIT, True)
    proj = sum(float(o.matmul_flops[0]) * o.count for o in ops["projector"])
    assert proj == 2 * 577 * (1024 * 4096 + 4096 * 4096)
    q = next(o for o in ops["prefill"] if o.name.endswith("attn/q"))
    assert q.matmul_flops[0] == 2 * (577 + 10) * 4096 * 4096  # 577 visual + 10 text rows
    vis = sum(float(o.matmul_flops[0]) * o.count for o in ops["vision"])
    base = spec_from_config(zoo_config("llava-1.5-7b"))
    base_ops = stage_ops(base, points(plan_images(base, 1, 336, 336), 1, 10), UNIT, True)
    assert vis == sum(float(o.matmul_flops[0]) * o.count for o in base_ops["vision"])


def test_tome_never_merges_the_kept_cls_row():
    # r = 4 a layer over 23 executed layers: 577 - 92 = 485 positions leave the ViT, the CLS
    # row among them; "full" keeps all 485 as features, "default" drops the CLS row (484).
    comp = Compression(where="vit", merge_per_layer=4)
    full = compress_points(_full(), points(plan_tokens(_full(), 577), 1, 10), comp)
    base = compress_points(LLAVA15_7B, points(plan_tokens(LLAVA15_7B, 576), 1, 10), comp)
    assert (full.projector_rows[0], full.visual[0]) == (485, 485)
    assert (base.projector_rows[0], base.visual[0]) == (484, 484)


def test_token_rule_says_the_cls_row_is_kept():
    spec = _full()
    assert token_rules.rule(spec).endswith("24^2 patches + 1 CLS (kept: 'full' features)")
    assert token_rules.worked_example(spec, 336, 336)["tokens"] == 577


def test_specs_refuse_a_cls_row_they_cannot_keep():
    with pytest.raises(ValidationError, match="no CLS token to keep"):
        CLIP_L336.model_validate({**CLIP_L336.model_dump(), "cls_token": False,
                                  "feature_keeps_cls": True})
    keeps = CLIP_L336.model_copy(update={"feature_keeps_cls": True})
    with pytest.raises(ValidationError, match="fixed token scheme"):
        ModelSpec(name="x", llm=LLAVA15_7B.llm, vision=keeps, projector=LLAVA15_7B.projector,
                  token_scheme=TokenScheme(kind="anyres", grid_pinpoints=((336, 672),)))
