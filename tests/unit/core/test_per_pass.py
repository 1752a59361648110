"""core/per_pass.py: llama.cpp encodes a request's images and tiles one graph at a time
(Engine.vision_graph = 'per_pass'): its vision and projector stages are P times one pass's."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import costmodel

ENGINES = Path(costmodel.__file__).parent / "engines"
STAGES = ("vision", "projector")


def _est(mid: str, hw: str = "a100-80gb", engine: str = "llama.cpp", **kw):
    return costmodel.estimate(mid, hw, engine=engine, output_tokens=4, **kw)


@pytest.mark.parametrize("hw", ["a100-80gb", "jetson-agx-orin-64gb"])
def test_five_tiles_cost_five_single_images(hw):
    """LLaVA-NeXT at 672x672 runs its base image and 4 tiles (5 passes of LLaVA-1.5's CLIP at
    336 px): on llama.cpp, exactly 5 x LLaVA-1.5's one pass, vision and projector."""
    tiles, one = _est("llava-next-vicuna-7b", hw, image_size=(672, 672)), _est("llava-1.5-7b", hw)
    for s in STAGES:
        assert tiles.stages[s].latency_s == pytest.approx(5 * one.stages[s].latency_s, rel=1e-12)
    batched = _est("llava-next-vicuna-7b", hw, engine="vllm", image_size=(672, 672))
    assert batched.stages["vision"].flops == tiles.stages["vision"].flops  # counts unchanged
    assert tiles.stages["vision"].bound_latency_s == batched.stages["vision"].bound_latency_s


@pytest.mark.parametrize("mid", ["qwen2.5-vl-7b", "internvl3-2b", "gemma-3-4b"])
def test_two_images_or_two_requests_are_twice_one(mid):
    """Every pass its own graph (the packed Qwen attention per image too, core/packed.py): two
    images, or a batch of two requests, cost twice one image in the vision and projector."""
    kw = {"image_size": (448, 448)} if mid != "gemma-3-4b" else {}
    one, two, pair = (_est(mid, images=n, batch=b, **kw) for n, b in ((1, 1), (2, 1), (1, 2)))
    for s in STAGES:
        for e in (two, pair):
            assert e.stages[s].latency_s == pytest.approx(2 * one.stages[s].latency_s, rel=1e-12)


def test_a_batched_engine_amortises_the_passes(tmp_path):
    """The same five tiles batched (vLLM: one GEMM over every pass) cost less than five passes
    with vLLM's figures run one pass per graph; the LLM stages are untouched."""
    data = yaml.safe_load((ENGINES / "vllm.yaml").read_text())
    data.update(id="vllm-per-pass", vision_graph="per_pass", kernel_figures="vllm")
    data["sources"]["vision_graph"] = "test: vLLM's figures with llama.cpp's one pass per graph"
    f = tmp_path / "vllm-per-pass.yaml"
    f.write_text(yaml.safe_dump(data))
    per = _est("llava-next-vicuna-7b", engine=str(f), image_size=(672, 672))
    batched = _est("llava-next-vicuna-7b", engine="vllm", image_size=(672, 672))
    assert per.stages["vision"].latency_s > batched.stages["vision"].latency_s
    assert per.stages["prefill"].latency_s == batched.stages["prefill"].latency_s


def test_a_projector_compression_runs_once_per_request(tmp_path):
    """DivPrune at the projector scores all of a request's visual tokens in one call: on
    llama.cpp its operators are not split per pass (launches and device time as on the same
    engine with the passes batched); the ViT's are."""
    from costmodel.analysis.frames import op_frame
    from costmodel.specs.compression import Compression

    data = yaml.safe_load((ENGINES / "llama.cpp.yaml").read_text())
    data.update(id="llama.cpp-batched", vision_graph="batched")  # pooled figures, as llama.cpp
    f = tmp_path / "llama.cpp-batched.yaml"
    f.write_text(yaml.safe_dump(data))
    comp = Compression(where="projector", keep_ratio=0.25, method="divprune")

    def ops(engine: str):
        e = _est("llava-next-vicuna-7b", engine=engine, image_size=(672, 672), compression=comp)
        fr = op_frame(e.evaluation)
        return fr.set_index("op")[["latency_s", "launch_s"]]

    per, batched = ops("llama.cpp"), ops(str(f))
    mine = [o for o in per.index if o.startswith("compress/")]
    assert mine
    for o in mine:
        assert tuple(per.loc[o]) == tuple(batched.loc[o])
    assert per.loc["vision/patch_embed", "launch_s"] == 5 * batched.loc["vision/patch_embed",
                                                                        "launch_s"]
