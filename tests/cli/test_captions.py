"""Figure titles name the workload (README: every figure title names it), a video's frames and
the text its processor writes around them included (cli/captions.py)."""

from __future__ import annotations

import costmodel
from costmodel.cli import captions


def test_a_video_title_names_its_frames_and_text():
    e = costmodel.estimate("qwen3-vl-8b", "a100-80gb", video_frames=16, image_size=(448, 448))
    title = captions.estimate_caption("Roofline", e)
    assert "1584 (video: 16 frames of 448x448) visual + 64 + 48 video text -> 128" in title


def test_an_image_title_is_unchanged():
    e = costmodel.estimate("llava-1.5-7b", "a100-80gb")
    assert captions.estimate_caption("Roofline", e).splitlines()[1].startswith(
        "576 visual + 64 text -> 128 output tokens | batch 1 |")
