"""Sweeps: identical to `estimate` point by point, vectorised (one evaluate per model), and the
token plan of a sweep (the commands and grid parsing: tests/cli/test_sweep_cmd.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel import load_hardware
from costmodel.analysis.estimate import estimate, point
from costmodel.analysis.sweep import POINT_COLUMNS, STAGE_COLUMNS, sweep
from costmodel.core.visual_tokens import plan_token_arrays
from costmodel.specs.compression import Compression
from costmodel.specs.model import LLMSpec, ModelSpec, ProjectorSpec, TokenScheme, VisionSpec
from costmodel.specs.workload import Workload
from costmodel.units import DType
from tests.helpers import LLAVA15_7B

# A Qwen2-VL-2B-like spec (dynamic resolution, 2x2 patch merger, GQA, tied embeddings).
QWEN_LIKE = ModelSpec(
    name="qwen-like",
    llm=LLMSpec(hidden_size=1536, num_layers=28, num_heads=12, num_kv_heads=2,
                intermediate_size=8960, vocab_size=151936, tie_embeddings=True, qkv_bias=True),
    vision=VisionSpec(num_layers=32, hidden_size=1280, num_heads=16, intermediate_size=5120,
                      patch_size=14, image_size=28, temporal_patch_size=2, cls_token=False,
                      patch_bias=False, learned_pos_embedding=False, rope2d=True,
                      post_norm=False, mlp_act="quick_gelu"),
    projector=ProjectorSpec(kind="patch_merger", input_dim=1280, output_dim=1536, merge_size=2),
    token_scheme=TokenScheme(kind="dynamic"),
)
DEVICES = ("a100-80gb", "h100-sxm", "jetson-agx-orin-64gb")
CONFIG = "llava-1.5-7b"  # zoo id (costmodel/zoo_configs)


def _check_rows(df: pd.DataFrame, spec: ModelSpec, w: Workload) -> int:
    """Every row equals estimate() at its point (relative 1e-12)."""
    n = 0
    for (hw_id, b, t), g in df.groupby(["hardware", "batch", "visual_tokens"], observed=True):
        e = point(spec, load_hardware(str(hw_id)),  # estimate without its refusals
                  w.model_copy(update={"batch": int(b), "visual_tokens": int(t)}))
        for r in g.itertuples():
            s = e.stages[r.stage]
            for c in STAGE_COLUMNS:
                assert getattr(r, c) == pytest.approx(getattr(s, c), rel=1e-12, abs=0), c
            assert r.ttft_s == pytest.approx(e.ttft_s, rel=1e-12)
            assert r.tpot_s == pytest.approx(e.tpot_s, rel=1e-12)
            assert r.e2e_latency_s == pytest.approx(e.e2e_latency_s, rel=1e-12)
            assert r.tokens_per_s == pytest.approx(e.tokens_per_s, rel=1e-12)
            m = e.memory
            assert r.kv_cache_bytes == pytest.approx(m.kv_cache_bytes, rel=1e-12)
            assert r.weights_bytes == pytest.approx(m.weights_bytes, rel=1e-12)
            assert r.activation_bytes == pytest.approx(m.activation_bytes, rel=1e-12)
            assert r.total_memory_bytes == pytest.approx(m.total_memory_bytes, rel=1e-12)
            assert bool(r.fits) == m.fits
            n += 1
    return n


@pytest.mark.parametrize("spec", [pytest.param("llava", id="llava"),
                                  pytest.param("llama2", id="text-only"),
                                  pytest.param(QWEN_LIKE, id="qwen-like")])
def test_sweep_equals_estimate_point_by_point(spec, request):
    spec = request.getfixturevalue(spec) if isinstance(spec, str) else spec
    hws = [load_hardware(h) for h in DEVICES]
    vis = [0, 1, 64, 575, 576, 577, 1000, 2880]
    w = Workload(text_tokens=48, output_tokens=33)
    df = sweep(spec, hws, vis, [1, 3, 8], w)
    assert len(df) == len(hws) * len(vis) * 3 * 4
    assert _check_rows(df, spec, w) == len(df)


@pytest.mark.parametrize("fields", [
    {"kv_dtype": DType.int8, "overlap": "serial"},
    {"flash_attention": False, "logits": "all", "output_tokens": 1},
    {"weight_dtype": DType.int4},
    {"compression": Compression(where="projector", keep_ratio=0.25, method="cluster")},
    {"compression": Compression(where="vit", merge_per_layer=6)},
    {"compression": Compression(where="llm_layer", layer=3, keep_tokens=100)},
    {"convention": "llm-viewer"},
])
def test_sweep_equals_estimate_with_options(llava, gpu, fields):
    w = Workload(text_tokens=20, output_tokens=9, **{k: v for k, v in fields.items()
                                                      if k != "output_tokens"})
    if "output_tokens" in fields:
        w = w.model_copy(update={"output_tokens": fields["output_tokens"]})
    hws = [gpu, load_hardware("l4")]
    df = sweep(llava, hws, [0, 300, 576, 1500], [1, 5], w)
    n = 0
    for (hw_id, b, t), g in df.groupby(["hardware", "batch", "visual_tokens"], observed=True):
        hw = gpu if hw_id == "my-gpu" else load_hardware(str(hw_id))
        e = point(llava, hw, w.model_copy(update={"batch": int(b), "visual_tokens": int(t)}))
        for r in g.itertuples():
            assert r.latency_s == pytest.approx(e.stages[r.stage].latency_s, rel=1e-12)
            assert r.flops == pytest.approx(e.stages[r.stage].flops, rel=1e-12)
            assert r.kv_cache_bytes == pytest.approx(e.memory.kv_cache_bytes, rel=1e-12)
            n += 1
    assert n == len(df) == 2 * 4 * 2 * 4


def test_several_models_one_frame(llava, llama2):
    df = sweep([llava, llama2], [load_hardware("h100-sxm")], [0, 576], [1])
    assert list(df.model.unique()) == ["llava-test", "llama-test"]
    assert set(df.columns) >= {"model", "hardware", "batch", "visual_tokens", "text_tokens",
                               "output_tokens", "stage", *STAGE_COLUMNS, *POINT_COLUMNS}
    assert (df.bytes == df.weight_bytes + df.act_bytes + df.kv_bytes).all()


def test_one_evaluate_per_model(llava, llama2, monkeypatch):
    """Vectorised: 2 models x 3 devices x 200 token counts x 4 batches = 4,800 points, and
    evaluate runs twice (once per model)."""
    import costmodel.analysis.sweep as sw

    calls = []
    real = sw.evaluate

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(sw, "evaluate", counting)
    df = sweep([llava, llama2], [load_hardware(h) for h in DEVICES], np.arange(200),
               [1, 2, 4, 8])
    assert len(calls) == 2 and len(df) == 4800 * 4


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 6000), images=st.integers(1, 4))
def test_token_plan_covers_the_tokens(n, images):
    """Fixed scheme: the fewest native crops that hold N patches; dynamic: N x merge^2
    patches over the images, one pass each (core/visual_tokens.plan_token_arrays, vectorised)."""
    fixed = plan_token_arrays(LLAVA15_7B, np.array([float(n)]), images)
    per = LLAVA15_7B.vision.patches_per_image
    assert fixed["crops"][0] * per >= n > (fixed["crops"][0] - 1) * per
    assert fixed["seq_per_crop"][0] == (per + 1 if n else 0) and fixed["visual"][0] == n
    dyn = plan_token_arrays(QWEN_LIKE, np.array([float(n)]), images)
    m2 = QWEN_LIKE.projector.merge_size ** 2
    assert dyn["crops"][0] == (images if n else 0) and dyn["projector_rows"][0] == n * m2
    assert dyn["seq_per_crop"][0] * images == pytest.approx(n * m2)


@pytest.mark.parametrize("engine", ["torch-eager", "torch-cuda-graph", "vllm", "vllm-0.6"])
def test_sweep_equals_estimate_on_calibrated_profiles(llava, gpu, engine):
    # Efficiency curves and launch overhead must survive the [devices, 1] reshaping.
    hws = [load_hardware("a100-80gb-vidur"), gpu, load_hardware("h100-sxm-vidur")]
    w = Workload(text_tokens=20, output_tokens=9, engine=engine)
    df = sweep(llava, hws, [0, 64, 576, 2000], [1, 4], w)
    by_id = {h.id: h for h in hws}
    for (hw_id, b, t), g in df.groupby(["hardware", "batch", "visual_tokens"], observed=True):
        e = estimate(llava, by_id[str(hw_id)],
                     w.model_copy(update={"batch": int(b), "visual_tokens": int(t)}))
        for r in g.itertuples():
            assert r.latency_s == pytest.approx(e.stages[r.stage].latency_s, rel=1e-12)
            assert r.ttft_s == pytest.approx(e.ttft_s, rel=1e-12)
