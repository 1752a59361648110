"""Every entry point gives the numbers `estimate` gives for the same workload, field by field
(issue: one path from a workload to the numbers). Each case sets one Workload field to a
non-default value; each entry point either reproduces estimate's TTFT, TPOT, e2e latency and
memory at that point exactly, or refuses the field with a one-line CostmodelError. The same
through the commands: tests/cli/test_commands_agree.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from costmodel.analysis.devices import energy, evaluate_fleet, power_W
from costmodel.analysis.estimate import Estimate, estimate
from costmodel.analysis.plan import Slo, batching, plan
from costmodel.analysis.sweep import sweep
from costmodel.calibration.measured import MODE_ENGINES, _predict_profile
from costmodel.errors import CostmodelError
from costmodel.loading.load import load_hardware, load_model
from costmodel.specs.compression import Compression
from costmodel.specs.workload import Workload

# One non-default value per Workload field (parallel needs an even batch for 2 microbatches).
CASES: dict[str, dict] = {
    "batch": {"batch": 4},
    "visual_tokens": {"visual_tokens": 144},
    "images": {"images": 2},
    "image_size": {"image_size": (672, 448)},
    "text_tokens": {"text_tokens": 200},
    "output_tokens": {"output_tokens": 33},
    "act_dtype": {"act_dtype": "fp16"},
    "weight_dtype": {"weight_dtype": "int4"},
    "weight_parts": {"weight_dtype": "int4", "weight_parts": ("layers", "lm_head")},
    "weight_group": {"weight_dtype": "int4", "weight_group": 32},
    "weight_group_bytes": {"weight_dtype": "int4", "weight_group_bytes": 4.0},
    "kv_dtype": {"kv_dtype": "int8"},
    "flash_attention": {"flash_attention": False},
    "overlap": {"overlap": "serial"},
    "logits": {"logits": "all"},
    "convention": {"convention": "llm-viewer"},
    "parallel": {"parallel": {"tp": 2, "pp": 2, "microbatches": 2}, "batch": 2},
    "engine": {"engine": "vllm"},
    "compression": {"compression": Compression(where="llm_layer", layer=2, keep_ratio=0.5)},
    # video fields run on qwen2-vl-2b (LLaVA-1.5 has no video path): 16 frames of 448x448;
    # 5 s at 2 fps -> 10 frames; 30 s at 0.5 fps -> 15 -> 14 (Qwen2VLVideoProcessor.sample_frames)
    "video_frames": {"video_frames": 16, "image_size": (448, 448), "batch": 2},
    "video_fps": {"video_fps": 2.0, "video_seconds": 5.0},
    "video_seconds": {"video_fps": 0.5, "video_seconds": 30.0, "text_tokens": 10},
}
VIDEO_FIELDS = ("video_frames", "video_fps", "video_seconds")


def test_every_workload_field_has_a_case():
    assert set(CASES) == set(Workload.model_fields)


@pytest.fixture(scope="module")
def spec():
    return load_model("llava-1.5-7b")


@pytest.fixture(scope="module")
def hw():
    return load_hardware("a100-80gb")  # NVLink, a launch overhead, bf16/fp16/int8 peaks


def _same(est: Estimate, ttft, tpot, e2e, total, per_gpu) -> None:
    got = [float(np.ravel(x)[0]) for x in (ttft, tpot, e2e, total, per_gpu)]
    want = [est.ttft_s, est.tpot_s, est.e2e_latency_s, est.memory.total_memory_bytes,
            est.memory.per_gpu_total_memory_bytes]
    assert got == pytest.approx(want, rel=1e-12)


def _sweep(spec, hw, w):
    """The workload's own visual input as a one-point axis: its visual tokens, its images (at
    its image size: an image_sizes axis), its video frames or its seconds at its fps."""
    if w.visual_tokens is not None:
        axis = {"visual_tokens": [w.visual_tokens]}
    elif w.video_frames is not None:
        axis = {"video_frames": [w.video_frames]}
    elif w.video_seconds is not None:
        axis = {"video_seconds": [w.video_seconds], "video_fps": [w.video_fps]}
    else:
        axis = {"images": [w.images]}
    if w.image_size is not None and w.visual_tokens is None:
        axis["image_sizes"] = [w.image_size]
        w = w.model_copy(update={"image_size": None})
    df = sweep(spec, [hw], batch=[w.batch], workload=w, **axis)
    ref = estimate(spec, hw, w.model_copy(update={"image_size": (axis.get("image_sizes") or [
        w.image_size])[0]}))
    row = df[df["stage"] == "decode"].iloc[0]
    assert row.visual_tokens == ref.plan.llm_tokens
    _same(ref, row.ttft_s, row.tpot_s, row.e2e_latency_s, row.total_memory_bytes,
          ref.memory.per_gpu_total_memory_bytes)
    assert [row.bound_ttft_s, row.bound_tpot_s, row.bound_e2e_latency_s] == pytest.approx(
        [ref.bound.ttft_s, ref.bound.tpot_s, ref.bound.e2e_latency_s], rel=1e-12)


def _sweep_tokens(spec, hw, w):
    """The token axis (576 unless the workload gives its tokens), what the benchmark sweeps."""
    vis = 576 if w.visual_tokens is None else w.visual_tokens
    df = sweep(spec, [hw], [vis], [w.batch], w)
    row = df[df["stage"] == "decode"].iloc[0]
    # A fixed token scheme takes the swept visual tokens as the total and ignores images,
    # which estimate refuses beside visual_tokens (analysis/refusals.py): compare with one.
    one = {} if spec.token_scheme.kind == "dynamic" else {"images": 1}
    ref = estimate(spec, hw, w.model_copy(update={"visual_tokens": vis, **one}))
    _same(ref, row.ttft_s, row.tpot_s, row.e2e_latency_s, row.total_memory_bytes,
          ref.memory.per_gpu_total_memory_bytes)
    assert [row.bound_ttft_s, row.bound_tpot_s, row.bound_e2e_latency_s] == pytest.approx(
        [ref.bound.ttft_s, ref.bound.tpot_s, ref.bound.e2e_latency_s], rel=1e-12)


def _same_bound(est: Estimate, ev, k: int = 0) -> None:
    b = ev.bound
    got = [float(np.ravel(x)[k]) for x in (b.ttft_s, b.tpot_s, b.e2e_latency_s)]
    assert got == pytest.approx([est.bound.ttft_s, est.bound.tpot_s, est.bound.e2e_latency_s],
                                rel=1e-12)


def _fleet(spec, hw, w):
    ev = evaluate_fleet(spec, [hw], w, auto_dtype=False).ev
    est = estimate(spec, hw, w)
    _same(est, ev.ttft_s, ev.tpot_s, ev.e2e_latency_s, ev.total_memory_bytes, ev.per_gpu_total_memory_bytes)
    _same_bound(est, ev)


def _energy(spec, hw, w):
    f = evaluate_fleet(spec, [hw], w, auto_dtype=False)
    en = energy(f, power_W([hw]))
    est = estimate(spec, hw, w)
    joules = w.parallel.gpus * hw.tdp_W * est.e2e_latency_s / w.batch  # every GPU draws power
    assert float(en.request_J[0, 0]) == pytest.approx(joules, rel=1e-12)


def _batching(spec, hw, w):
    ev = batching(spec, [hw], w, np.array([w.batch]), auto_dtype=False).fleet.ev
    _same(estimate(spec, hw, w), ev.ttft_s, ev.tpot_s, ev.e2e_latency_s, ev.total_memory_bytes,
          ev.per_gpu_total_memory_bytes)


def _plan(spec, hw, w):
    ev = plan(spec, [hw], w, Slo(), max_batch=w.batch, auto_dtype=False).fleet.ev
    k = w.batch - 1
    _same(estimate(spec, hw, w), ev.ttft_s[:, k], ev.tpot_s[:, k], ev.e2e_latency_s[:, k],
          ev.total_memory_bytes[:, k], ev.per_gpu_total_memory_bytes[:, k])


ENTRY_POINTS = {"sweep": _sweep, "sweep_tokens": _sweep_tokens, "devices": _fleet,
                "energy": _energy, "batching": _batching, "plan": _plan}
# Refusals, each a documented limit of that entry point (one line, names the field).
# (A sweep takes every field on the axis of the workload's own visual input; the token axis
# gives the tokens, so no image size or video beside it.)
REFUSED = {("sweep_tokens", "image_size"): "image_size",
           ("sweep_tokens", "video_frames"): "image_size",  # its case has a frame size
           ("sweep_tokens", "video_fps"): "video_frames",
           ("sweep_tokens", "video_seconds"): "video_frames",
           ("plan", "parallel"): "microbatches"}  # plan searches batch 1, 2, ...: odd ones


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("field", list(CASES))
def test_entry_point_equals_estimate(spec, hw, entry, field):
    spec = load_model("qwen2-vl-2b") if field in VIDEO_FIELDS else spec
    w = Workload(**CASES[field])
    if (entry, field) in REFUSED:
        with pytest.raises(CostmodelError, match=REFUSED[entry, field]):
            ENTRY_POINTS[entry](spec, hw, w)
        return
    ENTRY_POINTS[entry](spec, hw, w)


@pytest.mark.parametrize("field", ["batch", "visual_tokens", "text_tokens", "act_dtype",
                                   "engine"])
def test_validate_predicts_what_estimate_gives(spec, hw, field):
    """validate's profile rows carry batch, tokens, dtype and the timing mode (eager ->
    torch-eager, cuda_graph -> torch-cuda-graph); a prefill row's prediction is estimate's TTFT
    with 2 output tokens, a decode row's its TPOT."""
    mode = "cuda_graph" if field == "engine" else "eager"
    w = Workload(**{"visual_tokens": 576, "output_tokens": 2, **CASES[field],
                    "engine": MODE_ENGINES[mode]})
    rows = pd.DataFrame({"model": ["llava-1.5-7b"] * 2, "batch": [w.batch] * 2,
                         "visual_tokens": [w.visual_tokens] * 2,
                         "text_tokens": [w.text_tokens] * 2, "stage": ["prefill", "decode"],
                         "context_tokens": [w.visual_tokens + w.text_tokens + 1] * 2,
                         "dtype": [w.act_dtype.value] * 2})
    got = _predict_profile(rows, hw, mode)
    est = estimate(spec, hw, w)
    assert got.tolist() == pytest.approx([est.ttft_s, est.tpot_s], rel=1e-12)


@pytest.mark.parametrize("model", ["qwen2-vl-2b", "llava-onevision-0.5b"])
def test_sweep_over_video_frames_equals_estimate_point_by_point(hw, model):
    """`sweep --video-frames 1,8,15,16,32 --batch 1,3` row by row against estimate(), with a
    token-compression scenario applied to the video tokens as to image tokens."""
    spec = load_model(model)
    comp = Compression(where="projector", keep_ratio=0.25)
    w = Workload(image_size=(640, 360), compression=comp)
    frames, batches = [1, 8, 15, 16, 32], [1, 3]
    df = sweep(spec, [hw], None, batches, w, video_frames=frames)
    rows = df[df["stage"] == "decode"]
    assert rows["video_frames"].tolist() == [f for f in frames for _ in batches]
    for row in rows.itertuples():
        ref = estimate(spec, hw, w.model_copy(update={"video_frames": row.video_frames,
                                                      "batch": row.batch}))
        assert row.visual_tokens == ref.plan.llm_tokens
        _same(ref, row.ttft_s, row.tpot_s, row.e2e_latency_s, row.total_memory_bytes,
              ref.memory.per_gpu_total_memory_bytes)
