"""Cross-attention VLMs (Llama-3.2-Vision): hand-computed operator counts, the cross KV cache,
the prompt (text only) and token compression acting on the cross cache."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.analysis.estimate import estimate
from costmodel.core.cross_attention import cross_layer_ops, decode_ops
from costmodel.core.inputs import Points, Precision
from costmodel.core.metrics import kv_cache_bytes
from costmodel.errors import CostmodelError
from costmodel.specs.compression import Compression, CompressionPlan, KVCompression
from costmodel.specs.model import LLMSpec
from costmodel.specs.workload import Workload

UNIT = Precision(weight_bytes_per_element=1.0, act_bytes_per_element=1.0, kv_bytes_per_element=1.0)
# h 8, 2 heads of 4, 1 KV head (kv_dim 4), MLP 16; layer 1 of 3 cross-attends
TINY = LLMSpec(hidden_size=8, num_layers=3, num_heads=2, num_kv_heads=1, intermediate_size=16,
               vocab_size=10, cross_attention_layers=(1,))
MODEL = "llama-3.2-11b-vision"


def a(x: float) -> np.ndarray:
    return np.asarray([float(x)])


def _mm(ops) -> float:
    return sum(float(np.ravel(o.matmul_flops)[0]) * o.count for o in ops)


def _pts(text=3.0, visual=5.0, batch=1.0, output=4.0) -> Points:
    return Points(batch=a(batch), crops=a(1), seq_per_crop=a(0), projector_rows=a(visual),
                  visual=a(visual), text=a(text), output=a(output), visual_in_prompt=False)


def test_prefill_cross_layer_by_hand():
    # q 2*3*8*8 = 384; k, v 2*5*8*4 = 320 each; QK^T and PV 2*4*2*3*5 = 240 each (no mask);
    # o 384; gate, up, down 2*3*8*16 = 768 each
    ops = cross_layer_ops(TINY, "prefill", a(1), a(3), a(5), UNIT, False, 1, True)
    assert _mm(ops) == 384 + 2 * 320 + 2 * 240 + 384 + 3 * 768
    names = {o.name for o in ops}
    assert {"llm/L1/cross/attn/k", "llm/L1/cross/attn/q_norm", "llm/L1/cross/attn/k_norm"} <= names
    k = next(o for o in ops if o.name == "llm/L1/cross/attn/k")
    assert float(k.kv_write_bytes[0]) == 5 * 4  # written to the cross cache (1 byte/elem)


def test_decode_cross_layer_reads_the_whole_cache():
    # q 128, attention 2*4*2*1*5 x 2 = 160, o 128, MLP 3 x 2*8*16 = 768; no K/V projection
    ops = cross_layer_ops(TINY, "decode", a(1), a(1), a(5), UNIT, False, 1, False)
    assert _mm(ops) == 128 + 160 + 128 + 768
    assert not any(o.name.endswith(("/attn/k", "/attn/v")) for o in ops)
    attn = [o for o in ops if o.op_class == "attention"]
    assert sum(float(np.ravel(o.kv_read_bytes)[0]) for o in attn) == 2 * 5 * 4  # K and V, every step


def test_no_image_skips_cross_layers():
    ops = cross_layer_ops(TINY, "prefill", a(1), a(3), a(0), UNIT, True, 1, True)
    assert all(float(np.ravel(o.flops)[0]) == 0 and float(np.ravel(o.bytes)[0]) == 0 for o in ops)


def test_cross_cache_does_not_grow_in_decode():
    spec = estimate(MODEL, "a100-80gb", Workload(images=1)).model
    pts = _pts(text=10, visual=6404)

    def cross_kv(step: float) -> float:
        ops = decode_ops(spec, pts, step, UNIT, True)
        return sum(float(np.ravel(o.kv_read_bytes)[0]) * o.count for o in ops
                   if "/cross/" in o.name)

    assert cross_kv(0.0) == cross_kv(100.0) == 8 * 2 * 6404 * 1024


def test_kv_cache_bytes_by_hand():
    # 2 self layers x (text 10 + 3 generated) + 1 cross layer x 7 visual = 33 token rows;
    # x batch 2 x (K, V) x kv_dim 4 x 2 bytes
    pts = _pts(text=10, visual=7, batch=2, output=4)
    assert float(kv_cache_bytes(TINY, pts, 2.0, 0, 3)[0]) == 33 * 2 * 2 * 4 * 2
    assert float(kv_cache_bytes(TINY, pts, 2.0, 1, 2)[0]) == 7 * 2 * 2 * 4 * 2  # cross only
    assert float(pts.prompt[0]) == 10  # visual tokens are not in the prompt


def test_footprint_kv_of_the_zoo_model():
    e = estimate(MODEL, "a100-80gb", Workload(images=1, text_tokens=64, output_tokens=128))
    # 32 self layers x (64 + 127) + 8 cross layers x 4 tiles x 1601; kv_dim 1024, K and V, bf16
    assert e.memory.kv_cache_bytes == (32 * (64 + 127) + 8 * 6404) * 2 * 1024 * 2
    assert e.plan.llm_tokens == 6404


def test_projector_compression_shrinks_the_cross_cache():
    w = Workload(images=1, text_tokens=64, output_tokens=16)
    base = estimate(MODEL, "a100-80gb", w)
    comp = Compression(where="projector", keep_tokens=1601, overhead=False)
    new = estimate(MODEL, "a100-80gb", w.model_copy(update={"compression": comp}))
    plain = estimate(MODEL, "a100-80gb", Workload(visual_tokens=1601, text_tokens=64,
                                                  output_tokens=16))
    assert new.stages["vision"] == base.stages["vision"]
    assert new.stages["decode"] == plain.stages["decode"]
    saved = base.memory.kv_cache_bytes - new.memory.kv_cache_bytes
    assert saved == 8 * (6404 - 1601) * 2 * 1024 * 2
    assert new.stages["prefill"].flops < base.stages["prefill"].flops


@pytest.mark.parametrize("comp", [
    Compression(where="llm_layer", keep_ratio=0.5, layer=2),
    Compression(where="vit", keep_ratio=0.5),
    Compression(where="encoder", keep_ratio=0.5),
    CompressionPlan(stages=(Compression(where="projector", keep_ratio=0.5),),
                    kv=KVCompression(keep_ratio=0.5)),
])
def test_other_compression_refused(comp):
    w = Workload(images=1, compression=comp)
    with pytest.raises(CostmodelError, match="Llama-3.2-Vision"):
        estimate(MODEL, "a100-80gb", w)


def test_empty_prompt_refused():
    with pytest.raises(CostmodelError, match="text_tokens"):
        estimate(MODEL, "a100-80gb", Workload(images=1, text_tokens=0))


def test_llm_viewer_convention_refused():
    with pytest.raises(CostmodelError, match="cross-attention"):
        estimate(MODEL, "a100-80gb", Workload(images=1, convention="llm-viewer",
                                              flash_attention=False, engine="ideal"))


def test_worked_example():
    """docs/methodology.md, "Cross-attention VLMs (Llama-3.2-Vision)": the table's values."""
    e = estimate(MODEL, "a100-80gb", Workload(images=1, text_tokens=64, output_tokens=128))

    def mm(stage: str, keep=lambda o: True) -> int:
        return int(sum(float(np.ravel(c.op.matmul_flops)[0]) * c.op.count
                       for c in e.evaluation.op_costs if c.op.stage == stage and keep(c.op)))

    t, p, s, n, d, i = 4, 1600, 1608, 1601, 1280, 5120
    r = t * s
    vision = 2 * t * p * 588 * d + 2 * r * r + 40 * (2 * r * (4 * d * d + 2 * d * i) + 4 * r * r * d)
    assert mm("vision") == vision == 18_599_081_576_448
    assert mm("projector") == 2 * t * n * 7680 * 4096 == 402_904_842_240
    kv_proj = mm("prefill", lambda o: o.name.endswith(("/cross/attn/k", "/cross/attn/v")))
    assert kv_proj == 8 * 2 * 2 * 6404 * 4096 * 1024 == 859_530_330_112
    cross = mm("prefill", lambda o: "/cross/" in o.name and o.op_class == "attention")
    assert cross == 8 * 4 * 64 * 6404 * 4096 == 53_720_645_632
    h, kv, inter, q = 4096, 1024, 14336, 64
    causal = 4 * h * (q * q - q * (q - 1) // 2)  # FlashAttention: the causal triangle skipped
    self_layer = 2 * q * (2 * h * h + 2 * h * kv + 3 * h * inter) + causal
    cross_layer = 2 * q * (2 * h * h + 3 * h * inter) + 2 * 6404 * 2 * h * kv + 4 * q * 6404 * h
    assert mm("prefill") == 32 * self_layer + 8 * cross_layer + 2 * h * 128256 == 2_023_493_730_304
    assert e.memory.kv_cache_bytes == 2 * 1024 * (32 * 191 + 8 * 6404) * 2 == 234_881_024
