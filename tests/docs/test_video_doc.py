"""The worked video examples in docs/methodology.md ("Video inputs") are what the code gives."""

from __future__ import annotations

from costmodel.core.video import plan_video, sampled_frames
from costmodel.loading.load import load_model
from tests.helpers import DOCS


def _section() -> str:
    return (DOCS / "methodology.md").read_text().split("## Video inputs", 1)[1]


def test_video_worked_examples():
    text = " ".join(_section().split())
    q, o = load_model("qwen2-vl-7b"), load_model("llava-onevision-0.5b")
    assert plan_video(q, 16, 448, 448).llm_tokens == 2048
    assert "16 frames of 448x448 -> grid_t = 8 passes of 32 x 32 = 1,024 patches" in text
    assert "-> 8 x 1,024 / 4 = **2,048 tokens** (16 separate images: 4,096)" in text
    assert plan_video(q, 15, 448, 448).llm_tokens == 2048 and plan_video(q, 1, 448, 448).llm_tokens == 256
    assert sampled_frames(q, 10, 2) == 20
    p = plan_video(q, 20, 640, 360)
    assert (p.crops, p.seq_per_crop, p.llm_tokens) == (10, 1196, 2990)
    assert "10 passes of 1,196 -> 2,990 tokens" in text
    assert [sampled_frames(q, s, f) for s, f in ((30, 0.5), (1, 1), (3600, 1))] == [14, 4, 768]
    assert "30 s at 0.5 fps -> 15 -> 14 frames; 1 s at 1 fps -> 4 (min_frames); 1 h at 1 fps -> 768" in text
    p = plan_video(o, 32, 640, 360)
    assert (p.crops, p.projector_rows, p.llm_tokens) == (32, 23328, 6273)
    assert "32 passes of 729, 23,328 projector rows, 32 x 196 + 1 = **6,273 tokens**" in text
    assert plan_video(o, sampled_frames(o, 10, 1), 640, 360).llm_tokens == 1961
    assert "10 s at 1 fps -> 10 frames -> 1,961 tokens" in text


def test_video_versus_images_figures():
    import costmodel

    text = " ".join(_section().split())
    v = costmodel.estimate("qwen2-vl-7b", "a100-80gb", video_frames=16, image_size=(448, 448))
    i = costmodel.estimate("qwen2-vl-7b", "a100-80gb", images=16, image_size=(448, 448))
    assert i.plan.llm_tokens == 4096
    vis = f"{v.stages['vision'].flops / 1e12:.1f} TFLOP of vision (16 images: " \
          f"{i.stages['vision'].flops / 1e12:.1f})"
    ttft = f"TTFT {v.ttft_s * 1e3:.0f} ms (16 images: {i.ttft_s * 1e3:.0f} ms)"
    assert vis == "11.7 TFLOP of vision (16 images: 23.5)" and vis in text
    assert ttft in text
