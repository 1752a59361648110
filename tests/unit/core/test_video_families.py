"""Video rules of Qwen2.5-VL, Qwen3-VL and InternVL (costmodel/core/video_families.py) equal what
transformers 5.23 computes, over frames x sizes and seconds x fps tables, by running
transformers' own pure-Python code (no download):

- Qwen2.5-VL: transformers maps qwen2_5_vl to `Qwen2VLVideoProcessor`
  (`video_processing_auto.py`); its `get_num_of_video_patches` (compiled from source, as in
  test_video.py) gives the tokens; grid_w is its resized width / 14.
- Qwen3-VL: `Qwen3VLVideoProcessor.smart_resize`, `get_num_of_video_patches` and
  `sample_frames` compiled from the installed source (the module imports torchvision, absent
  here) and `Qwen3VLProcessor.replace_video_token` (the placeholder string: video tokens plus
  <|vision_start|>/<|vision_end|> per temporal patch).
- InternVL: `InternVLProcessor.replace_video_token` (placeholder per frame) and
  `InternVLVideoProcessor.sample_frames` (compiled from source).
"""

from __future__ import annotations

import ast
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from costmodel.core.video import VIDEO_RULES, plan_video, sampled_frames, video_rule
from costmodel.errors import CostmodelError
from costmodel.loading.load import load_model

FRAMES = (2, 3, 4, 7, 15, 16, 32, 64, 101, 768)
SIZES = ((448, 448), (640, 360), (360, 640), (1920, 1080), (224, 224), (20, 1000), (40, 40),
         (3840, 2160), (500, 300))
SECONDS = (0.5, 1, 2, 3.7, 10, 61, 600, 3600)
FPS = (0.1, 0.5, 1, 2, 4, 24)
# Qwen2.5-VL-7B-Instruct: preprocessor_config.json bounds (no video_preprocessor_config.json)
QWEN25_SIZE = {"shortest_edge": 3136, "longest_edge": 12845056}
# Qwen3-VL repos' video_preprocessor_config.json size
QWEN3_SIZE = {"shortest_edge": 4096, "longest_edge": 25165824}


def _compiled(rel: str, cls_name: str, methods: tuple[str, ...]) -> tuple[dict, dict]:
    """(namespace with the module-level smart_resize and the class's methods, class attrs)."""
    transformers = pytest.importorskip("transformers", minversion="5.23")
    import torch

    path = Path(transformers.__file__).parent / rel
    tree = ast.parse(path.read_text())
    ns: dict = {"math": math, "torch": torch, "np": np, "logger": SimpleNamespace(
        warning_once=lambda *a, **k: None)}
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls_name)
    attrs = {}
    for node in cls.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                attrs[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "smart_resize"]
    funcs += [n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name in methods]
    exec(compile(ast.Module(body=funcs, type_ignores=[]), str(path), "exec"), ns)
    return ns, attrs


