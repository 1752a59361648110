"""Idefics3 / SmolVLM image splitting and its prompt tokens (pure; no I/O).

Source: transformers 5.23.0 `models/idefics3/image_processing_pil_idefics3.py`
(`_resize_output_size_rescale_to_max_len`, `_resize_output_size_scale_below_upper_bound`,
`Idefics3ImageProcessorPil.get_number_of_image_patches`) and `processing_idefics3.py`
(`Idefics3Processor.replace_image_token`, `_get_num_multimodal_tokens`), with image splitting on
(`do_image_splitting`, the class default and SmolVLM's preprocessor_config.json).

Rule, line for line:
- the longest edge is resized to exactly L = size["longest_edge"] (small images are scaled up),
  the other edge to int(L / aspect), made even; then both are kept under 4096 (MAX_IMAGE_SIZE);
- rows = ceil(height / T), cols = ceil(width / T) with T = max_image_size["longest_edge"] (the
  encoder's image_size); when rows or cols exceeds 1 the image is cut into rows x cols tiles of
  T x T plus one global image (the whole image at T x T): rows*cols + 1 encoder passes; else the
  image is one pass and (rows, cols) = (0, 0).
Tokens per encoder pass: image_seq_len = (T / patch)^2 / scale_factor^2 <image> tokens
(SmolVLM-500M: (512/16)^2 / 16 = 64). Text tokens around them (the prompt string of
`replace_image_token`): each tile '<fake_token_around_image><row_r_col_c>' (2), each row a
trailing '\\n' (1), the global image '<fake_token_around_image><global-img>' ...
'<fake_token_around_image>' (3); a split image's global block starts with '\\n', which follows
the last row's '\\n' and is one '\\n\\n' token in SmolVLM's (SmolLM2 byte-level BPE) tokenizer:
0 extra tokens (`_get_num_multimodal_tokens`' extra_split_newline; DOUBLE_NEWLINE_EXTRA).
<fake_token_around_image>, <global-img> and every <row_r_col_c> are single added tokens of that
tokenizer (the processor looks each up with convert_tokens_to_ids). So
  split:     tokens = (rows*cols + 1) * seq + 2*rows*cols + rows + 3 (+ DOUBLE_NEWLINE_EXTRA)
  not split: tokens = seq + 3
"""

from __future__ import annotations

import math

from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import VisualPlan

MAX_IMAGE_SIZE = 4096  # transformers idefics3 image processor: "4k resolution as absolute maximum"
TILE_TEXT_TOKENS = 2  # <fake_token_around_image><row_r_col_c>
ROW_TEXT_TOKENS = 1  # the '\n' ending each row of tiles
GLOBAL_TEXT_TOKENS = 3  # <fake_token_around_image><global-img> ... <fake_token_around_image>
DOUBLE_NEWLINE_EXTRA = 0  # '\n\n' before a split image's global block is one token (SmolLM2)


def resize_longest(width: int, height: int, longest: int) -> tuple[int, int]:
    """(width, height) after the processor's resize: longest edge = `longest`, the other edge
    int(longest / aspect) rounded up to even, both then kept under MAX_IMAGE_SIZE."""
    aspect = width / height
    if width >= height:
        width, height = longest, int(longest / aspect)
        height += height % 2
    else:
        height, width = longest, int(longest * aspect)
        width += width % 2
    width, height = max(width, 1), max(height, 1)
    aspect = width / height
    if width >= height and width > MAX_IMAGE_SIZE:
        width, height = MAX_IMAGE_SIZE, int(MAX_IMAGE_SIZE / aspect)
    elif height > width and height > MAX_IMAGE_SIZE:
        height, width = MAX_IMAGE_SIZE, int(MAX_IMAGE_SIZE * aspect)
    return max(width, 1), max(height, 1)


def split_grid(width: int, height: int, longest: int, tile: int) -> tuple[int, int]:
    """(rows, cols) of tiles; (0, 0) when the resized image fits one tile (not split)."""
    w, h = resize_longest(width, height, longest)
    rows, cols = math.ceil(h / tile), math.ceil(w / tile)
    return (rows, cols) if rows > 1 or cols > 1 else (0, 0)


def text_tokens(rows: int, cols: int) -> int:
    """Text tokens the processor wraps around one image's <image> tokens."""
    if rows == 0:
        return GLOBAL_TEXT_TOKENS
    return (rows * cols * TILE_TEXT_TOKENS + rows * ROW_TEXT_TOKENS + GLOBAL_TEXT_TOKENS
            + DOUBLE_NEWLINE_EXTRA)


def plan_splits(spec: ModelSpec, images: int, width: int, height: int) -> VisualPlan:
    """Per-sample plan: every tile and the global image is one encoder pass of
    (image_size/patch)^2 patches (no CLS); the connector maps them to patches/scale^2 tokens;
    the LLM also reads the wrapper text tokens."""
    v, ts, pj = spec.vision, spec.token_scheme, spec.projector
    assert v is not None and pj is not None  # plan_images returns early without them
    longest = ts.resize_longest_edge or 4 * v.image_size
    rows, cols = split_grid(width, height, longest, v.image_size)
    passes = rows * cols + 1
    p = v.patches_per_image
    seq = p // pj.merge_size**2
    return VisualPlan(crops=images * passes, seq_per_crop=p, projector_rows=images * passes * p,
                      llm_tokens=images * (passes * seq + text_tokens(rows, cols)))
