"""Llama-3.2-Vision tiles and visual tokens equal what transformers' image processor computes.

The table was computed with transformers 5.23.0 `models/mllama/image_processing_pil_mllama.py`
(`get_optimal_tiled_canvas(H, W, max_image_tiles=4, tile_size=560)`; tiles = (canvas_h / 560) x
(canvas_w / 560)); with transformers installed the same helpers, `build_aspect_ratio_mask_np`
(tiles that carry the image) and `pack_images` (tiles the model runs: padded to 4) are also
called directly (pure Python, no download).
"""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.core.mllama_tiles import image_tiles, optimal_canvas, useful_tokens
from costmodel.core.visual_tokens import plan_images
from costmodel.loading.load import load_model

MODEL = "llama-3.2-11b-vision"
TILES = {  # (W, H): tiles
    (560, 560): 1, (1, 1): 1, (100, 100): 1, (640, 480): 2, (480, 640): 2, (1120, 1120): 4,
    (1120, 560): 2, (560, 1120): 2, (1920, 1080): 4, (1080, 1920): 4, (2240, 560): 4,
    (560, 2240): 4, (3000, 100): 4, (100, 3000): 4, (800, 600): 4, (1000, 1000): 4,
    (1121, 561): 4, (561, 561): 4, (4000, 3000): 4, (300, 1000): 2,
}


@pytest.mark.parametrize(("size", "tiles"), sorted(TILES.items()))
def test_tiles_match_transformers_figures(size, tiles):
    v = load_model(MODEL).cross_vision
    assert image_tiles(v, *size) == tiles
    assert useful_tokens(v, 1, *size) == tiles * 1601


@pytest.mark.parametrize("size", sorted(TILES))
def test_executed_tokens_are_padded_to_max_tiles(size):
    spec = load_model(MODEL)
    plan = plan_images(spec, 2, *size)
    assert (plan.crops, plan.llm_tokens, plan.projector_rows) == (2, 2 * 6404, 2 * 6404)
    assert plan.seq_per_crop == 4 * 1608  # one attention sequence of 4 padded tiles per image


def test_against_transformers_helpers():
    pil = pytest.importorskip("transformers.models.mllama.image_processing_pil_mllama")
    v = load_model(MODEL).cross_vision
    sizes = [(w, h) for w in (1, 300, 559, 560, 561, 900, 1120, 1500, 2240, 5000)
             for h in (1, 280, 560, 800, 1121, 1680, 2300, 4000)]
    for w, h in sizes:
        canvas = tuple(int(x) for x in pil.get_optimal_tiled_canvas(h, w, 4, 560))
        assert optimal_canvas(h, w, 4, 560) == canvas
        ratio = (canvas[0] // 560, canvas[1] // 560)
        mask = pil.build_aspect_ratio_mask_np([[ratio]], 4)
        assert image_tiles(v, w, h) * 1601 == int(mask.sum()) * v.tokens_per_tile
        tiles = np.zeros((ratio[0] * ratio[1], 3, 2, 2), dtype=np.float32)
        packed, _ = pil.pack_images([[tiles]], 4)
        assert plan_images(load_model(MODEL), 1, w, h).llm_tokens == packed.shape[2] * 1601
