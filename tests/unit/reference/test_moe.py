"""Mixture-of-experts models against transformers' own classes (5.23): parameters of the zoo
configs and of shrunken Mixtral / Qwen3-MoE / Qwen2-MoE configs built on the meta device, and
matmul FLOPs of prefill and one decode step under FlopCounterMode on the shrunken configs run
on CPU.

Routing is not forced: transformers' eager experts (MixtralExperts / Qwen3MoeExperts.forward)
loop over the experts hit and run each over exactly the rows routed to it, so the executed
FLOPs are (routed rows = tokens x k) x the three expert GEMMs whatever the routing, which is
costmodel's count. Attention runs eager (the full q x k rectangle: costmodel's flash=False
count) and logits are kept for the last position only (logits_to_keep=1), as costmodel counts.
"""

from __future__ import annotations

import functools
import json

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from costmodel.loading.from_config import spec_from_config  # noqa: E402
from costmodel.reference.crosscheck import analytical_matmul_flops  # noqa: E402
from tests.helpers import ROOT  # noqa: E402

CLASSES = {"mixtral": ("MixtralConfig", "MixtralForCausalLM"),
           "qwen3_moe": ("Qwen3MoeConfig", "Qwen3MoeForCausalLM"),
           "qwen2_moe": ("Qwen2MoeConfig", "Qwen2MoeForCausalLM")}
# Shrunken configs of each family (every MoE field set; Qwen3: head_dim != hidden / heads).
SMALL = {
    "mixtral": dict(model_type="mixtral", architectures=["MixtralForCausalLM"], hidden_size=64,
                    intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2,
                    vocab_size=128, max_position_embeddings=256),
    "qwen3_moe": dict(model_type="qwen3_moe", architectures=["Qwen3MoeForCausalLM"],
                      hidden_size=64, intermediate_size=96, moe_intermediate_size=48, head_dim=32,
                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      num_experts=8, num_experts_per_tok=3, norm_topk_prob=True, vocab_size=128,
                      max_position_embeddings=256),
    # Qwen2-MoE: q/k/v biases (Qwen2MoeConfig.qkv_bias default) and a gated shared expert.
    "qwen2_moe": dict(model_type="qwen2_moe", architectures=["Qwen2MoeForCausalLM"],
                      hidden_size=64, intermediate_size=96, moe_intermediate_size=40,
                      shared_expert_intermediate_size=80, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, num_experts=6,
                      num_experts_per_tok=2, vocab_size=128, max_position_embeddings=256),
}


@functools.cache
def _cpu_model(kind: str) -> object:
    torch.manual_seed(0)
    return _hf(SMALL[kind], "cpu")


def _hf(cfg: dict, device: str) -> object:
    conf_cls, model_cls = (getattr(transformers, n) for n in CLASSES[cfg["model_type"]])
    conf = conf_cls(**cfg, attn_implementation="eager", experts_implementation="eager")
    with torch.device(device):
        return model_cls(conf).eval()


@pytest.mark.parametrize("mid", ["mixtral-8x7b", "qwen3-30b-a3b"])
def test_param_counts_equal_transformers_meta(mid):
    cfg = json.loads((ROOT / "costmodel" / "zoo_configs" / f"{mid}.json").read_text())
    model = _hf(cfg, "meta")
    assert sum(p.numel() for p in model.parameters()) == spec_from_config(cfg).param_counts()["total"]


@pytest.mark.parametrize("kind", sorted(SMALL))
def test_shrunken_param_counts_equal_transformers(kind):
    spec = spec_from_config(SMALL[kind])
    model = _hf(SMALL[kind], "meta")
    assert sum(p.numel() for p in model.parameters()) == spec.param_counts()["total"]


def _count(fn: object) -> tuple[int, object]:
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        out = fn()  # type: ignore[operator]
    return int(fc.get_total_flops()), out


@pytest.mark.parametrize("kind", sorted(SMALL))
@pytest.mark.parametrize(("batch", "prompt"), [(1, 1), (3, 17)])
def test_matmul_flops_equal_flop_counter(kind, batch, prompt):
    model, spec = _cpu_model(kind), spec_from_config(SMALL[kind])
    ids = torch.randint(0, 128, (batch, prompt))
    pre, out = _count(lambda: model(input_ids=ids, use_cache=True, logits_to_keep=1))
    dec, _ = _count(lambda: model(input_ids=ids[:, :1], past_key_values=out.past_key_values,
                                  use_cache=True, logits_to_keep=1))
    want = analytical_matmul_flops(spec, batch, 0, prompt, flash=False, step=0)
    assert (pre, dec) == (want["prefill"], want["decode"])
