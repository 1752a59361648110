"""The torch reference model against the analytical model: parameters, FLOPs, KV cache.

FLOPs are compared with exact integer equality; the one convention difference (causal
attention) is a named closed form, not a tolerance. See docs/validation.md.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402, N812
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from costmodel.analysis.estimate import estimate  # noqa: E402
from costmodel.loading.load import load_model, model_ids  # noqa: E402
from costmodel.reference.crosscheck import (  # noqa: E402
    analytical_matmul_flops,
    causal_skipped_flops,
    torch_matmul_flops,
)
from costmodel.reference.model import build, mirrors, tiny_spec  # noqa: E402
from costmodel.specs.model import (  # noqa: E402
    LLMSpec,
    ModelSpec,
    ProjectorSpec,
    TokenScheme,
    VisionSpec,
)
from tests.helpers import LLAVA15_7B  # noqa: E402

# Local specs cover every module flag even before the zoo configs are present.
QWEN2VL_LIKE = ModelSpec(
    name="qwen2vl-like",
    llm=LLMSpec(hidden_size=256, num_layers=3, num_heads=8, num_kv_heads=2,
                intermediate_size=512, vocab_size=3000, tie_embeddings=True, qkv_bias=True),
    vision=VisionSpec(num_layers=3, hidden_size=128, num_heads=4, intermediate_size=512,
                      patch_size=14, image_size=28, temporal_patch_size=2, cls_token=False,
                      learned_pos_embedding=False, rope2d=True, post_norm=False),
    projector=ProjectorSpec(kind="patch_merger", input_dim=128, output_dim=256, merge_size=2),
    token_scheme=TokenScheme(kind="dynamic"),
)
SIGLIP_LIKE = ModelSpec(
    name="siglip-like",
    llm=LLMSpec(hidden_size=192, num_layers=2, num_heads=6, num_kv_heads=1,
                intermediate_size=384, vocab_size=2000, qkv_bias=True),
    vision=VisionSpec(num_layers=3, hidden_size=96, num_heads=4, intermediate_size=200,
                      patch_size=14, image_size=56, cls_token=False, patch_bias=True,
                      mlp_act="gelu_tanh"),
    projector=ProjectorSpec(kind="linear", input_dim=96, output_dim=192, bias=False),
)
TEXT_ONLY = ModelSpec(name="text", llm=LLMSpec(hidden_size=128, num_layers=2, num_heads=4,
                                               num_kv_heads=4, intermediate_size=300,
                                               vocab_size=500, head_dim=48))
# LLaVA-1.5 with vision_feature_select_strategy "full" (the CLS row kept as a visual token)
# and Llama attention_bias (q, k, v and o biases)
LLAVA_FULL_BIASED = LLAVA15_7B.model_copy(update={
    "name": "llava-full-biased",
    "vision": LLAVA15_7B.vision.model_copy(update={"feature_keeps_cls": True}),
    "llm": LLAVA15_7B.llm.model_copy(update={"qkv_bias": True, "o_bias": True})})
LOCAL = [LLAVA15_7B, QWEN2VL_LIKE, SIGLIP_LIKE, TEXT_ONLY, tiny_spec(), LLAVA_FULL_BIASED]
# Zoo models the reference mirrors (reference.model.mirrors); Qwen2.5-VL / Qwen3-VL,
# Llama-3.2-Vision and the MoE models are checked against transformers' own classes in
# test_qwen_vl.py, test_mllama_flops.py and test_moe.py.
ALL = [pytest.param(s, id=s.name) for s in LOCAL] + [
    pytest.param(i, id=i) for i in model_ids() if mirrors(load_model(i))]


def _spec(s: ModelSpec | str) -> ModelSpec:
    return load_model(s) if isinstance(s, str) else s


def _shallow(spec: ModelSpec) -> ModelSpec:
    """Same widths and module flags, 2 LLM layers and 3 ViT layers. FlopCounterMode costs
    ~0.5 ms per operator on meta, so the sweep over every model runs shallow; the full-depth
    test checks the layer multiplication."""
    upd: dict = {"llm": spec.llm.model_copy(update={"num_layers": 2})}
    if spec.vision:
        upd["vision"] = spec.vision.model_copy(update={"num_layers": 3})
    return spec.model_copy(update=upd)


@pytest.mark.parametrize("spec", ALL)
def test_param_counts_equal_spec(spec):
    spec = _spec(spec)
    assert build(spec, "meta").param_counts() == spec.param_counts()


def test_flops_full_depth_equal_flop_counter():
    """Full depth (32 LLM + 23 ViT layers): the per-layer counts times the layer count."""
    spec = LLAVA15_7B
    tokens = 144 if spec.is_vlm else 100
    got = torch_matmul_flops(spec, batch=1, visual_tokens=tokens, text_tokens=8)
    eager = analytical_matmul_flops(spec, 1, tokens, 8, flash=False)
    assert got == eager
    assert all(v > 0 for k, v in got.items() if spec.is_vlm or k in ("prefill", "decode"))
    # costmodel's FlashAttention count skips the causal triangle; the named term restores it.
    flash = analytical_matmul_flops(spec, 1, tokens, 8, flash=True)
    skipped = causal_skipped_flops(spec, 1, tokens + 8)
    assert skipped > 0
    assert flash["prefill"] + skipped == got["prefill"]
    assert {k: flash[k] for k in ("vision", "projector", "decode")} == \
        {k: got[k] for k in ("vision", "projector", "decode")}


@pytest.mark.parametrize("spec", ALL)
@pytest.mark.parametrize("tokens,batch,step", [(4, 2, 0), (577, 1, 2), (2880, 3, 1)])
def test_flops_token_sweep_equal_flop_counter(spec, tokens, batch, step):
    spec = _shallow(_spec(spec))
    got = torch_matmul_flops(spec, batch, tokens, text_tokens=5, step=step)
    assert got == analytical_matmul_flops(spec, batch, tokens, 5, flash=False, step=step)
    flash = analytical_matmul_flops(spec, batch, tokens, 5, flash=True, step=step)
    assert flash["prefill"] + causal_skipped_flops(spec, batch, tokens + 5) == got["prefill"]


def test_flop_counter_ignores_causal_mask():
    """The convention the causal term accounts for: is_causal does not change torch's count."""
    q = torch.empty(1, 4, 32, 16, device="meta")

    def count(causal: bool) -> int:
        with FlopCounterMode(display=False) as fc:
            F.scaled_dot_product_attention(q, q, q, is_causal=causal)
        return fc.get_total_flops()

    assert count(True) == count(False) == 2 * 2 * 4 * 32 * 32 * 16


