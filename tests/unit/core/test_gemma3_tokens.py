"""Gemma 3 visual tokens: 256 soft tokens per encoded crop; pan-and-scan crops equal
transformers' Gemma3ImageProcessorPil.pan_and_scan (the same code as
Gemma3ImageProcessor.pan_and_scan_batched) over a table of sizes."""

from __future__ import annotations

import pytest

from costmodel.core.gemma3_tokens import pan_and_scan_crops
from costmodel.core.visual_tokens import plan_images
from costmodel.loading.load import load_model

SIZES = [(896, 896), (1920, 1080), (1080, 1920), (3000, 500), (500, 3000), (1000, 820),
         (1100, 900), (600, 400), (511, 256), (4000, 300), (2560, 256), (1536, 512),
         (257, 700), (300, 360), (5000, 1000)]


@pytest.mark.parametrize("min_crop,max_crops,ratio", [(256, 4, 1.2), (128, 8, 1.5), (400, 3, 1.0)])
def test_pan_and_scan_crops_equal_transformers(min_crop, max_crops, ratio):
    np = pytest.importorskip("numpy")
    mod = pytest.importorskip("transformers.models.gemma3.image_processing_pil_gemma3")
    proc = mod.Gemma3ImageProcessorPil()  # the PIL backend's copy (no torchvision needed)
    for w, h in SIZES:
        want = len(proc.pan_and_scan(np.empty((3, h, w)), min_crop, max_crops, ratio))
        assert pan_and_scan_crops(w, h, min_crop, max_crops, ratio) == want, (w, h)


def test_tokens_per_image_with_and_without_pan_and_scan():
    spec = load_model("gemma-3-4b")
    plan = plan_images(spec, 2, 1920, 1080)  # pan-and-scan off (the processor's default)
    assert (plan.crops, plan.seq_per_crop, plan.projector_rows, plan.llm_tokens) == \
        (2, 4096, 2 * 4096, 2 * 256)
    pas = spec.model_copy(update={"token_scheme": spec.token_scheme.model_copy(
        update={"pan_and_scan": True})})
    # 1920x1080: round(1.78) = 2 crops of 960x1080 -> 3 encoder passes, 3 x 256 tokens.
    p = plan_images(pas, 1, 1920, 1080)
    assert (p.crops, p.projector_rows, p.llm_tokens) == (3, 3 * 4096, 3 * 256)
    assert plan_images(pas, 1, 896, 896).llm_tokens == 256  # ratio 1 < 1.2: no crops
