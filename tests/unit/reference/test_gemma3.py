"""Gemma 3 against transformers' own classes (5.23.0): parameters of
Gemma3ForConditionalGeneration on the meta device from the zoo config.json, and matmul FLOPs
of vision, projector, prefill and decode steps of a shrunken Gemma 3 (same family, CPU,
eager attention) under FlopCounterMode; and Mistral / Qwen2 sliding windows against theirs.

Convention (named, exact): transformers' eager path computes the full q x k score matrix in
every layer and masks it (the causal triangle, and in sliding layers the keys more than W - 1
back too); that is costmodel's eager count (flash=False). costmodel's FlashAttention count is
what a windowed kernel executes; the difference is causal_skipped_flops. In decode a sliding
layer's cache returns min(context, W) keys in both.
"""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402
from transformers import Gemma3Config, Gemma3ForConditionalGeneration  # noqa: E402

from costmodel.loading.from_config import spec_from_config  # noqa: E402
from costmodel.loading.load import load_model  # noqa: E402
from costmodel.reference.crosscheck import (  # noqa: E402
    analytical_matmul_flops,
    causal_skipped_flops,
)
from tests.helpers import ROOT  # noqa: E402

TINY = {
    "architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3",
    "mm_tokens_per_image": 4, "boi_token_index": 90, "eoi_token_index": 91,
    "image_token_index": 92,
    "text_config": {"model_type": "gemma3_text", "hidden_size": 64, "intermediate_size": 96,
                    "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
                    "head_dim": 32, "vocab_size": 100, "sliding_window": 6,
                    "sliding_window_pattern": 3},
    "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 48,
                      "intermediate_size": 80, "num_hidden_layers": 2, "num_attention_heads": 4,
                      "image_size": 56, "patch_size": 14, "vision_use_head": False},
}


def _count(fn) -> int:
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        fn()
    return int(fc.get_total_flops())


@pytest.mark.parametrize("mid", ["gemma-3-4b"])  # 12B: the published total, test_zoo
def test_params_equal_transformers_on_meta(mid):
    cfg = Gemma3Config.from_dict(json.loads((ROOT / "costmodel/zoo_configs" / f"{mid}.json")
                                            .read_text()))
    with torch.device("meta"):
        m = Gemma3ForConditionalGeneration(cfg)
    n = {k: sum(p.numel() for p in getattr(m.model, k).parameters())
         for k in ("vision_tower", "multi_modal_projector", "language_model")}
    got = load_model(mid).param_counts()
    assert (got["vision"], got["projector"], got["llm"]) == \
        (n["vision_tower"], n["multi_modal_projector"], n["language_model"])
    assert got["total"] == sum(p.numel() for p in m.parameters())  # lm_head tied


def test_tiny_spec_shape():
    s = spec_from_config(TINY)
    assert s.llm.layer_types == ("sliding", "sliding", "full", "sliding")
    assert s.projector.merge_size == 2 and s.llm.sliding_window == 6


@pytest.mark.parametrize("text,steps", [(1, 3), (20, 2)])
def test_flops_equal_transformers(text, steps):
    """One image (4 tokens) + `text` text tokens, then `steps` decode steps one by one: a
    prompt of 5 inside the window 6 whose decode crosses it, and a prompt of 24 beyond it."""
    spec = spec_from_config(TINY)
    cfg = Gemma3Config.from_dict(TINY)
    cfg._attn_implementation = "eager"
    cfg.text_config._attn_implementation = "eager"
    cfg.vision_config._attn_implementation = "eager"
    torch.manual_seed(0)
    model = Gemma3ForConditionalGeneration(cfg).eval()
    pix = torch.randn(1, 3, 56, 56)
    vis = _count(lambda: model.model.vision_tower(pixel_values=pix))
    feats = model.model.vision_tower(pixel_values=pix).last_hidden_state
    proj = _count(lambda: model.model.multi_modal_projector(feats))
    ids = torch.full((1, 4 + text), 5)
    ids[0, :4] = 92  # image soft tokens first, as plan_tokens puts them
    box = {}

    def prefill():
        box["out"] = model(input_ids=ids, pixel_values=pix, use_cache=True)

    both = _count(prefill)  # vision + projector + LLM prefill (all logits)
    assert vis > 0 and proj > 0
    expect = analytical_matmul_flops(spec, 1, 4, text, flash=False)
    assert (vis, proj) == (expect["vision"], expect["projector"])
    prompt = 4 + text
    lm_all = 2 * prompt * spec.llm.hidden_size * spec.llm.vocab_size  # logits of every token
    lm_last = 2 * spec.llm.hidden_size * spec.llm.vocab_size
    assert both - vis - proj == expect["prefill"] - lm_last + lm_all
    flash = analytical_matmul_flops(spec, 1, 4, text, flash=True)
    assert flash["prefill"] + causal_skipped_flops(spec, 1, prompt) == expect["prefill"]
    cache = box["out"].past_key_values
    tok = torch.full((1, 1), 7)
    for j in range(steps):
        got = _count(lambda: model(input_ids=tok, past_key_values=cache, use_cache=True))
        assert got == analytical_matmul_flops(spec, 1, 4, text, flash=False, step=j)["decode"]
        assert got == analytical_matmul_flops(spec, 1, 4, text, flash=True, step=j)["decode"]


@pytest.mark.parametrize("kind,extra", [
    ("mistral", {"sliding_window": 6}),
    ("qwen2", {"sliding_window": 6, "use_sliding_window": True, "max_window_layers": 1}),
])
def test_llama_family_windows_equal_transformers(kind, extra):
    """Mistral (every layer) and Qwen2 (layers >= max_window_layers) windows: prefill of 5
    tokens, then decode steps across the window, against transformers' classes (eager)."""
    cfg = {"model_type": kind, "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
           "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100,
           "hidden_act": "silu", "tie_word_embeddings": False, **extra}
    spec = spec_from_config(cfg)
    assert "sliding" in spec.llm.layer_types
    hf = transformers.AutoConfig.for_model(**cfg)
    hf._attn_implementation = "eager"
    model = transformers.AutoModelForCausalLM.from_config(hf).eval()
    box = {}

    def prefill():
        box["out"] = model(input_ids=torch.full((1, 5), 3), use_cache=True, logits_to_keep=1)

    assert _count(prefill) == analytical_matmul_flops(spec, 1, 0, 5)["prefill"]
    cache = box["out"].past_key_values
    for j in range(4):
        got = _count(lambda: model(input_ids=torch.full((1, 1), 7), past_key_values=cache))
        assert got == analytical_matmul_flops(spec, 1, 0, 5, step=j)["decode"]