def test_kv_cache_bytes_equal_allocated(gpu):
    spec, steps, batch, text = tiny_spec(), 5, 2, 7
    for dtype, name in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):
        model = build(spec, "cpu", dtype)
        prompt = 64 + text
        cache = model.llm.new_cache(batch, prompt + steps)
        with torch.no_grad():
            vis = torch.randn(batch, 64, 128, dtype=dtype)
            model.llm.prefill(torch.zeros(batch, text, dtype=torch.long), cache, vis)
            for j in range(steps):
                model.llm.decode(torch.ones(batch, 1, dtype=torch.long), cache, prompt + j)
        assert cache.length == cache.capacity == prompt + steps
        assert bool(cache.k[-1][:, :, -1].abs().sum() > 0)  # the last slot was written
        est = estimate(spec, gpu, batch=batch, visual_tokens=64, text_tokens=text,
                       output_tokens=steps + 1, act_dtype=name)
        assert cache.nbytes == est.memory.kv_cache_bytes


def test_decode_with_cache_matches_full_prefill():
    """The KV cache is used correctly: prefill(prompt) + decode(t) == prefill(prompt + t)."""
    spec = tiny_spec()
    model = build(spec, "cpu", torch.float64)
    ids = torch.randint(0, spec.llm.vocab_size, (2, 9))
    with torch.no_grad():
        c1 = model.llm.new_cache(2, 9)
        model.llm.prefill(ids[:, :8], c1)
        step = model.llm.decode(ids[:, 8:], c1, 8)
        full = model.llm.prefill(ids, model.llm.new_cache(2, 9))
    torch.testing.assert_close(step, full, rtol=1e-9, atol=1e-9)
    assert step.shape == (2, 1, spec.llm.vocab_size)


def test_vlm_pipeline_runs_on_cpu():
    spec = tiny_spec()
    model = build(spec, "cpu")
    with torch.no_grad():
        feats = model.vision(torch.randn(3, 64, spec.vision.patch_input_dim))
        vis = model.projector(feats)
    assert feats.shape == (3, 64, 64) and vis.shape == (3, 64, 128)
    assert torch.isfinite(vis).all()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_profile_cuda_graph_decode():
    from costmodel.reference.timing import profile

    rows = profile(tiny_spec(), "cuda", "bf16", [64], [1], text_tokens=8, warmup=2, repeats=5)
    assert {(r.stage, r.mode) for r in rows} == {("prefill", "eager"), ("decode", "eager"),
                                                 ("decode", "cuda_graph")}
    assert all(r.median_s > 0 for r in rows)
