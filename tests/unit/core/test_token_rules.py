"""Visual-token counts equal transformers' for Qwen2-VL (`smart_resize`) and LLaVA-OneVision
(anyres_max_9), over tables of sizes.

The exact figures below were computed with transformers 5.23.0 (`qwen2_vl/
image_processing_pil_qwen2_vl.py::smart_resize`, `LlavaOnevisionProcessor._get_number_of_features`)
and are checked without transformers; with transformers installed (the `dev` extra pins it) a
grid of sizes is also compared with its pure-Python helpers directly (no download).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from costmodel.core.visual_tokens import anyres_max, plan_images, plan_video, smart_resize
from costmodel.errors import CostmodelError
from costmodel.loading.load import load_model

QWEN_TOKENS = {  # (W, H): (resized W, resized H, LLM tokens), Qwen2-VL-7B preprocessor bounds
    (13, 1000): (28, 504, 18), (1000, 13): (504, 28, 18), (1000, 14): (476, 28, 17),
    (5, 900): (28, 756, 27), (14, 2800): (28, 812, 29), (1, 1): (56, 56, 4), (42, 42): (56, 56, 4),
    (100, 37): (112, 28, 4), (224, 224): (224, 224, 64), (500, 300): (504, 308, 198),
    (640, 480): (644, 476, 391), (672, 672): (672, 672, 576), (1920, 1080): (1932, 1092, 2691),
    (4000, 3000): (4004, 2996, 15301), (3585, 3584): (3584, 3584, 16384),
    (8000, 40): (8008, 28, 286), (10000, 10000): (3556, 3556, 16129),
}
OV_TOKENS = {  # (W, H): LLM tokens, LLaVA-OneVision (SigLIP 384/14, 36 pinpoints, anyres_max_9)
    (384, 384): 1485, (672, 672): 3699, (640, 480): 2929, (1024, 899): 6551, (1920, 1080): 7269,
    (2304, 2304): 7371, (1, 1): 1485, (100, 3000): 1701, (3000, 100): 1544, (4000, 3000): 7309,
    (1152, 1152): 7371, (1300, 1000): 7239, (800, 600): 4725, (1280, 720): 5967,
    (720, 1280): 6009, (3840, 2160): 7317, (500, 500): 3699,
}
QWEN_BOUNDS = (28, 56 * 56, 12845056)  # factor = patch 14 x merge 2; preprocessor_config.json


@pytest.mark.parametrize(("size", "want"), sorted(QWEN_TOKENS.items()))
def test_qwen2vl_tokens_match_transformers_figures(size, want):
    spec = load_model("qwen2-vl-7b")
    assert smart_resize(*size, *QWEN_BOUNDS) == want[:2]
    p = plan_images(spec, 1, *size)
    assert p.llm_tokens == want[2] and p.seq_per_crop == 4 * want[2]


def test_qwen2vl_13x1000_is_18_tokens_not_36():
    # A side under 14 px rounds to 0 in smart_resize, so the image is scaled up to min_pixels.
    assert plan_images(load_model("qwen2-vl-7b"), 1, 13, 1000).llm_tokens == 18


@pytest.mark.parametrize("size", [(13, 3000), (3000, 13), (1, 201), (10, 2001)])
def test_qwen2vl_refuses_aspect_ratio_over_200(size):
    with pytest.raises(CostmodelError, match=r"^--image-size: .* refuses more than 200; ") as e:
        plan_images(load_model("qwen2-vl-7b"), 1, *size)
    assert "\n" not in str(e.value)


def test_qwen2vl_accepts_aspect_ratio_of_exactly_200():
    assert plan_images(load_model("qwen2-vl-7b"), 1, 14, 2800).llm_tokens == 29


@pytest.mark.parametrize(("size", "want"), sorted(OV_TOKENS.items()))
def test_onevision_anyres_max_9_matches_transformers_figures(size, want):
    p = plan_images(load_model("llava-onevision-0.5b"), 1, *size)
    assert p.llm_tokens == want


def test_onevision_cap_keeps_encoder_and_projector_work():
    # The downscaling happens after the projector (pack_image_features): 2304x2304 still runs
    # 1 + 6x6 SigLIP passes and projects 37 x 729 rows; only the LLM sees 7,371 tokens.
    p = plan_images(load_model("llava-onevision-0.5b"), 1, 2304, 2304)
    assert (p.crops, p.seq_per_crop, p.projector_rows, p.llm_tokens) == (37, 729, 37 * 729, 7371)


def test_anyres_max_helper():
    assert anyres_max(108, 192, 27, None) == (108, 192)  # LLaVA-NeXT: no cap
    assert anyres_max(81, 81, 27, 9) == (81, 81)  # ratio 1.0 <= 1.1
    assert anyres_max(162, 162, 27, 9) == (81, 81)  # ratio 2.0


def test_next_has_no_anyres_cap():
    assert load_model("llava-next-vicuna-7b").token_scheme.anyres_max_patches is None
    assert load_model("llava-onevision-0.5b").token_scheme.anyres_max_patches == 9


def _transformers_ov_count(pins, w, h):
    from transformers.models.llava_onevision.processing_llava_onevision import (
        LlavaOnevisionProcessor as P,
    )
    ns = SimpleNamespace(image_processor=SimpleNamespace(image_grid_pinpoints=[list(p) for p in pins]),
                         num_image_tokens=729, vision_aspect_ratio="anyres_max_9")
    ns._get_unpadded_features = lambda *a: P._get_unpadded_features(ns, *a)
    return P._get_number_of_features(ns, h, w, 384, 384)


SIZES = [(w, h) for w in (1, 13, 14, 27, 100, 333, 384, 640, 1000, 1920, 2305, 5000)
         for h in (1, 14, 29, 200, 480, 768, 1080, 1537, 3000)]


def test_token_table_equals_transformers_helpers():
    """Both schemes over a grid of sizes, against transformers' own pure-Python helpers."""
    pytest.importorskip("transformers", minversion="5.23")
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize as hf_resize

    qwen, ov = load_model("qwen2-vl-7b"), load_model("llava-onevision-0.5b")
    checked = 0
    for w, h in SIZES:
        assert plan_images(ov, 1, w, h).llm_tokens == _transformers_ov_count(
            ov.token_scheme.grid_pinpoints, w, h), (w, h)
        if max(w, h) / min(w, h) > 200:
            with pytest.raises(ValueError, match="aspect ratio"):
                hf_resize(h, w, *QWEN_BOUNDS)
            with pytest.raises(CostmodelError):
                plan_images(qwen, 1, w, h)
            continue
        rh, rw = hf_resize(h, w, *QWEN_BOUNDS)
        assert plan_images(qwen, 1, w, h).llm_tokens == (rh // 14) * (rw // 14) // 4, (w, h)
        checked += 1
    assert checked > 80


# --- Qwen2-VL video: frames pair into temporal patches (transformers Qwen2VLVideoProcessor.patchify)

@pytest.mark.parametrize(("frames", "size", "want"), [
    (16, (448, 448), (8, 1024, 2048)),  # 16 images would give 4,096
    (15, (448, 448), (8, 1024, 2048)),  # padded to 16 by repeating the last frame
    (1, (448, 448), (1, 1024, 256)),
    (32, (640, 360), (16, 23 * 13 * 4, 16 * 23 * 13)),  # 360x640 -> 364x644 (26x46 patches)
])
def test_qwen2vl_video_pairs_frames(frames, size, want):
    p = plan_video(load_model("qwen2-vl-7b"), frames, *size)
    assert (p.crops, p.seq_per_crop, p.llm_tokens) == want
    assert p.projector_rows == want[0] * want[1]


def test_video_on_other_schemes_refused():
    with pytest.raises(CostmodelError, match=r"^--video-frames: the anyres token scheme has no"):
        plan_video(load_model("llava-onevision-0.5b"), 8, 384, 384)
