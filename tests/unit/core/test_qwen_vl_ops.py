"""Hand-computed Qwen2.5-VL / Qwen3-VL operators: windows, layer runs, q/k norm, DeepStack."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.core.inputs import Points, Precision
from costmodel.core.qwen_vl import layer_runs, window_groups
from costmodel.core.stages import decode_ops, stage_ops
from costmodel.errors import CostmodelError
from costmodel.loading.load import load_model

UNIT = Precision(weight_bytes_per_element=1.0, act_bytes_per_element=1.0, kv_bytes_per_element=1.0)


def _a(x: float) -> np.ndarray:
    return np.asarray([float(x)])


def _pts(h: int, w: int, text: int = 10, grid: bool = True, merge: float | None = None) -> Points:
    return Points(batch=_a(1), crops=_a(1), seq_per_crop=_a(h * w), projector_rows=_a(h * w),
                  visual=_a(h * w // 4), text=_a(text), output=_a(2),
                  grid_w=_a(w) if grid else None, vit_merge=None if merge is None else _a(merge))


def _groups(h: int, w: int, grid: bool = True) -> dict[str, tuple[float, float]]:
    v = load_model("qwen2.5-vl-7b").vision
    return {k: (float(n[0]), float(s[0]))
            for k, n, s in window_groups(v, _a(h * w), _a(w) if grid else None)}


def test_window_side_is_8_patches():
    # 112 px // merge 2 // patch 14 = 4 merged units = 8 patches (64 patches a window).
    assert load_model("qwen2.5-vl-7b").vision.window_patches == 8


def test_window_groups_20x12_patches():
    # 10 x 6 merged units in windows of 4 x 4: 2 full (64 patches), 2 right-edge 4x2 units
    # (32), 1 bottom-edge 2x4 (32), 1 corner 2x2 (16): 128 + 64 + 32 + 16 = 240 patches.
    g = _groups(20, 12)
    assert g == {"full": (2, 64), "right": (2, 32), "bottom": (1, 32), "corner": (1, 16)}
    assert sum(n * s for n, s in g.values()) == 240


def test_window_groups_packed_without_grid():
    # A token count without an image size: 240 patches packed as 3 windows of 64 + one of 48.
    g = _groups(20, 12, grid=False)
    assert g == {"full": (3, 64), "right": (1, 48), "bottom": (0, 0), "corner": (0, 0)}


def test_layer_runs_qwen25():
    runs = layer_runs(load_model("qwen2.5-vl-3b").vision)
    assert runs[:3] == [(0, 7, True), (7, 8, False), (8, 15, True)]
    assert runs[-1] == (31, 32, False) and len(runs) == 8
    assert layer_runs(load_model("qwen3-vl-8b").vision) == [(0, 27, False)]


def _flops(ops, needle: str) -> float:
    return sum(float(o.matmul_flops[0]) * o.count for o in ops if needle in o.name)


def test_windowed_and_full_attention_flops():
    # 7B ViT: 16 heads of 80. Eager QK^T + PV = 4 x head_dim x heads x sum of window sizes^2.
    spec = load_model("qwen2.5-vl-7b")
    ops = stage_ops(spec, _pts(20, 12), UNIT, flash=False)["vision"]
    per_score = 4 * 80 * 16
    windowed = 2 * 64**2 + 2 * 32**2 + 32**2 + 16**2  # 11,520
    assert _flops(ops, "/attn/win_") == 28 * per_score * windowed  # 28 windowed blocks
    full = [o for o in ops if o.name.endswith("/attn/qk") or o.name.endswith("/attn/pv")]
    assert sum(float(o.matmul_flops[0]) * o.count for o in full) == 4 * per_score * 240**2


def test_swiglu_vit_mlp_and_rmsnorm():
    ops = stage_ops(load_model("qwen2.5-vl-7b"), _pts(8, 8), UNIT, flash=True)["vision"]
    names = {o.name.split("/", 2)[2] for o in ops if o.name.count("/") >= 2}
    assert {"mlp/gate", "mlp/up", "mlp/down", "norm1"} <= names and "mlp/fc1" not in names
    gate = next(o for o in ops if o.name.endswith("mlp/gate"))
    assert float(gate.matmul_flops[0]) == 2 * 64 * 1280 * 3420
    norm1 = next(o for o in ops if o.name.endswith("norm1"))
    assert float(norm1.vector_flops[0]) == 4 * 64 * 1280  # RMSNorm: 4 FLOPs an element


def test_tome_refused_in_windowed_vit():
    with pytest.raises(CostmodelError, match="windowed ViT"):
        stage_ops(load_model("qwen2.5-vl-3b"), _pts(8, 8, merge=2), UNIT, flash=True)


def test_qwen3_qk_norm_decode():
    # One decode token, 32 query and 8 key heads of 128: RMSNorm 4 FLOPs an element.
    ops = decode_ops(load_model("qwen3-vl-8b"), _pts(8, 8), 0.0, UNIT, flash=True)
    q = next(o for o in ops if o.name.endswith("attn/q_norm"))
    k = next(o for o in ops if o.name.endswith("attn/k_norm"))
    assert (float(q.vector_flops[0]), float(k.vector_flops[0]), q.count) == \
        (4 * 32 * 128, 4 * 8 * 128, 36)


def test_deepstack_projector_and_prefill_adds():
    spec = load_model("qwen3-vl-8b")
    ops = stage_ops(spec, _pts(16, 12), UNIT, flash=True)
    tokens = 16 * 12 // 4
    main, deep = _flops(ops["projector"], "projector/fc"), _flops(ops["projector"], "deepstack/fc")
    assert main == 2 * tokens * (4608 * 4608 + 4608 * 4096)
    assert deep == 3 * main  # three deepstack mergers of the same shape
    dnorm = next(o for o in ops["projector"] if o.name == "projector/deepstack/norm")
    assert float(dnorm.vector_flops[0]) * dnorm.count == 3 * 7 * tokens * 4608  # LayerNorm(4608)
    add = next(o for o in ops["prefill"] if o.name.endswith("deepstack_add"))
    assert (add.name, add.count, float(add.vector_flops[0])) == \
        ("llm/L0-2/deepstack_add", 3, tokens * 4096)


def test_qwen3_pos_embed_interpolation():
    ops = stage_ops(load_model("qwen3-vl-8b"), _pts(8, 8), UNIT, flash=True)["vision"]
    pos = next(o for o in ops if o.name == "vision/pos_embed")
    assert float(pos.vector_flops[0]) == 8 * 64 * 1152  # 4 taps x (mul) + 3 adds + 1 add
    assert float(pos.weight_bytes[0]) == 2304 * 1152


def test_methodology_window_example():
    # docs/methodology.md: Qwen2.5-VL-7B, 1000x700 -> 72 x 50 patches: 54 full windows and 9
    # bottom windows of 16; sum of squared window sizes 223,488 (S^2 = 12,960,000).
    from costmodel.core.visual_tokens import plan_images

    spec = load_model("qwen2.5-vl-7b")
    p = plan_images(spec, 1, 1000, 700)
    assert (p.seq_per_crop, p.grid_w, p.llm_tokens) == (3600, 72, 900)
    g = {k: (float(n[0]), float(s[0]))
         for k, n, s in window_groups(spec.vision, _a(p.seq_per_crop), _a(p.grid_w))}
    assert g == {"full": (54, 64), "right": (0, 0), "bottom": (9, 16), "corner": (0, 0)}
    assert sum(n * s * s for n, s in g.values()) == 223_488
