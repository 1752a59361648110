"""Video token rules (costmodel/core/video.py) equal what transformers 5.23 computes, over tables
of frames x sizes and of seconds x fps, by running transformers' own pure-Python code (no
download):

- Qwen2-VL: `Qwen2VLVideoProcessor.get_num_of_video_patches` (what `Qwen2VLProcessor.
  _get_num_multimodal_tokens` divides by merge_size^2) and `Qwen2VLVideoProcessor.sample_frames`.
  The module imports torchvision at the top, which the test environment lacks, so the two
  methods (and smart_resize) are compiled from the installed source file with `ast` and run
  against a stand-in `self` holding the class attributes: transformers' code, line for line.
- LLaVA-OneVision: `LlavaOnevisionProcessor._get_num_multimodal_tokens(video_sizes=...)`,
  `LlavaOnevisionModel.apply_pooling` on real tensors (729 -> 196 per frame) and
  `video_utils.default_sample_indices_fn` (fps sampling).
"""

from __future__ import annotations

import ast
import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from costmodel.core.video import (
    KIND_DEFAULTS,
    VIDEO_RULES,
    plan_video,
    plan_video_arrays,
    sampled_frames,
    video_rule,
)
from costmodel.errors import CostmodelError
from costmodel.loading.load import load_model

FRAMES = (1, 2, 3, 4, 7, 15, 16, 32, 64, 101)
SIZES = ((448, 448), (640, 360), (360, 640), (1920, 1080), (224, 224), (13, 1000), (1, 1),
         (3840, 2160), (500, 300))
# Qwen2-VL-7B-Instruct publishes no video_preprocessor_config.json; transformers' loader then
# reads preprocessor_config.json (min_pixels 3136, max_pixels 12845056) for the video processor.
QWEN_SIZE = {"shortest_edge": 3136, "longest_edge": 12845056}


def _qwen_video_processor() -> SimpleNamespace:
    """Qwen2VLVideoProcessor's methods compiled from transformers' installed source."""
    transformers = pytest.importorskip("transformers", minversion="5.23")
    import torch

    path = Path(transformers.__file__).parent / "models/qwen2_vl/video_processing_qwen2_vl.py"
    tree = ast.parse(path.read_text())
    ns: dict = {"math": math, "torch": torch}
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef)
               and n.name == "Qwen2VLVideoProcessor")
    attrs = {}
    for node in cls.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                attrs[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass  # resample, image_mean, ... (not used here)
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "smart_resize"]
    funcs += [n for n in cls.body if isinstance(n, ast.FunctionDef)
              and n.name in ("sample_frames", "get_num_of_video_patches")]
    exec(compile(ast.Module(body=funcs, type_ignores=[]), str(path), "exec"), ns)
    me = SimpleNamespace(**attrs, num_frames=None, fps=None)
    me.size = {"shortest_edge": 128 * 28 * 28, "longest_edge": 28 * 28 * 768}  # class default
    me.count = lambda f, h, w, kw: ns["get_num_of_video_patches"](me, f, h, w, kw)
    me.sample = lambda meta, **kw: ns["sample_frames"](me, meta, **kw)
    return me


def test_qwen2vl_class_defaults_are_what_the_docs_say():
    me = _qwen_video_processor()
    assert (me.min_frames, me.max_frames, me.temporal_patch_size, me.merge_size) == (4, 768, 2, 2)
    assert me.do_sample_frames is False and me.cap_pixels_per_frame is None
    assert me.size == {"shortest_edge": 100352, "longest_edge": 602112}


def test_qwen2vl_video_tokens_equal_transformers_table():
    me = _qwen_video_processor()
    spec = load_model("qwen2-vl-7b")
    for f in FRAMES:
        for w, h in SIZES:
            patches = me.count(f, h, w, {"size": QWEN_SIZE})
            p = plan_video(spec, f, w, h)
            assert p.llm_tokens == patches // 4, (f, w, h)
            assert p.crops * p.seq_per_crop == patches == p.projector_rows, (f, w, h)
            assert p.crops == math.ceil(f / 2)  # one ViT pass per temporal patch


def test_qwen2vl_worked_example_16_frames_448():
    p = plan_video(load_model("qwen2-vl-7b"), 16, 448, 448)
    assert (p.crops, p.seq_per_crop, p.llm_tokens) == (8, 1024, 2048)


SECONDS = (0.5, 1, 2, 3.7, 10, 61, 600, 3600)
FPS = (0.1, 0.5, 1, 2, 4, 24)


