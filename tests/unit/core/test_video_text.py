"""Text tokens the video processors write around a video (costmodel/core/video_text.py):
hand-computed counts, and their place in the prompt (analysis/prepare.points, estimate).
The equality with transformers' own sampling, timestamps and placeholder strings, pre-tokenized
as Qwen2Tokenizer does, is in test_video_families.py (xcheck)."""

from __future__ import annotations

import pytest

from costmodel.analysis.estimate import estimate
from costmodel.analysis.prepare import video_text
from costmodel.core.video import video_text_rule, video_text_tokens
from costmodel.core.video_text import internvl_text, qwen3_vl_text, qwen3_vl_timestamps, timestamp_tokens
from costmodel.loading.load import load_hardware, load_model
from costmodel.specs.workload import Workload


@pytest.mark.parametrize(("t", "tokens"), [
    (0.0, 6),  # '<', '0', '.', '0', ' seconds', '>'
    (9.94, 6),  # '9.9'
    (9.96, 7),  # rounds to '10.0': one more digit
    (123.4, 8),
])
def test_timestamp_tokens(t, tokens):
    assert timestamp_tokens(t) == tokens


def test_timestamps_of_frames_alone_and_of_an_odd_count():
    # 4 frames alone: a 2 s clip at 24 fps, 48 frames; linspace(0, 47, 4) rounds to
    # 0, 16, 31, 47; patches (0 + 16) / 48 and (31 + 47) / 48 seconds.
    assert qwen3_vl_timestamps(4, None) == pytest.approx([16 / 48, 78 / 48])
    # 5 frames: 2.5 s, 60 frames; linspace(0, 59, 5) = 0, 14.75, 29.5, 44.25, 59 -> 0, 15, 30,
    # 44, 59 (half to even); the last repeated to pair it: (59 + 59) / 48.
    assert qwen3_vl_timestamps(5, None) == pytest.approx([15 / 48, 74 / 48, 118 / 48])
    assert qwen3_vl_text(4, None) == 12 and qwen3_vl_text(5, None) == 18


def test_thirty_seconds_at_two_fps():
    # 60 frames of 720: patch k at about (4k + 1) x 719 / 59 / 48 s; k >= 10 is past 9.95 s,
    # so 10 patches of 6 tokens and 20 of 7.
    ts = qwen3_vl_timestamps(60, 30.0)
    assert len(ts) == 30 and sum(t >= 9.95 for t in ts) == 20
    assert qwen3_vl_text(60, 30.0) == 10 * 6 + 20 * 7


def test_internvl_frame_labels():
    # 'Frame', digits, ':', ' ' per frame; newlines between frames.
    assert [internvl_text(n) for n in (0, 1, 2, 9, 10, 16)] == [
        0, 4, 9, 9 * 4 + 8, 9 * 4 + 5 + 9, 9 * 4 + 7 * 5 + 15]


def test_rule_per_family():
    assert video_text_tokens(load_model("qwen3-vl-8b"), 16) == 8 * 6
    assert video_text_tokens(load_model("internvl3-2b"), 16) == 86
    for mid in ("qwen2-vl-7b", "qwen2.5-vl-7b", "llava-onevision-0.5b"):
        spec = load_model(mid)
        assert video_text_tokens(spec, 16) == 0 and video_text_rule(spec) is None
    assert "ASSUMPTION" in (video_text_rule(load_model("internvl3-2b")) or "")
    assert "' seconds'" in (video_text_rule(load_model("qwen3-vl-8b")) or "")


def test_video_text_enters_the_prompt_as_text():
    spec, hw = load_model("internvl3-2b"), load_hardware("h100-sxm")
    w = Workload(video_frames=16, text_tokens=64, output_tokens=8)
    est = estimate(spec, hw, w)
    pts = est.prepared.points
    assert float(pts.text[0, 0]) == 64 + 86 and float(pts.visual[0, 0]) == 16 * 258
    assert video_text(spec, w) == 86 == est.to_dict()["workload"]["video_text_tokens"]
    # the LLM prefill equals that of the same prompt given as visual + plain text tokens
    plain = estimate(spec, hw, Workload(visual_tokens=16 * 258, text_tokens=64 + 86,
                                        output_tokens=8))
    assert est.stages["prefill"].flops == plain.stages["prefill"].flops
    fewer = estimate(spec, hw, Workload(visual_tokens=16 * 258, text_tokens=64, output_tokens=8))
    assert est.stages["prefill"].flops > fewer.stages["prefill"].flops
    assert video_text(spec, w.model_copy(update={"video_frames": None, "images": 1})) == 0
