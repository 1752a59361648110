"""InternVL's tiling of an image into 448 px tiles (pure; no I/O).

Source: transformers 5.23.0 `models/got_ocr2/image_processing_got_ocr2.py`
(`get_all_supported_aspect_ratios`, `get_optimal_tiled_canvas`, `crop_image_to_patches`) and
`image_processing_pil_got_ocr2.py::get_number_of_image_patches`, which InternVL's processor uses
with `crop_to_patches=True` (`InternVLProcessor.images_kwargs`), min_patches 1, max_patches 12
and 448 x 448 tiles (the class defaults and transformers' InternVL converter).

Rule, line for line:
- candidate grids: every (columns, rows) with min_tiles <= columns*rows <= max_tiles, listed
  columns-major and stably sorted by columns*rows;
- the grid whose columns/rows is closest to the image's width/height wins; on an exact tie a
  later grid (more tiles) replaces the best one while the image's area exceeds half of that
  grid's area in tile pixels;
- the image is resized to the grid and cut into columns*rows tiles; when that is more than
  one tile a thumbnail (the whole image at one tile) is appended. tiles = 1 or c*r + 1.
Tokens (transformers `InternVLProcessor._get_num_multimodal_tokens`): image_seq_length per tile
(= patches per tile / merge^2 = (448/14)^2 / 4 = 256) plus 2 text tokens (<img> and </img>).
"""

from __future__ import annotations

from functools import lru_cache

from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import VisualPlan


@lru_cache(maxsize=64)
def aspect_ratios(min_tiles: int, max_tiles: int) -> tuple[tuple[int, int], ...]:
    """(columns, rows) grids with min_tiles <= columns*rows <= max_tiles, sorted by tiles."""
    grids = [(c, r) for c in range(1, max_tiles + 1) for r in range(1, max_tiles + 1)
             if min_tiles <= c * r <= max_tiles]
    return tuple(sorted(grids, key=lambda g: g[0] * g[1]))


def optimal_grid(width: int, height: int, tile: int, min_tiles: int,
                 max_tiles: int) -> tuple[int, int]:
    """(columns, rows) of the canvas closest to the image's aspect ratio (ties: more tiles
    while the image's area exceeds half the grid's)."""
    ratio, area = width / height, width * height
    best, best_diff = (1, 1), float("inf")
    for grid in aspect_ratios(min_tiles, max_tiles):
        diff = abs(ratio - grid[0] / grid[1])
        if diff < best_diff:
            best, best_diff = grid, diff
        elif diff == best_diff and area > 0.5 * tile * tile * grid[0] * grid[1]:
            best = grid
    return best


def tile_count(width: int, height: int, tile: int, min_tiles: int, max_tiles: int) -> int:
    """Encoder tiles of one image: 1, or columns*rows + 1 thumbnail."""
    if max_tiles <= 1:
        return 1
    cols, rows = optimal_grid(width, height, tile, min_tiles, max_tiles)
    return 1 if cols * rows == 1 else cols * rows + 1


def plan_tiles(spec: ModelSpec, images: int, width: int, height: int) -> VisualPlan:
    """Per-sample plan: every tile is one encoder pass of (image_size/patch)^2 patches (+ CLS);
    the projector sees all patch features and gives patches/merge^2 tokens per tile; the LLM
    also reads the scheme's image_text_tokens per image (<img>, </img>)."""
    v, ts, pj = spec.vision, spec.token_scheme, spec.projector
    assert v is not None and pj is not None  # plan_images returns early without them
    n = tile_count(width, height, v.image_size, ts.min_tiles, ts.max_tiles)
    p = v.patches_per_image
    return VisualPlan(crops=images * n, seq_per_crop=p + int(v.cls_token),
                      projector_rows=images * n * p,
                      llm_tokens=images * (n * p // pj.merge_size**2 + ts.image_text_tokens))