def test_qwen2vl_fps_sampling_equals_transformers():
    from transformers.video_utils import VideoMetadata

    me = _qwen_video_processor()
    spec = load_model("qwen2-vl-7b")
    for s in SECONDS:
        for fps in FPS:
            meta = VideoMetadata(total_num_frames=round(s * 60), fps=60.0)  # a 60 fps source
            want = len(me.sample(meta, fps=fps))
            assert sampled_frames(spec, s, fps) == want, (s, fps)


def _ov_processor_count(frames: int) -> int:
    from transformers.models.llava_onevision.processing_llava_onevision import (
        LlavaOnevisionProcessor as P,
    )
    ns = SimpleNamespace(num_image_tokens=729)  # SigLIP 384/14, 'full' feature selection
    return P._get_num_multimodal_tokens(ns, video_sizes=[(frames, 480, 640)])["num_video_tokens"][0]


def test_onevision_video_tokens_equal_transformers_processor_and_model():
    pytest.importorskip("transformers", minversion="5.23")
    import torch
    from transformers import AutoConfig
    from transformers.models.llava_onevision.modeling_llava_onevision import LlavaOnevisionModel

    spec = load_model("llava-onevision-0.5b")
    cfg = AutoConfig.for_model("llava_onevision", vision_config={
        "model_type": "siglip_vision_model", "image_size": 384, "patch_size": 14})
    me = SimpleNamespace(config=cfg)
    for f in FRAMES:
        pooled = LlavaOnevisionModel.apply_pooling(me, torch.zeros(f, 729, 8))
        for w, h in SIZES:
            p = plan_video(spec, f, w, h)
            assert p.llm_tokens == pooled.shape[0] * pooled.shape[1] + 1 == _ov_processor_count(f)
            assert (p.crops, p.seq_per_crop, p.projector_rows) == (f, 729, f * 729)


def test_onevision_fps_sampling_equals_transformers():
    pytest.importorskip("transformers", minversion="5.23")
    from transformers.video_utils import VideoMetadata, default_sample_indices_fn

    spec = load_model("llava-onevision-0.5b")
    for s in SECONDS:
        for fps in FPS:
            meta = VideoMetadata(total_num_frames=round(s * 60), fps=60.0)
            want = len(default_sample_indices_fn(meta, fps=fps))
            assert sampled_frames(spec, s, fps) == want, (s, fps)


def test_hand_counts():
    # Qwen2-VL: 10 s at 2 fps -> 20 frames; 1 s at 1 fps -> 4 (min_frames); 1 h at 1 fps -> 768
    q = load_model("qwen2-vl-2b")
    assert [sampled_frames(q, s, f) for s, f in ((10, 2), (1, 1), (3600, 1), (30, 0.5))] == [
        20, 4, 768, 14]
    # OneVision: int(S x F), at least 1, no cap
    o = load_model("llava-onevision-0.5b")
    assert [sampled_frames(o, s, f) for s, f in ((10, 2), (0.2, 1), (3600, 1))] == [20, 1, 3600]
    assert plan_video(o, 32, 384, 384).llm_tokens == 32 * 196 + 1


def test_plan_video_arrays_matches_scalar_plans():
    spec = load_model("qwen2-vl-2b")
    a = plan_video_arrays(spec, [16, 3, 16, 1], 640, 360)
    for i, f in enumerate((16, 3, 16, 1)):
        p = plan_video(spec, f, 640, 360)
        assert (a["crops"][i], a["seq_per_crop"][i], a["projector_rows"][i], a["visual"][i]) == (
            p.crops, p.seq_per_crop, p.projector_rows, p.llm_tokens)


@pytest.mark.parametrize(("model", "match"), [
    ("llava-1.5-7b", r"^--video-frames: llava-1.5-7b \(fixed token scheme\) has no video input "
                     r"in transformers 5.23; give the frames as --images N"),
    ("llava-next-vicuna-7b", r"^--video-frames: llava-next-vicuna-7b \(anyres token scheme\) "
                             r"has no video input"),
    ("llama-3-8b", r"^--video-frames: llama-3-8b has no vision tower"),
])
def test_families_without_a_video_path_refused_in_one_line(model, match):
    with pytest.raises(CostmodelError, match=match) as e:
        video_rule(load_model(model))
    assert "\n" not in str(e.value)


def test_dispatch_is_data_driven():
    assert KIND_DEFAULTS == {"dynamic": "qwen2_vl"}
    assert set(VIDEO_RULES) >= {"qwen2_vl", "llava_onevision"}
    assert load_model("llava-onevision-0.5b").token_scheme.video_rule == "llava_onevision"
    spec = load_model("qwen2-vl-2b")
    odd = spec.model_copy(update={"token_scheme": spec.token_scheme.model_copy(
        update={"video_rule": "nope"})})
    with pytest.raises(CostmodelError, match="names video rule 'nope'"):
        video_rule(odd)