def test_qwen2_5_vl_video_equals_qwen2vl_processor_and_sets_grid_w():
    ns, attrs = _compiled("models/qwen2_vl/video_processing_qwen2_vl.py",
                          "Qwen2VLVideoProcessor", ("get_num_of_video_patches",))
    me = SimpleNamespace(**attrs)
    spec = load_model("qwen2.5-vl-7b")
    assert video_rule(spec) is VIDEO_RULES["qwen2_5_vl"]
    for f in FRAMES:
        for w, h in SIZES:
            patches = ns["get_num_of_video_patches"](me, f, h, w, {"size": QWEN25_SIZE})
            rh, rw = ns["smart_resize"](h, w, 28, *QWEN25_SIZE.values())
            p = plan_video(spec, f, w, h)
            assert p.llm_tokens == patches // 4 and p.projector_rows == patches, (f, w, h)
            assert (p.crops, p.grid_w) == (math.ceil(f / 2), rw // 14), (f, w, h)


def test_qwen2_5_vl_windows_use_the_video_grid():
    """A 1000x700 frame pair is one pass of 72 x 50 patches: 54 full windows + 9 bottom ones
    (the image worked example), not the packed floor(3600 / 64) = 56 full + one of 16."""
    from costmodel.core.qwen_vl import window_groups

    spec = load_model("qwen2.5-vl-7b")
    assert spec.vision is not None
    p = plan_video(spec, 2, 1000, 700)
    groups = window_groups(spec.vision, np.array([p.seq_per_crop]), np.array([p.grid_w]))
    score = sum(float(n[0]) * float(s[0]) ** 2 for _, n, s in groups)
    assert (p.seq_per_crop, p.grid_w) == (3600, 72)
    assert score == 54 * 64**2 + 9 * 16**2


def _qwen3_processor_tokens(t: int, h: int, w: int) -> tuple[int, int]:
    """(video tokens, special tokens) of Qwen3VLProcessor.replace_video_token's placeholder."""
    from transformers.models.qwen3_vl.processing_qwen3_vl import Qwen3VLProcessor as P
    from transformers.video_utils import VideoMetadata

    me = SimpleNamespace(video_processor=SimpleNamespace(merge_size=2, temporal_patch_size=2),
                         video_token="<V>", vision_start_token="<S>", vision_end_token="<E>")
    me._calculate_timestamps = lambda *a: P._calculate_timestamps(me, *a)
    meta = VideoMetadata(total_num_frames=2 * t, fps=2.0, frames_indices=list(range(2 * t)))
    text = P.replace_video_token(me, {"video_grid_thw": np.array([[t, h, w]]),
                                      "video_metadata": [meta]}, 0)
    return text.count("<V>"), text.count("<S>") + text.count("<E>")


def test_qwen3_vl_video_tokens_equal_transformers_table():
    ns, attrs = _compiled("models/qwen3_vl/video_processing_qwen3_vl.py",
                          "Qwen3VLVideoProcessor", ("get_num_of_video_patches",))
    me = SimpleNamespace(**attrs)
    assert (me.patch_size, me.merge_size, me.temporal_patch_size, me.fps) == (16, 2, 2, 2)
    spec = load_model("qwen3-vl-8b")
    assert video_rule(spec) is VIDEO_RULES["qwen3_vl"]
    for f in FRAMES:
        for w, h in SIZES:
            patches = ns["get_num_of_video_patches"](me, f, h, w, {"size": QWEN3_SIZE})
            rh, rw = ns["smart_resize"](f, h, w, 2, 32, *QWEN3_SIZE.values())
            t = math.ceil(f / 2)
            video, special = _qwen3_processor_tokens(t, rh // 16, rw // 16)
            p = plan_video(spec, f, w, h)
            assert video == patches // 4, (f, w, h)
            assert p.llm_tokens == video + special == t * (patches // 4 // t + 2), (f, w, h)
            assert (p.crops, p.seq_per_crop * p.crops, p.grid_w) == (t, patches, rw // 16)


def test_qwen3_vl_refuses_one_frame_as_transformers_does():
    ns, attrs = _compiled("models/qwen3_vl/video_processing_qwen3_vl.py",
                          "Qwen3VLVideoProcessor", ())
    with pytest.raises(ValueError):
        ns["smart_resize"](1, 448, 448, 2, 32, *QWEN3_SIZE.values())
    with pytest.raises(CostmodelError, match="^--video-frames: 1 frame"):
        plan_video(load_model("qwen3-vl-8b"), 1, 448, 448)


def test_qwen3_vl_fps_sampling_equals_transformers():
    from transformers.video_utils import VideoMetadata

    ns, attrs = _compiled("models/qwen3_vl/video_processing_qwen3_vl.py",
                          "Qwen3VLVideoProcessor", ("sample_frames",))
    me = SimpleNamespace(**attrs)
    spec = load_model("qwen3-vl-8b")
    for s in SECONDS:
        for fps in FPS:
            meta = VideoMetadata(total_num_frames=round(s * 60), fps=60.0)
            want = len(ns["sample_frames"](me, meta, fps=fps))
            if want == meta.total_num_frames < 4:
                continue  # a source shorter than min_frames: the clip binds (not modelled)
            assert sampled_frames(spec, s, fps) == want, (s, fps)


def test_internvl_video_tokens_equal_transformers_processor():
    from transformers.models.internvl.processing_internvl import InternVLProcessor as P

    spec = load_model("internvl3-2b")
    assert video_rule(spec) is VIDEO_RULES["internvl"]
    me = SimpleNamespace(start_image_token="<img>", end_image_token="</img>",
                         image_token="<I>", image_seq_length=256)
    for f in FRAMES:
        text = P.replace_video_token(me, {"pixel_values_videos": [np.zeros((f, 3, 1, 1))]}, 0)
        for w, h in SIZES:
            p = plan_video(spec, f, w, h)
            assert p.llm_tokens == text.count("<I>") + text.count("<img>") + text.count("</img>")
            assert (p.crops, p.seq_per_crop, p.projector_rows) == (f, 1025, f * 1024)


def test_internvl_fps_sampling_equals_transformers():
    from transformers.video_utils import VideoMetadata

    ns, attrs = _compiled("models/internvl/video_processing_internvl.py",
                          "InternVLVideoProcessor", ("sample_frames",))
    me = SimpleNamespace(**attrs, num_frames=None)
    spec = load_model("internvl3-8b")
    for s in SECONDS:
        for fps in FPS:
            meta = VideoMetadata(total_num_frames=round(s * 60), fps=60.0)
            if int(s * fps) == 0:
                with pytest.raises(CostmodelError, match="samples no frame"):
                    sampled_frames(spec, s, fps)
                continue
            want = len(ns["sample_frames"](me, meta, fps=fps))
            assert sampled_frames(spec, s, fps) == want, (s, fps)


def test_hand_counts():
    # Qwen3-VL 16 frames of 448x448: 448 = 14 x 32 fits the clip bound (16 x 448^2 = 3.2 M px);
    # 8 passes of 28 x 28 = 784 patches; 8 x (196 + 2) = 1,584 tokens
    p = plan_video(load_model("qwen3-vl-8b"), 16, 448, 448)
    assert (p.crops, p.seq_per_crop, p.llm_tokens) == (8, 784, 1584)
    # InternVL3 16 frames: 16 tiles of 1,024 patches (+ CLS), 16 x 258 tokens
    p = plan_video(load_model("internvl3-2b"), 16, 1920, 1080)
    assert (p.crops, p.llm_tokens) == (16, 16 * 258)
    q = load_model("qwen3-vl-8b")
    assert [sampled_frames(q, s, f) for s, f in ((10, 2), (1, 1), (3600, 1), (30, 0.5))] == [
        20, 4, 768, 15]


@pytest.mark.parametrize(("model", "match"), [
    ("gemma-3-4b", r"^--video-frames: gemma-3-4b \(fixed token scheme\) has no video input in "
                   r"transformers 5.23; give the frames as --images N"),
    ("llama-3.2-11b-vision", r"^--video-frames: llama-3.2-11b-vision \(cross-attention\) has no "
                             r"video input in transformers 5.23; give the frames as --images N"),
])
def test_families_without_a_video_path_refused(model, match):
    with pytest.raises(CostmodelError, match=match) as e:
        video_rule(load_model(model))
    assert "\n" not in str(e.value)


def test_no_video_processor_in_transformers_for_gemma3_and_mllama():
    transformers = pytest.importorskip("transformers", minversion="5.23")
    root = Path(transformers.__file__).parent / "models"
    for family in ("gemma3", "mllama"):
        assert not list((root / family).glob("video_processing_*.py"))
        assert "video" not in (root / family / f"processing_{family}.py").read_text().lower()


# --- text the processors write around a video (core/video_text.py) -------------------------
# Pieces of more than one byte that the count takes as one token each: ' seconds' (Qwen2.5
# vocabulary id 6486) and 'Frame' (an assumption, docs/methodology.md "Video text tokens").
ONE_TOKEN_WORDS = {" seconds", "Frame"}


def _qwen2_pieces(text: str, specials: tuple[str, ...]) -> list[str]:
    """Qwen2Tokenizer's pre-tokenization: special tokens split out first, then the Split of
    tokenization_qwen2.PRETOKENIZE_REGEX on each remaining segment."""
    import re

    pytest.importorskip("transformers", minversion="5.23")
    from tokenizers import Regex, pre_tokenizers
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    split = pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False)
    segments = re.split("|".join(re.escape(s) for s in specials), text)
    return [p for seg in segments if seg for p, _ in split.pre_tokenize_str(seg)]


def _tokens(pieces: list[str]) -> int:
    assert all(len(p.encode()) == 1 or p in ONE_TOKEN_WORDS for p in pieces), pieces
    return len(pieces)


def test_qwen3_vl_timestamps_equal_transformers_sampling_and_placeholder():
    from transformers.models.qwen3_vl.processing_qwen3_vl import Qwen3VLProcessor as P
    from transformers.video_utils import VideoMetadata

    from costmodel.core.video_text import SOURCE_FPS, qwen3_vl_text, qwen3_vl_timestamps

    ns, attrs = _compiled("models/qwen3_vl/video_processing_qwen3_vl.py",
                          "Qwen3VLVideoProcessor", ("sample_frames",))
    me = SimpleNamespace(**attrs)
    spec = load_model("qwen3-vl-8b")
    proc = SimpleNamespace(video_processor=SimpleNamespace(merge_size=2, temporal_patch_size=2),
                           video_token="<V>", vision_start_token="<S>", vision_end_token="<E>")
    proc._calculate_timestamps = lambda *a: P._calculate_timestamps(proc, *a)
    for s in (1, 2, 3.7, 10, 61, 600):
        for fps in (0.5, 1, 2, 4):
            n = sampled_frames(spec, s, fps)
            meta = VideoMetadata(total_num_frames=int(s * SOURCE_FPS), fps=SOURCE_FPS)
            if n > meta.total_num_frames:
                continue  # the clip binds in transformers (costmodel takes it to hold n)
            idx = ns["sample_frames"](me, meta, fps=fps)
            want = P._calculate_timestamps(proc, idx, SOURCE_FPS, 2)
            assert qwen3_vl_timestamps(n, s) == pytest.approx(want, abs=1e-12), (s, fps)
            meta.frames_indices = idx
            t = math.ceil(n / 2)
            text = P.replace_video_token(proc, {"video_grid_thw": np.array([[t, 2, 2]]),
                                                "video_metadata": [meta]}, 0)
            assert text.count("seconds>") == t
            assert qwen3_vl_text(n, s) == _tokens(_qwen2_pieces(text, ("<V>", "<S>", "<E>")))


def test_internvl_frame_labels_equal_the_processor_text():
    from transformers.models.internvl.processing_internvl import InternVLProcessor as P

    from costmodel.core.video_text import internvl_text

    me = SimpleNamespace(start_image_token="<img>", end_image_token="</img>",
                         image_token="<I>", image_seq_length=2)
    for f in FRAMES:
        text = P.replace_video_token(me, {"pixel_values_videos": [np.zeros((f, 3, 1, 1))]}, 0)
        assert internvl_text(f) == _tokens(_qwen2_pieces(text, ("<img>", "</img>", "<I>")))
