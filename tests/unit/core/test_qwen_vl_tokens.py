"""Visual-token counts of Qwen2.5-VL and Qwen3-VL equal transformers' (`Qwen2VLImageProcessor`,
whose `smart_resize` both families use, with factor = patch x merge and each model's
preprocessor_config.json pixel bounds) over tables of sizes.

The exact figures were computed with transformers 5.23.0
(`qwen2_vl/image_processing_pil_qwen2_vl.py::smart_resize`); with transformers installed a grid
of sizes is also compared with that helper directly (no download).
"""

from __future__ import annotations

import pytest

from costmodel.core.visual_tokens import plan_images, smart_resize
from costmodel.errors import CostmodelError
from costmodel.loading.load import load_model

# (W, H): (resized W, resized H, LLM tokens)
QWEN25 = {  # factor 28, [3136, 12845056] (as Qwen2-VL)
    (1, 1): (56, 56, 4), (13, 1000): (28, 504, 18), (100, 37): (112, 28, 4),
    (224, 224): (224, 224, 64), (640, 480): (644, 476, 391), (672, 672): (672, 672, 576),
    (1000, 700): (1008, 700, 900), (1920, 1080): (1932, 1092, 2691),
    (5000, 5000): (3556, 3556, 16129), (8000, 40): (8008, 28, 286),
}
QWEN3 = {  # factor 32, [65536, 16777216] (Qwen3-VL-8B-Instruct preprocessor_config.json)
    (1, 1): (256, 256, 64), (13, 1000): (32, 2272, 71), (100, 37): (448, 160, 70),
    (224, 224): (256, 256, 64), (500, 300): (512, 288, 144), (640, 480): (640, 480, 300),
    (672, 672): (672, 672, 441), (1000, 700): (992, 704, 682),
    (1920, 1080): (1920, 1088, 2040), (4000, 3000): (4000, 3008, 11750),
    (5000, 5000): (4096, 4096, 16384), (8000, 40): (8000, 32, 250),
}
BOUNDS = {"qwen2.5-vl-7b": (28, 3136, 12845056), "qwen2.5-vl-3b": (28, 3136, 12845056),
          "qwen3-vl-8b": (32, 65536, 16777216)}
CASES = [("qwen2.5-vl-7b", s, w) for s, w in QWEN25.items()] + \
    [("qwen3-vl-8b", s, w) for s, w in QWEN3.items()]


@pytest.mark.parametrize(("mid", "size", "want"), CASES)
def test_tokens_match_transformers_figures(mid, size, want):
    spec = load_model(mid)
    factor, lo, hi = BOUNDS[mid]
    assert (spec.vision.patch_size * spec.projector.merge_size, spec.token_scheme.min_pixels,
            spec.token_scheme.max_pixels) == BOUNDS[mid]
    assert smart_resize(*size, factor, lo, hi) == want[:2]
    p = plan_images(spec, 1, *size)
    assert (p.llm_tokens, p.seq_per_crop, p.grid_w) == (want[2], 4 * want[2],
                                                          want[0] // spec.vision.patch_size)


def test_qwen3_worked_example():
    # docs/methodology.md: 1000x700 -> round to multiples of 32 -> 992x704 (698,368 px, inside
    # [65,536, 16,777,216]) -> 62 x 44 patches of 16 px = 2,728 -> / 2^2 = 682 tokens.
    p = plan_images(load_model("qwen3-vl-8b"), 1, 1000, 700)
    assert (p.seq_per_crop, p.llm_tokens, p.grid_w) == (62 * 44, 682, 62)


@pytest.mark.parametrize("mid", ["qwen2.5-vl-3b", "qwen3-vl-8b"])
def test_refuses_aspect_ratio_over_200(mid):
    with pytest.raises(CostmodelError, match="refuses more than 200"):
        plan_images(load_model(mid), 1, 10, 2001)


SIZES = [(w, h) for w in (1, 13, 16, 31, 100, 333, 640, 1000, 1920, 2305, 5000)
         for h in (1, 15, 29, 200, 480, 769, 1080, 3000)]


def test_token_grid_equals_transformers_helper():
    pytest.importorskip("transformers", minversion="5.23")
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize as hf

    checked = 0
    for mid, (factor, lo, hi) in BOUNDS.items():
        spec = load_model(mid)
        patch = spec.vision.patch_size
        for w, h in SIZES:
            if max(w, h) / min(w, h) > 200:
                continue
            rh, rw = hf(h, w, factor, lo, hi)
            assert plan_images(spec, 1, w, h).llm_tokens == (rh // patch) * (rw // patch) // 4
            checked += 1
    assert checked > 150
