"""core/masked_windows.py: llama.cpp runs Qwen2.5-VL's windowed ViT layers as attention over the
whole image under a window mask, one image per graph (docs/methodology.md, "Packed ViT
attention on an engine that splits it"), by hand."""

from __future__ import annotations

import numpy as np
import pytest

import costmodel
from costmodel.analysis.frames import op_frame
from costmodel.core.masked_windows import visited_fraction
from costmodel.loading.load import load_engine


def test_visited_fraction_by_hand():
    """S = 1024 patches in 16 windows of 64: window j's queries stop at the 256-key tile that
    holds its last key, 256 ceil(64 j / 256): 4 windows each at 256, 512, 768, 1024 keys,
    64 x 4 x 2560 / 1024^2 = 0.625. S = 2304 (36 windows): 64 x 4 x 256 x (1 + ... + 9) /
    2304^2 = 5/9. No scan (every tile computed) below 1024 queries or off a whole tile."""
    got = visited_fraction(np.array([1024.0, 2304.0, 1000.0, 768.0, 1280.0]), 64.0)
    np.testing.assert_allclose(got, [0.625, 5.0 / 9.0, 1.0, 1.0, got[4]], rtol=1e-12)
    # 1280 = 5 tiles, 20 windows: 64 x 4 x 256 x 15 / 1280^2
    assert got[4] == pytest.approx(64 * 4 * 256 * 15 / 1280**2, rel=1e-12)


def _attn(est) -> dict[str, tuple[float, float]]:
    """Vision attention operators: name -> (device seconds per layer, launch s per layer).
    llama.cpp's launches overlap the device (host_overlap: async), so an operator's row keeps
    its device time as latency_s and its launches apart (core/host_overlap.py)."""
    assert load_engine("llama.cpp").host_overlap == "async"
    f = op_frame(est.evaluation)
    a = f[(f.stage == "vision") & (f.op_class == "attention")]
    return {r.op: (r.latency_s / r["count"], r.launch_s / r["count"]) for _, r in a.iterrows()}


def _layer(ops: dict, run: str, part: str = "flash") -> tuple[float, float]:
    """The windowed run's window kinds together (device s, launch s per layer)."""
    mine = [v for k, v in ops.items() if k.startswith(f"vision/{run}/attn/win_")
            and k.endswith(f"/{part}")]
    return sum(d for d, _ in mine), sum(x for _, x in mine)


def _estimate(**kw):
    return costmodel.estimate("qwen2.5-vl-7b", "a100-80gb", engine="llama.cpp", output_tokens=8,
                              **kw)


def _mask_s(patches: float, images: int = 1) -> float:
    """The f16 S x S mask read once a layer at a memory-bound kernel's rate (bandwidth x the
    profile's memory_efficiency x its kernel memory_fraction)."""
    hw = costmodel.load_hardware("a100-80gb")
    rate = hw.memory_bytes_per_s * hw.memory_efficiency * hw.kernel_params["memory_fraction"]
    return images * patches**2 * 2.0 / rate


@pytest.mark.parametrize("size,patches,visited", [((1000, 2530), 72 * 180, 1.0),
                                                   ((448, 448), 32 * 32, 0.625)])
def test_a_windowed_layer_is_the_full_layer_masked(size, patches, visited):
    """1008 x 2520 px (12,960 patches, not a whole number of 256-key tiles): each windowed
    layer costs the full-attention layer's attention plus the mask read; 448 x 448 (1,024
    patches): the scan skips to 0.625 of it. One launch a layer, as the full layer."""
    ops = _attn(_estimate(image_size=size))
    full_s, full_launch = ops["vision/L7/attn/flash"]
    for run in ("L0-6", "L8-14", "L16-22", "L24-30"):
        dev, launch = _layer(ops, run)
        assert dev == pytest.approx(visited * full_s + _mask_s(patches), rel=1e-9)
        assert launch == pytest.approx(full_launch, rel=1e-12)


def test_one_image_per_graph():
    """Two 448 x 448 images: the full layer runs two calls of one image (device and launches
    twice one image's), and the windowed layers follow it."""
    one, two = (_attn(_estimate(image_size=(448, 448), images=n)) for n in (1, 2))
    for i in (0, 1):
        assert two["vision/L7/attn/flash"][i] == pytest.approx(2 * one["vision/L7/attn/flash"][i],
                                                               rel=1e-12)
    dev, _ = _layer(two, "L0-6")
    assert dev == pytest.approx(0.625 * two["vision/L7/attn/flash"][0] + _mask_s(1024, 2),
                                rel=1e-9)


def test_eager_attention_runs_the_full_rectangle():
    """FlashAttention off (ggml_soft_max_ext with the mask): each windowed layer's QK^T,
    softmax and PV cost the full layer's (the f32 mask's read not counted beside the scores)."""
    ops = _attn(_estimate(image_size=(1000, 700), flash_attention=False))
    for part in ("qk", "softmax", "pv"):
        dev, launch = _layer(ops, "L0-6", part)
        assert dev == pytest.approx(ops[f"vision/L7/attn/{part}"][0], rel=1e-9)
        assert launch == pytest.approx(ops[f"vision/L7/attn/{part}"][1], rel=1e-12)


