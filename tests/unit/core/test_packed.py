"""core/packed.py: a packed ViT's attention (the Qwen2-VL family) run one call per sequence on
an engine that splits it (hf-eager), by hand (docs/methodology.md, "Packed ViT attention on an
engine that splits it")."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import costmodel
from costmodel.analysis.frames import op_frame
from costmodel.loading.load import load_engine

ENGINES = Path(costmodel.__file__).parent / "engines"


@pytest.fixture(scope="module")
def varlen(tmp_path_factory) -> str:
    """hf-eager with its packed ViT attention as one varlen call (everything else the same)."""
    data = yaml.safe_load((ENGINES / "hf-eager.yaml").read_text())
    data.update(id="hf-eager-varlen", packed_attention="varlen")
    # no profile carries an 'hf-eager' figure set (naming one is refused), so both ids price
    # with the device's pooled figures
    f = costmodel.load_hardware("a100-80gb").source_file
    assert "hf-eager" not in {**(f.attention_kernel_by_engine or {}), **(f.decode_kernel_by_engine or {})}
    path = tmp_path_factory.mktemp("eng") / "hf-eager-varlen.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _vision(mid: str, engine: str, **kw):
    return costmodel.estimate(mid, "a100-80gb", engine=engine, output_tokens=8, **kw)


def test_one_launch_per_window_and_per_image(varlen):
    """Qwen2.5-VL-7B, a 1000x700 image (1008x700: 54 full windows + 9 bottom ones, the
    methodology's worked example): 28 windowed layers x 63 calls + 4 full layers x 1 call on
    hf-eager, against one varlen call a layer (28 + 4)."""
    split = _vision("qwen2.5-vl-7b", "hf-eager", image_size=(1000, 700))
    one = _vision("qwen2.5-vl-7b", varlen, image_size=(1000, 700))
    eng, hw = load_engine("hf-eager"), costmodel.load_hardware("a100-80gb")
    per_launch_s = eng.host_overhead_per_kernel_s + hw.kernel_launch_overhead_s
    extra = split.stages["vision"].launch_s - one.stages["vision"].launch_s
    assert extra == pytest.approx((28 * 63 + 4 - (28 + 4)) * per_launch_s, rel=1e-12)
    assert split.stages["vision"].flops == one.stages["vision"].flops
    assert split.bound.ttft_s == one.bound.ttft_s  # the bound runs no kernels
    assert split.stages["vision"].latency_s > one.stages["vision"].latency_s


def test_each_call_priced_alone(varlen):
    """Qwen2-VL, two 448x448 images: each full-attention layer runs two calls of one image
    each, so the attention operator takes twice one image's call (device and launches)."""
    two = _vision("qwen2-vl-7b", "hf-eager", images=2, image_size=(448, 448)).evaluation
    one = _vision("qwen2-vl-7b", "hf-eager", images=1, image_size=(448, 448)).evaluation
    packed = _vision("qwen2-vl-7b", varlen, images=2, image_size=(448, 448)).evaluation

    def attn(ev, col: str) -> float:
        f = op_frame(ev)
        return float(f.loc[(f.stage == "vision") & (f.op_class == "attention"), col].sum())

    for col in ("latency_s", "launch_s"):
        assert attn(two, col) == pytest.approx(2 * attn(one, col), rel=1e-12)
    assert attn(packed, "launch_s") == pytest.approx(attn(one, "launch_s"), rel=1e-12)
    assert attn(packed, "latency_s") < attn(two, "latency_s")  # one call of two: one fixed cost


def test_a_batched_vit_is_not_split(varlen):
    """LLaVA's CLIP runs its images as one batched call: the engines agree exactly."""
    a = _vision("llava-1.5-7b", "hf-eager", batch=4)
    b = _vision("llava-1.5-7b", varlen, batch=4)
    assert a.to_dict()["stages"] == b.to_dict()["stages"]


def test_the_methodology_figures(varlen):
    """docs/methodology.md quotes the 1000x2530 image's vision stage on both engines."""
    from tests.helpers import DOCS

    text = " ".join((DOCS / "methodology.md").read_text().split())
    split = _vision("qwen2.5-vl-7b", "hf-eager", image_size=(1000, 2530)).stages["vision"]
    one = _vision("qwen2.5-vl-7b", varlen, image_size=(1000, 2530)).stages["vision"]
    quoted = (f"reads {split.latency_s * 1e3:.0f} ms on `hf-eager` and {one.latency_s * 1e3:.0f}"
              f" ms with `packed_attention: varlen` (bound {one.bound_latency_s * 1e3:.1f} ms)")
    assert quoted in text
    assert f"the model's {split.latency_s / one.latency_s:.1f}x" in text


def test_hf_fa2_is_hf_eager_with_flash_attention_2(varlen):
    """hf-fa2: hf-eager's figures, one varlen call for the packed ViT, no repeat_kv copies."""
    fa2 = _vision("qwen2.5-vl-7b", "hf-fa2", image_size=(1000, 700))
    one = _vision("qwen2.5-vl-7b", varlen, image_size=(1000, 700))
    assert fa2.stages["vision"].latency_s == one.stages["vision"].latency_s
    gqa = [costmodel.estimate("llama-3-8b", "a100-80gb", engine=e, text_tokens=2048)
           for e in ("hf-fa2", "hf-eager")]  # 32 query heads on 8 KV heads
    assert gqa[0].ttft_s < gqa[1].ttft_s and gqa[0].tpot_s <= gqa[1].tpot_s  # decode: host-bound
    assert gqa[0].to_dict()["bound"] == gqa[1].to_dict()["bound"]
    mha = [costmodel.estimate("llava-1.5-7b", "a100-80gb", engine=e) for e in ("hf-fa2",
                                                                             "hf-eager")]
    assert mha[0].to_dict()["stages"] == mha[1].to_dict()["stages"]  # no GQA, no packed ViT


def test_eager_attention_is_split_too(varlen):
    """FlashAttention off: each window's QK^T, softmax and PV are three calls of their own, so
    the launches grow by 3 x (63 - 2) x 28 over the varlen-priced engine; device time as is."""
    kw = dict(image_size=(1000, 700), flash_attention=False)
    split = _vision("qwen2.5-vl-7b", "hf-eager", **kw)
    one = _vision("qwen2.5-vl-7b", varlen, **kw)
    eng, hw = load_engine("hf-eager"), costmodel.load_hardware("a100-80gb")
    per_launch_s = eng.host_overhead_per_kernel_s + hw.kernel_launch_overhead_s
    extra = split.stages["vision"].launch_s - one.stages["vision"].launch_s
    assert extra == pytest.approx(3 * 28 * (63 - 2) * per_launch_s, rel=1e-12)
    assert split.stages["vision"].device_s == pytest.approx(one.stages["vision"].device_s, rel=1e-12)
    flash = _vision("qwen2.5-vl-7b", "hf-eager", image_size=(1000, 700))
    assert split.stages["vision"].latency_s > flash.stages["vision"].latency_s


def test_a_varlen_engine_runs_a_windowed_layer_as_one_call():
    """vllm: one attention launch per ViT layer (28 windowed + 4 full) whatever the window
    kinds, and one call's time: the same as the two kinds' sequences in one batch when their
    windows are alike."""
    e = _vision("qwen2.5-vl-7b", "vllm", image_size=(1000, 700))
    f = op_frame(e.evaluation)
    att = f[(f.stage == "vision") & (f.op_class == "attention")]
    eng, hw = load_engine("vllm"), costmodel.load_hardware("a100-80gb")
    per_launch_s = eng.host_overhead_per_kernel_s + hw.kernel_launch_overhead_s
    assert att.launch_s.sum() == pytest.approx((28 + 4) * per_launch_s, rel=1e-12)


def test_varlen_time_is_one_call_over_the_groups():
    import numpy as np

    from costmodel.core.efficiency import prefill_attention_time_s, varlen_attention_time_s
    from costmodel.core.ops import AttnShape

    hw = costmodel.load_hardware("a100-80gb")
    km = costmodel.analysis.prepare.prepare(
        costmodel.load_model("qwen2.5-vl-7b"), [hw], costmodel.Workload()).rates.kernels
    p, dev, peak = km.params[0], km.device(0, np.array([[hw.memory_bytes_per_s]])), 312e12

    def shape(n: float) -> AttnShape:
        return AttnShape(seqs=np.array([n]), q=np.array([64.0]), k=np.array([64.0]), heads=16,
                         kv_heads=16, head_dim=80, causal=False, kv_from_cache=False)

    one = prefill_attention_time_s(np.array([50.0]), 64.0, 64.0, 16, 80, False, 0.0, peak,
                                   np.array([5e6]), dev, p)
    both = varlen_attention_time_s([shape(20), shape(30)], [np.array([2e6]), np.array([3e6])],
                                   peak, dev, p)
    assert both == pytest.approx(one, rel=1e-12)
    alone = varlen_attention_time_s([shape(50)], [np.array([5e6])], peak, dev, p)
    assert alone == pytest.approx(one, rel=1e-12)


def test_a_sweep_equals_each_estimate_on_a_varlen_engine():
    """A window kind with no window at a point takes no part in that point's varlen call, so
    a sweep over points with and without full windows equals one estimate per point."""
    from costmodel.sweep import sweep

    df = sweep("qwen2.5-vl-7b", ["l4", "a100-80gb"], [5, 15, 500], [1],
               costmodel.Workload(engine="vllm"))
    vis = df[df.stage == "vision"]
    for r in vis.itertuples():
        e = costmodel.estimate("qwen2.5-vl-7b", str(r.hardware), engine="vllm",
                               visual_tokens=int(r.visual_tokens))
        assert r.latency_s == e.stages["vision"].latency_s, (r.hardware, r.visual_tokens)
