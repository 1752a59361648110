"""Gemma 3 pan-and-scan: how many extra crops the image processor cuts from one image.

transformers `models/gemma3/image_processing_gemma3.py::Gemma3ImageProcessor.pan_and_scan_batched`
(5.23.0), line for line. Off by default (Gemma3Processor images_kwargs do_pan_and_scan False);
when on, the processor encodes the whole image plus these crops, each resized to the encoder's
image_size, and `Gemma3Processor.replace_image_token` puts one full image sequence
(mm_tokens_per_image soft tokens) per crop into the prompt. Formula: docs/methodology.md,
"Sliding-window attention and Gemma 3".
"""

from __future__ import annotations

import math


def pan_and_scan_crops(width: int, height: int, min_crop_size: int, max_num_crops: int,
                       min_ratio_to_activate: float) -> int:
    """Crops cut from a width x height image (0 = pan-and-scan does not activate)."""
    if width >= height:  # square or landscape
        if width / height < min_ratio_to_activate:
            return 0
        n_w = int(math.floor(width / height + 0.5))
        n_w = min(int(math.floor(width / min_crop_size)), n_w)
        n_w, n_h = min(max_num_crops, max(2, n_w)), 1
    else:  # portrait
        if height / width < min_ratio_to_activate:
            return 0
        n_h = int(math.floor(height / width + 0.5))
        n_h = min(int(math.floor(height / min_crop_size)), n_h)
        n_w, n_h = 1, min(max_num_crops, max(2, n_h))
    crop_w, crop_h = int(math.ceil(width / n_w)), int(math.ceil(height / n_h))
    if min(crop_w, crop_h) < min_crop_size:
        return 0
    return n_w * n_h
