"""Llama-3.2-Vision images -> tiles and visual tokens (pure; no I/O).

transformers 5.23 `models/mllama/image_processing_mllama.py`: `get_all_supported_aspect_ratios`
lists every (a, b) with a x b <= max_image_tiles; `get_optimal_tiled_canvas` picks the canvas
(a x tile, b x tile) whose scale min(canvas_h / H, canvas_w / W) is the smallest >= 1 (else the
largest < 1), ties broken by the smallest area; the image uses a x b tiles. `pad_batches_and_tiles`
then pads every image to max_image_tiles tiles (blank tiles, masked by aspect_ratio_mask), and
`MllamaVisionModel` runs all of them: executed visual tokens per image = max_num_tiles x (P + 1)
(6404 for 560 px tiles), of which tiles x (P + 1) carry the image.
"""

from __future__ import annotations

import numpy as np

from costmodel.core.ops import Arr
from costmodel.specs.mllama import MllamaVisionSpec
from costmodel.specs.workload import VisualPlan


def supported_aspect_ratios(max_tiles: int) -> list[tuple[int, int]]:
    """Every (a, b) with a x b <= max_tiles, a-major (get_all_supported_aspect_ratios)."""
    return [(a, b) for a in range(1, max_tiles + 1) for b in range(1, max_tiles + 1)
            if a * b <= max_tiles]


def optimal_canvas(height: int, width: int, max_tiles: int, tile: int) -> tuple[int, int]:
    """(canvas height, canvas width) in pixels (get_optimal_tiled_canvas)."""
    canvases = [(a * tile, b * tile) for a, b in supported_aspect_ratios(max_tiles)]
    scales = [min(ch / height, cw / width) for ch, cw in canvases]
    up = [s for s in scales if s >= 1]
    pick = min(up) if up else max(scales)
    chosen = [c for c, s in zip(canvases, scales, strict=True) if s == pick]
    return min(chosen, key=lambda c: c[0] * c[1])  # first of the smallest area, as np.argmin


def image_tiles(v: MllamaVisionSpec, width: int, height: int) -> int:
    """Tiles an image of width x height px fills (1 .. max_num_tiles)."""
    ch, cw = optimal_canvas(height, width, v.max_num_tiles, v.image_size)
    return (ch // v.image_size) * (cw // v.image_size)


def useful_tokens(v: MllamaVisionSpec, images: int, width: int, height: int) -> int:
    """Visual tokens that carry the image: tiles x (P + 1) per image (the rest are padding)."""
    return images * image_tiles(v, width, height) * v.tokens_per_tile


def plan_images(v: MllamaVisionSpec, images: int) -> VisualPlan:
    """What transformers executes per sample, whatever the image size: one encoder pass per
    image over max_num_tiles x padded tokens; the projector and the cross-attention K/V over
    images x max_num_tiles x (P + 1) tokens."""
    t = v.max_num_tiles
    return VisualPlan(crops=images, seq_per_crop=t * v.padded_tokens_per_tile,
                      projector_rows=images * t * v.tokens_per_tile,
                      llm_tokens=images * t * v.tokens_per_tile)


def plan_token_arrays(v: MllamaVisionSpec, visual_tokens: Arr | float) -> dict[str, Arr]:
    """N visual tokens given directly (e.g. an engine that drops blank tiles): the encoder runs
    ceil(N / (T (P + 1))) images, the projector and the cross-attention see N tokens."""
    n = np.asarray(visual_tokens, dtype=float)
    per_image = v.max_num_tiles * v.tokens_per_tile
    return {"crops": np.ceil(n / per_image),
            "seq_per_crop": np.where(n > 0, v.max_num_tiles * v.padded_tokens_per_tile, 0.0),
            "projector_rows": n, "visual": n}
