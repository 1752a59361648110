"""Llama-3.2-Vision: costmodel's matmul FLOPs per stage equal torch's FlopCounterMode on the real
transformers classes (MllamaForConditionalGeneration, eager attention) built from a shrunken
config of the family and run on CPU with real tensors.

Conventions: both count 2 x MAC of matrix products only; eager attention computes the full
q x k rectangle (costmodel's flash=False count; a causal FlashAttention count differs by
core/ops.py's masked triangle). No other difference: the vision mask's outer product
([T*S, 1] @ [1, T*S] per image) is a matmul transformers executes and costmodel counts.
"""

from __future__ import annotations

import json
from importlib.resources import files

import numpy as np
import pytest

from costmodel.core.cross_attention import decode_ops, stage_ops
from costmodel.core.inputs import Points, Precision
from costmodel.core.visual_tokens import plan_images
from costmodel.loading.from_config import spec_from_config

torch = pytest.importorskip("torch")
UNIT = Precision(weight_bytes_per_element=1.0, act_bytes_per_element=1.0, kv_bytes_per_element=1.0)
BATCH, TEXT = 2, 11


def _cfg() -> dict:
    cfg = json.loads((files("costmodel") / "zoo_configs" / "llama-3.2-11b-vision.json").read_text())
    cfg["text_config"].update(hidden_size=64, intermediate_size=96, num_hidden_layers=5,
                              num_attention_heads=4, num_key_value_heads=2, vocab_size=300,
                              cross_attention_layers=[1, 4], bos_token_id=1, eos_token_id=2,
                              pad_token_id=0)
    cfg["vision_config"].update(hidden_size=32, intermediate_size=48, num_hidden_layers=4,
                                num_global_layers=2, attention_heads=4, image_size=28,
                                patch_size=7, intermediate_layers_indices=[0, 2],
                                vision_output_dim=96)
    return cfg


def _count(fn) -> int:
    from torch.utils.flop_counter import FlopCounterMode
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        out = fn()
    _count.out = out  # type: ignore[attr-defined]
    return int(fc.get_total_flops())


@pytest.fixture(scope="module")
def torch_flops() -> dict[str, int]:
    from transformers import MllamaConfig, MllamaForConditionalGeneration

    cfg = _cfg()
    conf = MllamaConfig(**{k: v for k, v in cfg.items() if k != "architectures"})
    torch.manual_seed(0)
    m = MllamaForConditionalGeneration._from_config(conf, attn_implementation="eager").eval()
    t, side = conf.vision_config.max_num_tiles, conf.vision_config.image_size
    pix = torch.randn(BATCH, 1, t, 3, side, side)
    ids = torch.ones(BATCH, 1, dtype=torch.long)
    mask = torch.ones(BATCH, 1, t, dtype=torch.long)
    f = {"vision": _count(lambda: m.model.vision_model(pix, ids, mask).last_hidden_state)}
    feats = _count.out  # type: ignore[attr-defined]
    f["projector"] = _count(lambda: m.model.multi_modal_projector(feats))
    xs = _count.out.reshape(BATCH, -1, conf.text_config.hidden_size)  # type: ignore[attr-defined]
    text = torch.randint(3, 300, (BATCH, TEXT))
    f["prefill"] = _count(lambda: m(input_ids=text, cross_attention_states=xs, use_cache=True,
                                    logits_to_keep=1))
    cache = _count.out.past_key_values  # type: ignore[attr-defined]
    f["decode"] = _count(lambda: m(input_ids=text[:, :1], past_key_values=cache, use_cache=True,
                                   logits_to_keep=1))
    return f


def _ours() -> dict[str, int]:
    spec = spec_from_config(_cfg(), "tiny")
    plan = plan_images(spec, 1, 640, 480)

    def a(x: float) -> np.ndarray:
        return np.asarray([float(x)])

    pts = Points(batch=a(BATCH), crops=a(plan.crops), seq_per_crop=a(plan.seq_per_crop),
                 projector_rows=a(plan.projector_rows), visual=a(plan.llm_tokens), text=a(TEXT),
                 output=a(2), visual_in_prompt=False)
    ops = stage_ops(spec, pts, UNIT, flash=False, all_logits=False)
    ops["decode"] = decode_ops(spec, pts, 0.0, UNIT, flash=False)
    return {s: int(round(sum(float(o.matmul_flops[0]) * o.count for o in v))) for s, v in ops.items()}


@pytest.mark.parametrize("stage", ["vision", "projector", "prefill", "decode"])
def test_matmul_flops_equal_flopcounter(torch_flops, stage):
    assert _ours()[stage] == torch_flops[stage]
