"""A sweep over images (count and image size) and over video seconds (and fps) equals
`estimate` at every point, for every token scheme, stage by stage; the axes resolve and are
refused in one line naming the argument (costmodel/analysis/sweep_axes.py). The commands:
tests/cli/test_sweep_axes_cmd.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from costmodel.analysis.estimate import estimate, point
from costmodel.analysis.sweep import STAGE_COLUMNS, sweep
from costmodel.analysis.sweep_axes import Axes, resolve
from costmodel.errors import CostmodelError
from costmodel.loading.load import load_hardware, load_model
from costmodel.specs.compression import Compression
from costmodel.specs.workload import Workload

HW = ("a100-80gb", "l4")
POINT = ("ttft_s", "tpot_s", "e2e_latency_s", "tokens_per_s", "bound_ttft_s", "bound_tpot_s",
         "bound_e2e_latency_s", "kv_cache_bytes", "total_memory_bytes")


def _same(row, e) -> None:
    """One sweep row against an Estimate: its stage's totals and the point's figures."""
    s = e.stages[row.stage]
    for c in STAGE_COLUMNS:
        assert getattr(row, c) == pytest.approx(getattr(s, c), rel=1e-12, abs=0), c
    got = [getattr(row, c) for c in POINT]
    want = [e.ttft_s, e.tpot_s, e.e2e_latency_s, e.tokens_per_s, e.bound.ttft_s,
            e.bound.tpot_s, e.bound.e2e_latency_s, e.memory.kv_cache_bytes, e.memory.total_memory_bytes]
    assert got == pytest.approx(want, rel=1e-12)
    assert row.visual_tokens == e.plan.llm_tokens and bool(row.fits) == e.memory.fits


def _check(df: pd.DataFrame, spec, w: Workload, fields, refused_ok: bool = False) -> int:
    """Every row equals estimate() (or, where estimate refuses the point, e.g. a compression
    of zero images, the same point without the refusals) at the workload its columns name;
    one estimate per point (a point's stages are consecutive rows)."""
    rows = list(df.itertuples())
    for i in range(0, len(rows), 4):
        r = rows[i]
        update = {"batch": int(r.batch), **fields(r)}
        wp, hw = w.model_copy(update=update), load_hardware(str(r.hardware))
        try:
            e = estimate(spec, hw, wp)
        except CostmodelError:
            assert refused_ok, update
            e = point(spec, hw, wp)
        for row in rows[i:i + 4]:
            assert [getattr(row, c) for c in ("hardware", "batch", "visual_tokens")] == [
                r.hardware, r.batch, r.visual_tokens] and fields(row) == fields(r)
            _same(row, e)
    return len(rows)


def _size(r) -> tuple[int, int]:
    w, h = str(r.image_size).split("x")
    return int(w), int(h)


def _images(r) -> dict:
    """A row of an images sweep as Workload fields; zero images carry no size (an image size
    with no image is refused, analysis/prepare.py; the row is priced the same without it)."""
    return {"images": int(r.images), **({"image_size": _size(r)} if r.images else {})}


# Models of every image token scheme; sizes where the scheme follows them.
IMAGE_CASES = [
    ("llava-1.5-7b", None),  # fixed
    ("gemma-3-4b", None),  # fixed (pan and scan off)
    ("llama-3.2-11b-vision", None),  # cross-attention, padded tiles
    ("llava-next-vicuna-7b", [(640, 480), (336, 1000)]),  # anyres
    ("llava-onevision-0.5b", [(640, 480), (1920, 1080)]),  # anyres_max_9, single-image anyres
    ("qwen2-vl-2b", [(448, 448), (1280, 720)]),  # dynamic
    ("qwen2.5-vl-3b", [(448, 448), (1000, 700)]),  # dynamic, windowed ViT (grid_w)
    ("internvl3-2b", [(448, 448), (1600, 900)]),  # tiles
    ("smolvlm-500m", [(512, 512), (300, 1000)]),  # splits
]


@pytest.mark.parametrize(("model", "sizes"), IMAGE_CASES, ids=[m for m, _ in IMAGE_CASES])
@pytest.mark.filterwarnings("ignore::costmodel.errors.ContextWarning")  # LLaVA-NeXT past 4,096
def test_sweep_over_images_equals_estimate_point_by_point(model, sizes):
    spec = load_model(model)
    w = Workload(text_tokens=40, output_tokens=9)
    counts = [0, 1, 2, 3]
    df = sweep(spec, list(HW), images=counts, image_sizes=sizes, batch=[1, 3],
               workload=w)
    assert len(df) == len(HW) * len(counts) * len(sizes or [1]) * 2 * 4
    n = _check(df, spec, w, _images)
    assert n == len(df)
    one = df[(df.images == 2) & (df.batch == 1)]
    assert one["image_size"].nunique() == len(sizes or [1])


def test_sweep_over_images_with_a_compression_equals_estimate():
    """A compression applies at every point; zero images leave nothing to compress (estimate
    refuses that point; the sweep row is the point without the refusal, as a token sweep's 0)."""
    spec = load_model("qwen2-vl-2b")
    w = Workload(compression=Compression(where="projector", keep_ratio=0.25))
    df = sweep(spec, "a100-80gb", images=[0, 1, 4], image_sizes=["640x480", "1280x720"],
               workload=w)
    _check(df, spec, w, _images,
           refused_ok=True)


def test_image_sizes_alone_sweep_one_image_and_image_size_alone_is_its_size():
    spec = load_model("qwen2-vl-2b")
    df = sweep(spec, "a100-80gb", image_sizes=[(448, 448), (896, 896)])
    dec = df[df.stage == "decode"]
    assert dec["images"].tolist() == [1, 1] and dec["visual_tokens"].tolist() == [256, 1024]
    at = sweep(spec, "a100-80gb", images=[1, 2], image_size=(896, 896))
    assert at[at.stage == "decode"]["image_size"].astype(str).tolist() == ["896x896"] * 2
    default = sweep(spec, "a100-80gb", images=[1])
    assert str(default["image_size"].iloc[0]) == "672x672"  # the model's default size


VIDEO_CASES = ["qwen2-vl-2b", "qwen2.5-vl-3b", "qwen3-vl-8b", "llava-onevision-0.5b",
               "internvl3-2b"]


@pytest.mark.parametrize("model", VIDEO_CASES)
def test_sweep_over_video_seconds_equals_estimate_point_by_point(model):
    """--seconds 2..30 at 0.5 and 2 fps: the frames each family's processor samples, the
    video text (Qwen3-VL's timestamps follow the seconds), the plan, every stage."""
    spec = load_model(model)
    w = Workload(image_size=(640, 360), output_tokens=5)
    df = sweep(spec, "a100-80gb", video_seconds=[2, 4, 7.5, 30], video_fps=[0.5, 2],
               batch=[1, 2], workload=w)
    assert {"video_seconds", "video_fps", "video_frames"} <= set(df.columns)
    assert "image_size" not in df.columns  # one frame size: the workload's, no column
    n = _check(df, spec, w, lambda r: {"video_seconds": float(r.video_seconds),
                                       "video_fps": float(r.video_fps)})
    assert n == len(df) == 4 * 2 * 2 * 4
    for r in df.drop_duplicates(["video_seconds", "video_fps"]).itertuples():
        est = estimate(spec, "a100-80gb", w.model_copy(update={
            "video_seconds": r.video_seconds, "video_fps": r.video_fps}))
        assert r.video_frames == est.to_dict()["workload"]["video_frames"]


def test_sweep_over_video_seconds_and_frame_sizes():
    spec = load_model("qwen2.5-vl-3b")
    w = Workload(text_tokens=16)
    df = sweep(spec, HW[0], video_seconds=[2, 6], video_fps=1,
               image_sizes=[(448, 448), (1280, 720)], workload=w)
    assert df["image_size"].astype(str).unique().tolist() == ["448x448", "1280x720"]
    _check(df, spec, w, lambda r: {"video_seconds": float(r.video_seconds),
                                   "video_fps": float(r.video_fps), "image_size": _size(r)})
    frames = sweep(spec, HW[0], video_frames=[4, 9], image_sizes=[(448, 448), (1280, 720)],
                   workload=w)
    _check(frames, spec, w, lambda r: {"video_frames": int(r.video_frames),
                                       "image_size": _size(r)})


def test_progress_chunks_give_the_same_rows(monkeypatch):
    """With progress, the images x sizes grid in chunks of 5 points: the same frame."""
    import costmodel.analysis.sweep as sweep_mod

    kw = {"images": [1, 2, 3], "image_sizes": [(448, 448), (800, 600)], "batch": [1, 2]}
    whole = sweep("qwen2-vl-2b", list(HW), **kw)
    monkeypatch.setattr(sweep_mod, "CHUNK", 5)
    calls = []
    parts = sweep("qwen2-vl-2b", list(HW), progress=lambda d, t: calls.append((d, t)), **kw)
    pd.testing.assert_frame_equal(whole, parts)
    assert calls[-1] == (24, 24) and len(calls) == 2 * 3


def test_axes_columns_cross_the_axes_batch_fastest():
    w = Workload()
    axes = resolve(w, images=[1, 2], image_sizes=[(448, 448), (896, 672)])
    cols = axes.columns(np.array([1.0, 8.0]))
    assert cols["image_width"].tolist() == [448] * 4 + [896] * 4
    assert cols["images"].tolist() == [1, 1, 2, 2] * 2
    assert cols["batch"].tolist() == [1, 8] * 4
    assert axes.points == 4 and axes.workload.images == 1
    seconds = resolve(w, video_seconds=[4, 8], video_fps=[1, 2])
    assert [n for n, _ in seconds.dims] == ["video_fps", "video_seconds"]
    assert seconds.workload.video_seconds == 4 and seconds.workload.video_fps == 1


def test_the_token_axis_is_unchanged():
    """visual tokens: one axis, as before (a one-count images= beside it spreads them)."""
    axes = resolve(Workload(), visual_tokens=[0, 576])
    assert isinstance(axes, Axes) and axes.kind == "visual_tokens" and axes.points == 2
    assert resolve(Workload(), visual_tokens=[64], images=2).workload.images == 2
    a = sweep("qwen2-vl-2b", "a100-80gb", [1000], images=2)
    b = sweep("qwen2-vl-2b", "a100-80gb", [1000], workload=Workload(images=2))
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({}, "visual_tokens: a sweep needs an axis; give visual_tokens, images (and/or "
         "image_sizes), video_frames, or video_seconds with video_fps"),
    ({"visual_tokens": [64], "video_frames": [8]}, "video_frames: a sweep varies one visual "
     "input and the visual tokens are its axis here; give visual_tokens or video_frames"),
    ({"video_frames": [8], "video_seconds": [4], "video_fps": 2}, "video_seconds: a sweep "
     "varies one visual input"),
    ({"visual_tokens": [64], "images": [1, 2]}, "images: beside visual_tokens the images are "
     "one count"),
    ({"visual_tokens": [64], "image_sizes": [(448, 448)]}, "image_sizes: the visual tokens are "
     "the sweep's axis"),
    ({"video_fps": 2, "images": [1]}, "video_fps: an fps samples a clip of given seconds; add "
     "video_seconds"),
    ({"video_frames": [8], "video_fps": 2}, "video_fps: a sweep over video frames gives the "
     "frames; drop video_fps"),  # said 'add video_seconds (or give video_frames)'
    ({"video_seconds": [4]}, "video_seconds: needs video_fps (transformers' video processors "
     "set no default fps); add video_fps=2"),
    ({"video_frames": [8], "images": [2]}, "images: a request carries one video or images"),
    ({"images": [1, 2], "image_sizes": [(448, 448)], "image_size": (448, 448)},
     "image_size: image_sizes is the sweep's axis of sizes"),
    ({"images": [1.5]}, "images: [1.5] is not a whole number"),
    ({"video_seconds": [0], "video_fps": 1}, "video_seconds: [0] is not a positive number"),
    ({"video_seconds": [4], "video_fps": [float("nan")]}, "video_fps: [nan] is not a positive"),
    ({"images": [1], "image_sizes": "448x448"}, "image_sizes: 448x448 is not a non-empty list"),
    ({"images": [1], "image_sizes": [(448, 0)]}, "image_sizes: (448, 0) is not (WIDTH, HEIGHT)"),
    ({"images": [1], "image_sizes": ["448y448"]}, "image_sizes: '448y448' is not WIDTHxHEIGHT"),
    ({"images": [1], "workload": Workload(video_frames=8)}, "images: the workload carries a "
     "video"),
    ({"images": [1, 2], "image_sizes": [(448, 448), (896, 896)], "model": "llava-1.5-7b"},
     "image_sizes: llava-1.5-7b's tokens do not depend on the image size (its fixed token "
     "scheme resizes every image to 336x336)"),
    ({"video_frames": [8], "image_sizes": [(448, 448), (896, 896)],
      "model": "llava-onevision-0.5b"}, "(every video frame is resized to 384x384)"),
    ({"images": [0, 5000]}, "images: Input should be less than or equal to 4096"),
])
def test_axes_refused_in_one_line(kwargs, needle):
    model = kwargs.pop("model", "qwen2-vl-2b")
    with pytest.raises(CostmodelError) as e:
        sweep(model, "a100-80gb", **kwargs)
    assert needle in str(e.value) and "\n" not in str(e.value), str(e.value)
