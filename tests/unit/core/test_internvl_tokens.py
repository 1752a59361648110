"""InternVL tiles: tile counts and LLM tokens equal transformers' (5.23.0) pure-Python helpers.

`GotOcr2ImageProcessorPil.get_number_of_image_patches` with `crop_to_patches=True` (what
InternVLProcessor passes) gives the tiles; `InternVLProcessor._get_num_multimodal_tokens` gives
2 + image_seq_length x tiles tokens (<img>, 256 <IMG_CONTEXT> per tile, </img>). The exact table
below was computed with those helpers and is also checked without transformers.
"""

from __future__ import annotations

import pytest

from costmodel.core.tiles import aspect_ratios, optimal_grid, tile_count
from costmodel.core.visual_tokens import plan_images, plan_token_arrays
from costmodel.loading.load import load_model

TILES = {  # (W, H): tiles incl. thumbnail (transformers 5.23.0, 448 px, 1..12)
    (448, 448): 1, (896, 896): 5, (1920, 1080): 9, (640, 480): 13, (800, 600): 13,
    (100, 3000): 13, (3000, 100): 13, (1344, 896): 7, (1, 1): 1,
}
SIZES = [(w, h) for w in (1, 13, 100, 224, 447, 448, 449, 500, 640, 896, 1000, 1344, 1920, 4000)
         for h in (1, 14, 200, 448, 480, 768, 1080, 1537, 3000)]


@pytest.mark.parametrize(("size", "tiles"), sorted(TILES.items()))
def test_tiles_and_tokens_table(size, tiles):
    p = plan_images(load_model("internvl3-2b"), 1, *size)
    assert (p.crops, p.seq_per_crop, p.projector_rows) == (tiles, 1025, tiles * 1024)
    assert p.llm_tokens == 2 + 256 * tiles


def test_candidate_grids_match_transformers_docstring():
    # get_all_supported_aspect_ratios(1, 4) docstring example, as (columns, rows).
    assert aspect_ratios(1, 4) == ((1, 1), (1, 2), (2, 1), (1, 3), (3, 1), (1, 4), (2, 2), (4, 1))


def test_tie_prefers_more_tiles_until_area_is_small():
    # 896x896 (ratio 1): (1,1), (2,2), (3,3) tie; 896^2 > 0.5 * 448^2 * 4 picks (2,2), but
    # 896^2 = 0.5 * 448^2 * 8 is not > 0.5 * 448^2 * 9, so (3,3) is not taken.
    assert optimal_grid(896, 896, 448, 1, 12) == (2, 2)
    assert optimal_grid(448, 448, 448, 1, 12) == (1, 1)
    assert tile_count(1920, 1080, 448, 1, 1) == 1  # max 1: no tiling at all


def test_images_multiply_and_direct_tokens():
    s = load_model("internvl3-8b")
    assert plan_images(s, 3, 896, 896).llm_tokens == 3 * (2 + 5 * 256)
    a = plan_token_arrays(s, 1282.0)
    assert (float(a["crops"][()]), float(a["projector_rows"][()])) == (6.0, 1282 * 4)


def test_tiles_equal_transformers_helpers():
    pytest.importorskip("transformers", minversion="5.23")
    from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import (
        GotOcr2ImageProcessorPil,
    )

    proc = GotOcr2ImageProcessorPil(size={"height": 448, "width": 448})  # InternVL3-*-hf
    spec = load_model("internvl3-2b")
    for w, h in SIZES + sorted(TILES):
        n = proc.get_number_of_image_patches(h, w, {"crop_to_patches": True})
        assert plan_images(spec, 1, w, h).llm_tokens == 2 + 256 * n, (w, h)
