"""The array planners of a sweep's image and video axes (costmodel/core/visual_tokens.py
`plan_image_arrays`, `per_distinct`; costmodel/core/video.py `plan_video_arrays` over frame
sizes, `sampled_frame_arrays`, `video_text_arrays` over seconds) give, point by point, the
scalar plans one request gets; and which models' plans ignore the image (frame) size."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.core.video import (
    frame_size_ignored,
    plan_video,
    plan_video_arrays,
    sampled_frame_arrays,
    sampled_frames,
    video_text_arrays,
    video_text_tokens,
)
from costmodel.core.visual_tokens import (
    image_size_ignored,
    per_distinct,
    plan_image_arrays,
    plan_images,
)
from costmodel.errors import CostmodelError
from costmodel.loading.load import load_model

IMAGE_MODELS = ("llava-1.5-7b", "llava-next-vicuna-7b", "llava-onevision-0.5b", "qwen2-vl-2b",
                "qwen2.5-vl-3b", "qwen3-vl-8b", "internvl3-2b", "smolvlm-500m", "gemma-3-4b",
                "llama-3.2-11b-vision", "llama-3-8b")
COUNTS = np.array([0, 1, 2, 3, 1, 2, 0, 5], dtype=float)
WIDTHS = np.array([640, 640, 1920, 336, 336, 224, 1920, 800], dtype=float)
HEIGHTS = np.array([480, 480, 1080, 336, 336, 1000, 1080, 800], dtype=float)


def _row(a: dict, i: int) -> tuple[float, ...]:
    return (a["crops"][i], a["seq_per_crop"][i], a["projector_rows"][i], a["visual"][i],
            a["grid_w"][i])


@pytest.mark.parametrize("model", IMAGE_MODELS)
def test_plan_image_arrays_equal_plan_images_point_by_point(model):
    spec = load_model(model)
    a = plan_image_arrays(spec, COUNTS, WIDTHS, HEIGHTS)
    for i, (n, w, h) in enumerate(zip(COUNTS, WIDTHS, HEIGHTS, strict=True)):
        p = plan_images(spec, int(n), int(w), int(h))
        assert _row(a, i) == (p.crops, p.seq_per_crop, p.projector_rows, p.llm_tokens, p.grid_w)


def test_per_distinct_calls_once_per_distinct_row():
    calls = []

    def fn(a: float, b: float) -> float:
        calls.append((a, b))
        return a * 10 + b

    values, inverse = per_distinct(fn, [1, 2, 1, 2, 1], [5, 5, 5, 6, 5])
    assert sorted(calls) == [(1.0, 5.0), (2.0, 5.0), (2.0, 6.0)]
    assert np.array(values)[inverse].tolist() == [15, 25, 15, 26, 15]


@pytest.mark.parametrize("model", ["qwen2-vl-2b", "qwen2.5-vl-3b", "qwen3-vl-8b",
                                   "llava-onevision-0.5b", "internvl3-2b"])
def test_video_arrays_over_sizes_seconds_and_fps_equal_the_scalar_rules(model):
    spec = load_model(model)
    seconds = np.array([4, 4, 7.5, 30, 4, 1])
    fps = np.array([2, 1, 2, 0.5, 2, 4])
    w, h = np.array([448, 640, 1920, 448, 896, 360]), np.array([448, 360, 1080, 448, 896, 640])
    frames = sampled_frame_arrays(spec, seconds, fps)
    assert frames.tolist() == [sampled_frames(spec, s, f) for s, f in zip(seconds, fps, strict=True)]
    plans = plan_video_arrays(spec, frames, w, h)
    texts = video_text_arrays(spec, frames, seconds)
    for i in range(len(seconds)):
        p = plan_video(spec, int(frames[i]), int(w[i]), int(h[i]))
        assert _row(plans, i) == (p.crops, p.seq_per_crop, p.projector_rows, p.llm_tokens,
                                  p.grid_w)
        assert texts[i] == video_text_tokens(spec, int(frames[i]), float(seconds[i]))
    # frames given directly: no seconds (Qwen3-VL's timestamps then follow the frames alone)
    assert video_text_arrays(spec, frames).tolist() == [
        video_text_tokens(spec, int(n)) for n in frames]


def test_qwen3_vl_video_text_follows_the_seconds():
    """Qwen3-VL writes a <t.t seconds> timestamp per temporal patch: the same frames from a
    longer clip give other text, so the seconds are part of the distinct key."""
    spec = load_model("qwen3-vl-8b")
    texts = video_text_arrays(spec, np.array([8.0, 8.0]), np.array([4.0, 400.0]))
    assert texts[0] != texts[1]


@pytest.mark.parametrize(("model", "why"), [
    ("llava-1.5-7b", "its fixed token scheme resizes every image to 336x336"),
    ("llama-3.2-11b-vision", "every image runs as 4 tiles whatever its size"),
    ("llama-3-8b", "it has no vision tower"),
    ("qwen2-vl-2b", None), ("llava-next-vicuna-7b", None), ("internvl3-2b", None),
    ("smolvlm-500m", None),
])
def test_image_size_ignored(model, why):
    got = image_size_ignored(load_model(model))
    assert got == why if why is None else got.startswith(why)


def test_image_size_ignored_agrees_with_the_plans():
    """Where a reason is given, two very different sizes (and aspect ratios: SmolVLM's splits
    follow the aspect ratio alone) plan alike; where none is, they do not."""
    for model in IMAGE_MODELS:
        spec = load_model(model)
        small, big = plan_images(spec, 1, 320, 240), plan_images(spec, 1, 600, 2000)
        assert (image_size_ignored(spec) is not None) == (small == big), model


@pytest.mark.parametrize(("model", "why"), [
    ("llava-onevision-0.5b", "every video frame is resized to 384x384"),
    ("internvl3-2b", "every video frame is resized to 448x448"),
    ("qwen2-vl-2b", None), ("qwen2.5-vl-3b", None), ("qwen3-vl-8b", None),
])
def test_frame_size_ignored(model, why):
    spec = load_model(model)
    assert frame_size_ignored(spec) == why
    small, big = plan_video(spec, 8, 320, 240), plan_video(spec, 8, 1920, 1080)
    assert (why is not None) == (small == big)


def test_frame_size_ignored_refuses_a_model_without_video():
    with pytest.raises(CostmodelError, match="has no video input"):
        frame_size_ignored(load_model("llava-1.5-7b"))
