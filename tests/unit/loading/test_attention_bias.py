"""`attention_bias: true` is honoured where transformers reads it as LlamaAttention does: a bias
on q_proj, k_proj, v_proj and o_proj (LlamaAttention, Gemma3Attention, Qwen3MoeAttention,
Qwen3VLTextAttention, Qwen3VLMoeTextAttention: bias=config.attention_bias on all four), and
ignored where transformers ignores it (Qwen2, Mistral, Mixtral: tests/unit/loading/
test_config_types.py). Hand counts: each layer gains q_dim + 2 kv_dim + hidden parameters;
each prefill row one bias add per output element of q, k, v and o (vector FLOPs, no matmul)."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.core.inputs import Precision
from costmodel.core.stages import stage_ops
from costmodel.core.visual_tokens import plan_tokens
from costmodel.loading.from_config import spec_from_config
from costmodel.reference.crosscheck import points
from tests.helpers import zoo_config

BF16 = Precision(weight_bytes_per_element=2.0, act_bytes_per_element=2.0, kv_bytes_per_element=2.0)


def _biased(mid: str, where: str | None) -> dict:
    cfg = zoo_config(mid)
    (cfg if where is None else cfg[where])["attention_bias"] = True
    return cfg


# (zoo id, section holding the text fields, layers x (q_dim + 2 kv_dim + hidden) by hand)
CASES = [
    ("llama-3-8b", None, 32 * (4096 + 2 * 1024 + 4096)),  # 327,680
    ("llava-1.5-7b", "text_config", 32 * (4096 + 2 * 4096 + 4096)),  # Llama-2 MHA: 524,288
    ("smolvlm-500m", "text_config", 32 * (960 + 2 * 320 + 960)),  # Idefics3's LlamaModel
    ("qwen3-30b-a3b", None, 48 * (4096 + 2 * 512 + 2048)),  # head_dim 128 x 32 heads
    ("qwen3-vl-8b", "text_config", 36 * (4096 + 2 * 1024 + 4096)),
    ("qwen3-vl-30b-a3b", "text_config", 48 * (4096 + 2 * 512 + 2048)),
    ("gemma-3-4b", "text_config", 34 * (2048 + 2 * 1024 + 2560)),  # head_dim 256 x 8 heads
]


@pytest.mark.parametrize(("mid", "where", "extra"), CASES)
def test_biases_on_q_k_v_and_o_by_hand(mid, where, extra):
    base = spec_from_config(zoo_config(mid))
    spec = spec_from_config(_biased(mid, where))
    assert spec.llm.qkv_bias and spec.llm.o_bias and not base.llm.o_bias
    got, want = spec.param_counts(), base.param_counts()
    assert got["llm"] - want["llm"] == extra
    assert got["total"] - want["total"] == extra


def test_llama_3_8b_total():
    # 8,030,261,248 (SOURCES.md) + 32 x 10,240
    assert spec_from_config(_biased("llama-3-8b", None)).param_counts()["total"] == 8_030_588_928


def _prefill(spec, text: int) -> dict[str, object]:
    pts = points(plan_tokens(spec, 0), 1, text)
    return {o.name: o for o in stage_ops(spec, pts, BF16, True)["prefill"]}


def test_bias_adds_are_vector_flops_and_weight_bytes():
    base = spec_from_config(zoo_config("llama-3-8b"))
    spec = spec_from_config(_biased("llama-3-8b", None))
    ops, plain = _prefill(spec, 10), _prefill(base, 10)
    o, o0 = ops["llm/L0-31/attn/o"], plain["llm/L0-31/attn/o"]
    assert o.vector_flops[0] == 10 * 4096 and o0.vector_flops[0] == 0
    assert o.weight_bytes[0] == (4096 * 4096 + 4096) * 2
    assert o.matmul_flops[0] == o0.matmul_flops[0] == 2 * 10 * 4096 * 4096
    for name, width in (("q", 4096), ("k", 1024), ("v", 1024)):
        op = ops[f"llm/L0-31/attn/{name}"]
        assert op.vector_flops[0] == 10 * width
        assert op.weight_bytes[0] == (4096 * width + width) * 2


def test_prefill_totals_differ_by_the_bias_adds_only():
    base = spec_from_config(zoo_config("llama-3-8b"))
    spec = spec_from_config(_biased("llama-3-8b", None))

    def total(s, field):
        return sum(float(np.ravel(getattr(o, field))[0]) * o.count for o in _prefill(s, 10).values())

    assert total(spec, "matmul_flops") == total(base, "matmul_flops")
    assert total(spec, "vector_flops") - total(base, "vector_flops") == 32 * 10 * 10240
    assert total(spec, "weight_bytes") - total(base, "weight_bytes") == 32 * 10240 * 2


@pytest.mark.parametrize(("mid", "where"), [
    ("qwen2-vl-7b", None),  # Qwen2Attention: q/k/v biases, none on o_proj
    ("mixtral-8x7b", None),  # MixtralAttention: none
    ("internvl3-2b", "text_config"),  # a Qwen2 decoder
])
def test_no_o_bias_where_transformers_has_none(mid, where):
    assert not spec_from_config(_biased(mid, where)).llm.o_bias


def test_qwen2_moe_qkv_bias_has_no_o_bias():
    m = spec_from_config({"model_type": "qwen2_moe", "num_hidden_layers": 2}).llm
    assert m.qkv_bias and not m.o_bias  # Qwen2MoeAttention: o_proj bias=False
