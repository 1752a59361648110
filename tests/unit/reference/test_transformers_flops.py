"""Matmul FLOPs of vision, projector, prefill and one decode step against FlopCounterMode on the
REAL transformers classes (not costmodel's own torch reference), one shrunken config per family.

Each family's config is the zoo's own config.json (or, for mistral and qwen2, which have no zoo
model, a config of that model_type; llava_full and llama_bias: a zoo config with
vision_feature_select_strategy "full" / attention_bias true) with its sizes shrunk (2-3
layers, hidden 32-64, vocab 512;
anyres pinpoints scaled with the image size). costmodel reads it with its loader
(`spec_from_config`); transformers builds `architectures[0]` from the same dict with eager
attention (SDPA on CPU runs a fused kernel FlopCounterMode does not count) and runs it on CPU
with real tensors: one image plus text through the full forward (prefill, with vision and
projector inside), then one decode step with the KV cache. The stages are read from
FlopCounterMode's per-module totals: vision = the vision tower (Qwen2-VL: `visual` less its
`merger`), projector = multi_modal_projector (Qwen2-VL: `visual.merger`), prefill = the rest.

Conventions that differ, as closed forms (no tolerance):
- causal masking: transformers' eager attention multiplies the full q x k rectangle, as
  costmodel's `flash=False` count does; costmodel's default FlashAttention count skips the
  masked triangle, `causal_skipped_flops` (costmodel/reference/crosscheck.py).
- unused vision layers: LLaVA's vision_feature_layer -2 makes transformers run every CLIP layer
  (`get_image_features` asks for all hidden states and takes [-2]); costmodel counts the layers
  the feature needs (`VisionSpec.executed_layers`). The difference is the skipped layers'
  matmuls: crops x (L - executed) x (8 P d^2 + 4 P d i + 4 P^2 d), P = positions per crop
  (patches + CLS), d = width, i = MLP width (q, k, v, o; fc1, fc2; QK^T, PV; 2 FLOPs per MAC).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from costmodel.core.inputs import Precision  # noqa: E402
from costmodel.core.stages import decode_ops, stage_ops  # noqa: E402
from costmodel.core.visual_tokens import plan_images, smart_resize  # noqa: E402
from costmodel.loading.from_config import spec_from_config  # noqa: E402
from costmodel.loading.load import _PKG  # noqa: E402
from costmodel.reference.crosscheck import causal_skipped_flops, points  # noqa: E402
from costmodel.specs.model import ModelSpec  # noqa: E402
from costmodel.specs.workload import VisualPlan  # noqa: E402
from tests.helpers import zoo_config  # noqa: E402

VOCAB, IMG, START, END = 512, 500, 501, 502  # shrunk vocabulary and special token ids
TEXT = dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, vocab_size=VOCAB, bos_token_id=1, eos_token_id=2)
VIT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2)
# family: (zoo config or a config dict, vision image side after shrinking, image W x H)
FAMILIES: dict[str, tuple[Any, int, tuple[int, int]]] = {
    "llava": ("llava-1.5-7b", 28, (50, 30)),
    "llava_next": ("llava-next-vicuna-7b", 28, (70, 40)),
    "llava_onevision": ("llava-onevision-0.5b", 42, (250, 120)),
    "qwen2_vl": ("qwen2-vl-7b", 0, (90, 60)),
    "llama": ("llama-3-8b", 0, (0, 0)),
    "mistral": ({"architectures": ["MistralForCausalLM"], "model_type": "mistral",
                 "sliding_window": None, "head_dim": 16}, 0, (0, 0)),
    "qwen2": ({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
               "use_sliding_window": False, "tie_word_embeddings": True}, 0, (0, 0)),
    # vision_feature_select_strategy "full": the CLS row is a projector row and a visual token
    # (LlavaModel.get_image_features); Llama attention_bias: q, k, v and o biases
    "llava_full": ({**zoo_config("llava-1.5-7b"), "vision_feature_select_strategy": "full"},
                   28, (50, 30)),
    "llama_bias": ({**zoo_config("llama-3-8b"), "attention_bias": True}, 0, (0, 0)),
}
UNIT = Precision(weight_bytes_per_element=1.0, act_bytes_per_element=1.0, kv_bytes_per_element=1.0)


def shrunk_config(family: str) -> dict[str, Any]:
    src, side, _ = FAMILIES[family]
    cfg = copy.deepcopy(src) if isinstance(src, dict) else json.loads(
        (_PKG / "zoo_configs" / f"{src}.json").read_text(encoding="utf-8"))
    text = cfg.setdefault("text_config", {}) if "llava" in family else cfg
    text.update(TEXT)
    if "vocab_size" in cfg:
        cfg["vocab_size"] = VOCAB
    if family == "qwen2_vl":
        cfg.update(image_token_id=IMG, vision_start_token_id=START, vision_end_token_id=END,
                   video_token_id=503, vision_token_id=504,
                   rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]})  # head_dim 16 / 2
        cfg["vision_config"].update(depth=2, embed_dim=32, num_heads=2, mlp_ratio=2, hidden_size=64)
    elif "llava" in family:
        cfg["image_token_index"] = IMG
        vc = cfg["vision_config"]
        old = vc.get("image_size", 224)
        vc.update(VIT, image_size=side)
        if "image_grid_pinpoints" in cfg:  # multiples of the encoder's side: scale exactly
            cfg["image_grid_pinpoints"] = [[a * side // old, b * side // old]
                                           for a, b in cfg["image_grid_pinpoints"]]
    return cfg


def build(cfg: dict[str, Any]) -> Any:
    config = transformers.AutoConfig.for_model(
        cfg["model_type"], **{k: v for k, v in cfg.items() if k != "model_type"})
    cls = getattr(transformers, cfg["architectures"][0])
    torch.manual_seed(0)
    return cls._from_config(config, attn_implementation="eager").eval()


def hf_inputs(family: str, spec: ModelSpec, plan: VisualPlan, size: tuple[int, int]) -> dict[str, Any]:
    """input_ids with the image's placeholder tokens (as many as costmodel's plan says: the
    model refuses a count that differs from its features) and the pixel tensors."""
    n = int(plan.llm_tokens)
    if family == "qwen2_vl":
        ids = [3, 4, START] + [IMG] * n + [END, 5, 6]
    else:
        ids = [3, 4] + [IMG] * n + [5, 6, 7]
    out: dict[str, Any] = {"input_ids": torch.tensor([ids])}
    if spec.vision is None:
        return out
    v, (w, h) = spec.vision, size
    if family == "qwen2_vl":
        rw, rh = smart_resize(w, h, 28, spec.token_scheme.min_pixels, spec.token_scheme.max_pixels)
        gh, gw = rh // v.patch_size, rw // v.patch_size
        out["pixel_values"] = torch.randn(gh * gw, v.patch_input_dim)
        out["image_grid_thw"] = torch.tensor([[1, gh, gw]])
        out["mm_token_type_ids"] = (out["input_ids"] == IMG).long()  # 1 = image (the processor's)
    elif family in ("llava", "llava_full"):
        out["pixel_values"] = torch.randn(1, 3, v.image_size, v.image_size)
    else:
        out["pixel_values"] = torch.randn(1, int(plan.crops), 3, v.image_size, v.image_size)
        out["image_sizes"] = torch.tensor([[h, w]])
    return out


def _by_module(fc: FlopCounterMode) -> dict[str, int]:
    return {k: int(sum(v.values())) for k, v in fc.get_flop_counts().items()}


def transformers_flops(family: str, model: Any, inputs: dict[str, Any]) -> dict[str, int]:
    """FlopCounterMode per stage: full forward (vision, projector, prefill), then one decode step."""
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        out = model(**inputs, use_cache=True, logits_to_keep=1)
    counts, root = _by_module(fc), type(model).__name__
    if family == "qwen2_vl":
        proj = counts.get(f"{root}.model.visual.merger", 0)
        vision = counts.get(f"{root}.model.visual", 0) - proj
    else:
        proj = counts.get(f"{root}.model.multi_modal_projector", 0)
        vision = counts.get(f"{root}.model.vision_tower", 0)
    nxt = torch.tensor([[8]])
    with torch.no_grad(), FlopCounterMode(display=False) as fd:
        model(input_ids=nxt, past_key_values=out.past_key_values, use_cache=True, logits_to_keep=1)
    return {"vision": vision, "projector": proj, "prefill": counts["Global"] - vision - proj,
            "decode": int(fd.get_total_flops())}


def costmodel_flops(spec: ModelSpec, plan: VisualPlan, text: int, flash: bool) -> dict[str, int]:
    pts = points(plan, 1, text)
    ops = stage_ops(spec, pts, UNIT, flash)
    ops["decode"] = decode_ops(spec, pts, 0.0, UNIT, flash)
    return {s: int(round(sum(float(np.ravel(o.matmul_flops)[0]) * o.count for o in v)))
            for s, v in ops.items()}


def unused_vision_layers(spec: ModelSpec, plan: VisualPlan) -> int:
    """Matmul FLOPs of the vision layers transformers runs past the selected feature layer."""
    v = spec.vision
    if v is None or not plan.crops:
        return 0
    p, d, i = int(plan.seq_per_crop), v.hidden_size, v.intermediate_size
    per_layer = 8 * p * d * d + 4 * p * d * i + 4 * p * p * d
    return int(plan.crops) * (v.num_layers - v.executed_layers) * per_layer


@pytest.mark.parametrize("family", list(FAMILIES))
def test_stage_flops_equal_transformers(family):
    cfg = shrunk_config(family)
    spec = spec_from_config(cfg, family)
    size = FAMILIES[family][2]
    plan = plan_images(spec, 1 if spec.vision else 0, *size)
    inputs = hf_inputs(family, spec, plan, size)
    text = inputs["input_ids"].shape[1] - int(plan.llm_tokens)
    got = transformers_flops(family, build(cfg), inputs)
    eager = costmodel_flops(spec, plan, text, flash=False)
    assert got["vision"] == eager["vision"] + unused_vision_layers(spec, plan)
    assert {s: got[s] for s in ("projector", "prefill", "decode")} == \
        {s: eager[s] for s in ("projector", "prefill", "decode")}
    flash = costmodel_flops(spec, plan, text, flash=True)
    prompt = inputs["input_ids"].shape[1]
    assert flash["prefill"] + causal_skipped_flops(spec, 1, prompt) == got["prefill"]
    assert flash["decode"] == got["decode"] and flash["vision"] == eager["vision"]
    if spec.vision is not None:  # the image really went through every stage
        assert min(got["vision"], got["projector"]) > 0
