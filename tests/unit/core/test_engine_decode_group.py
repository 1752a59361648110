"""An engine's own decode_max_group (Engine.decode_max_group): TensorRT-LLM before XQA
(`trtllm-0.6`) decodes every grouped-query layer with masked MHA, one CTA per query head
reading its K and V (core/decode_kernel.decode_attention_time_s; docs/methodology.md)."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.analysis.estimate import estimate
from costmodel.calibration import kernel_tables as kt
from costmodel.core.efficiency import decode_attention_time_s, params_of
from costmodel.loading.load import load_hardware

KW = dict(batch=64, visual_tokens=0, text_tokens=2048, output_tokens=64)


def _ops(model: str, engine: str):  # noqa: ANN202
    return estimate(model, "h100-sxm", engine=engine, **KW).to_frame().set_index(["stage", "op"])


def _gate_up(frame) -> list:  # noqa: ANN001
    """The MLP's gate and up rows: one GEMM in trtllm, two in trtllm-0.6 (Engine.fused_gemms,
    the engines' other difference)."""
    return [k for k in frame.index if k[1].endswith(("mlp/gate", "mlp/up"))]


def test_gqa_decode_runs_per_query_head_before_xqa():
    old, new = _ops("llama-3-8b", "trtllm-0.6"), _ops("llama-3-8b", "trtllm")  # g = 32 / 8 = 4
    attn = [k for k in old.index if k[0] == "decode" and k[1].endswith("attn/flash")]
    assert attn
    ratio = old.loc[attn, "latency_s"].to_numpy() / new.loc[attn, "latency_s"].to_numpy()
    assert (ratio > 2.5).all() and (ratio < 4.5).all()  # about g x the KV bytes
    rest = old.index.difference(attn + _gate_up(old))  # every other op: the same engine
    assert np.allclose(old.loc[rest, "latency_s"], new.loc[rest, "latency_s"], rtol=1e-12)
    # the counted work is the engine's choice of kernel, not the model's: unchanged
    assert np.allclose(old["kv_bytes"], new["kv_bytes"]) and np.allclose(old["flops"], new["flops"])


def test_mha_models_do_not_notice():
    old, new = _ops("llama-2-7b", "trtllm-0.6"), _ops("llama-2-7b", "trtllm")  # g = 1
    rest = old.index.difference(_gate_up(old))
    assert np.allclose(old.loc[rest, "latency_s"], new.loc[rest, "latency_s"], rtol=1e-12)


def test_the_override_is_the_figure_sets_rule_by_hand():
    """One decode call priced with trtllm's H100 figures and decode_max_group 1 equals
    decode_attention_time_s with every group per query head (units b*h, K/V read h times)."""
    hw = load_hardware("h100-sxm")
    p = params_of(hw.kernel_params_by_engine["trtllm"])
    dev = kt.device(hw)
    b, L, h, kvh, d = 64.0, 2048.0, 32.0, 8.0, 128.0
    per_q = decode_attention_time_s(b, L, h, kvh, d, 2.0, 2.0, dev, p.__class__(
        **{**vars(p), "decode_max_group": 1.0}), hw.peak_flops_per_s_by_dtype[kt.DType.bf16])
    as_mha = decode_attention_time_s(b, L, h, h, d, 2.0, 2.0, dev, p,
                                     hw.peak_flops_per_s_by_dtype[kt.DType.bf16])
    assert float(per_q) == pytest.approx(float(as_mha), rel=1e-12)  # h streams of K/V each
