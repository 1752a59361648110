"""Qwen3-VL-MoE against transformers' own class (5.23, Qwen3VLMoeForConditionalGeneration):
parameters on the meta device, matmul FLOPs under FlopCounterMode on a shrunken config.

Parameters: the zoo config.json, the config class's defaults (only the fields the model
cannot run without given) and a re-saved layout naming the experts `num_local_experts`.
FLOPs: a shrunken config of the zoo file (3 decoder layers, 8 experts, top-3; a 4-layer ViT
with two DeepStack layers) run on CPU with real tensors, eager attention and eager experts
(`Qwen3VLMoeTextExperts.forward` loops over the experts hit, each over exactly its routed
rows, so the expert GEMMs execute tokens x k rows whatever the routing: costmodel's count).
Vision tower + mergers, prefill (the forward minus the visual part, last-token logits) and
one decode step equal costmodel's eager-attention count (flash=False) exactly; its
FlashAttention count differs in prefill only, by the masked causal triangle
(`causal_skipped_flops`, a closed form). The router softmax / top-k, the rotary tables, the
interpolated position table and the DeepStack adds are elementwise (uncounted by torch;
vector FLOPs in costmodel).
"""

from __future__ import annotations

import copy
import functools

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers", minversion="5.23")


from costmodel.loading.from_config import spec_from_config  # noqa: E402
from costmodel.reference.crosscheck import causal_skipped_flops  # noqa: E402
from tests.flops import qwen_vl_costmodel_counts, qwen_vl_torch_counts  # noqa: E402
from tests.helpers import zoo_config  # noqa: E402

IDS = dict(image_token_id=990, video_token_id=991, vision_start_token_id=992,
           vision_end_token_id=993)


def _zoo() -> dict:
    return zoo_config("qwen3-vl-30b-a3b")


def _meta_params(cfg: dict) -> tuple[int, int]:
    """(all parameters, vision tower + mergers) of the real class built on meta."""
    conf = transformers.Qwen3VLMoeConfig.from_dict(copy.deepcopy(cfg))
    with torch.device("meta"):
        model = transformers.Qwen3VLMoeForConditionalGeneration(conf)
    return (sum(p.numel() for p in model.parameters()),
            sum(p.numel() for p in model.model.visual.parameters()))


def _defaults_only() -> dict:
    # Qwen3VLMoeVisionConfig's out_hidden_size default (3584) is not the text default hidden
    # (2048), which no model can run: that one field is given.
    return {"model_type": "qwen3_vl_moe", "vision_config": {"out_hidden_size": 2048}}


def _local_experts() -> dict:
    cfg = _zoo()
    cfg["text_config"]["num_local_experts"] = cfg["text_config"].pop("num_experts")
    return cfg


@pytest.mark.parametrize("make", [_zoo, _defaults_only, _local_experts])
def test_param_counts_equal_transformers_on_meta(make):
    total, visual = _meta_params(make())
    counts = spec_from_config(make()).param_counts()
    assert (counts["total"], counts["vision"] + counts["projector"]) == (total, visual)


def test_active_params_closed_form():
    # active = total - 48 layers x (128 - 8) experts x 3 x 2048 x 768 (the experts a token skips)
    counts = spec_from_config(_zoo()).param_counts()
    assert counts["total"] - counts["active"] == 48 * 120 * 3 * 2048 * 768


def _small() -> dict:
    c = _zoo()
    c.update(**IDS)
    c["text_config"].update(hidden_size=128, intermediate_size=256, moe_intermediate_size=48,
                            num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
                            head_dim=32, vocab_size=1000, num_experts=8, num_experts_per_tok=3)
    c["text_config"]["rope_scaling"]["mrope_section"] = [6, 5, 5]
    c["vision_config"].update(depth=4, hidden_size=64, intermediate_size=96, num_heads=4,
                              out_hidden_size=128, num_position_embeddings=64,
                              deepstack_visual_indexes=[0, 2])
    return c


@functools.cache
def _small_model() -> object:
    config = transformers.Qwen3VLMoeConfig.from_dict(_small())
    for c in (config, config.text_config, config.vision_config):
        c._attn_implementation = "eager"
        c._experts_implementation = "eager"
    torch.manual_seed(0)
    return transformers.Qwen3VLMoeForConditionalGeneration(config).float().eval()


def _torch_counts(h: int, w: int) -> tuple[dict[str, int], int]:
    """FlopCounterMode per stage of the real class built from _small(): (counts, text tokens
    in the prompt)."""
    return qwen_vl_torch_counts(_small_model(), _small()["vision_config"]["hidden_size"], h, w)


@pytest.mark.parametrize("grid", [(8, 8), (20, 12)])
def test_stage_flops_equal_flop_counter(grid):
    cfg = _small()
    got, text = _torch_counts(*grid)
    assert all(v > 0 for v in got.values())
    assert qwen_vl_costmodel_counts(cfg, *grid, text, flash=False) == got
    flash = qwen_vl_costmodel_counts(cfg, *grid, text, flash=True)
    spec = spec_from_config(copy.deepcopy(cfg), "small")
    skipped = causal_skipped_flops(spec, 1, grid[0] * grid[1] // 4 + text)
    assert flash["prefill"] + skipped == got["prefill"]
    assert {k: flash[k] for k in ("vision", "projector", "decode")} == \
        {k: got[k] for k in ("vision", "projector", "decode")}