def test_counts_and_bound_are_the_models():
    """Only the expected time follows what llama.cpp executes: FLOPs, bytes and the bound are
    the windows' as on vLLM, and the masked vision stage is slower."""
    ll, vl = (costmodel.estimate("qwen2.5-vl-7b", "a100-80gb", engine=e, output_tokens=8,
                                 image_size=(1000, 2530)) for e in ("llama.cpp", "vllm"))
    for key in ("flops", "bytes"):
        assert getattr(ll.stages["vision"], key) == getattr(vl.stages["vision"], key)
    assert ll.stages["vision"].bound_latency_s == vl.stages["vision"].bound_latency_s
    assert ll.stages["vision"].latency_s > 2 * vl.stages["vision"].latency_s


def test_other_vits_unchanged():
    """Qwen2-VL (no windows) on llama.cpp: only the one-call-per-image split applies."""
    a = costmodel.estimate("qwen2-vl-7b", "a100-80gb", engine="llama.cpp", image_size=(448, 448))
    ops = _attn(a)
    assert not any("/win_" in k for k in ops)
    b = costmodel.estimate("llava-1.5-7b", "a100-80gb", engine="llama.cpp")
    assert all("/win_" not in k for k in _attn(b))


def test_no_full_attention_layer_is_refused(tmp_path):
    """A Qwen2.5-VL config whose every ViT layer is windowed gives llama.cpp no full layer to
    price the masked call from: one line naming the fix, not a guess."""
    import json

    from costmodel.errors import CostmodelError
    from tests.helpers import ROOT

    data = json.loads((ROOT / "costmodel" / "zoo_configs" / "qwen2.5-vl-7b.json").read_text())
    data["vision_config"]["fullatt_block_indexes"] = []
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CostmodelError, match="no full-attention layer.*another --engine"):
        costmodel.estimate(str(path), "a100-80gb", engine="llama.cpp")
    costmodel.estimate(str(path), "a100-80gb", engine="vllm")  # one varlen call: fine


def test_the_methodology_figures(tmp_path):
    """docs/methodology.md quotes a 1000x2530 image's vision stage on llama.cpp against the same
    engine with packed_attention: varlen (A100 and Jetson AGX Orin)."""
    import yaml

    from tests.helpers import DOCS, ROOT

    data = yaml.safe_load((ROOT / "costmodel" / "engines" / "llama.cpp.yaml").read_text())
    data.update(id="llama.cpp-varlen", packed_attention="varlen")
    path = tmp_path / "llama.cpp-varlen.yaml"
    path.write_text(yaml.safe_dump(data))
    text = " ".join((DOCS / "methodology.md").read_text().split())

    def vision(engine: str, hw: str):
        e = costmodel.estimate("qwen2.5-vl-7b", hw, engine=engine, image_size=(1000, 2530))
        return e.stages["vision"]

    m, v = vision("llama.cpp", "a100-80gb"), vision(str(path), "a100-80gb")
    assert (f"vision {m.latency_s * 1e3:.0f} ms on `llama.cpp` against {v.latency_s * 1e3:.0f} "
            f"ms with the same engine's figures and `packed_attention: varlen` (bound "
            f"{m.bound_latency_s * 1e3:.1f} ms)") in text
    m, v = vision("llama.cpp", "jetson-agx-orin-64gb"), vision(str(path), "jetson-agx-orin-64gb")
    assert f"{m.latency_s:.2f} s against {v.latency_s:.2f} s" in text


def test_a_sweep_is_its_estimates_bit_for_bit():
    """Points of many windows (16,384 visual tokens: 1,024 windows) beside points of few, with
    and without the mask scan: each sweep row is the one-point estimate exactly."""
    from costmodel.analysis.estimate import estimate
    from costmodel.analysis.sweep import sweep
    from costmodel.loading.load import load_hardware, load_model
    from costmodel.specs.workload import Workload

    spec, hw = load_model("qwen2.5-vl-7b"), load_hardware("jetson-agx-orin-64gb")
    w = Workload(text_tokens=32, output_tokens=4, engine="llama.cpp")
    visual = [256, 575, 576, 4096, 16384]  # 1,024 / 2,300 / 2,304 / 16,384 / 65,536 patches
    df = sweep(spec, [hw], visual, [1], w)
    for v, rows in df.groupby("visual_tokens", observed=True):
        e = estimate(spec, hw, w.model_copy(update={"visual_tokens": int(v)}))
        for r in rows.itertuples():
            assert r.latency_s == e.stages[r.stage].latency_s, (v, r.stage)


def test_a_kind_without_windows_at_one_point_keeps_its_launch_where_it_was():
    """At 1 visual token a windowed layer has no full window, only the right-edge one; beside
    16 tokens (full windows there) the layer's launch stays on its first kind at that point,
    as in the one-point estimate (grouped by name, not by the grid: the launch used to move
    to win_right alone and the vision time differed in its last bit, found by
    test_zoo_properties' sweep-equals-estimate property)."""
    from costmodel.analysis.estimate import estimate
    from costmodel.analysis.sweep import sweep

    w = {"text_tokens": 7, "output_tokens": 2, "engine": "llama.cpp"}
    df = sweep("qwen2.5-vl-3b", ["jetson-agx-orin-64gb"], [1, 16], [1], **w)
    one = estimate("qwen2.5-vl-3b", "jetson-agx-orin-64gb", visual_tokens=1, **w)
    row = df[(df.visual_tokens == 1) & (df.stage == "vision")].latency_s.iloc[0]
    assert row == one.stages["vision"].latency_s
    ops = _attn(one)
    full, right = ops["vision/L0-6/attn/win_full/flash"], ops["vision/L0-6/attn/win_right/flash"]
    assert full[0] == 0.0 and full[1] > 0.0 and right[0] > 0.0 and right[1] == 0.0
