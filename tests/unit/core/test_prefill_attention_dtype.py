"""An engine whose prefill attention runs in the KV cache's dtype (Engine.prefill_attention_dtype:
TensorRT-LLM's FP8 context FMHA with an fp8 KV cache): core/efficiency.prefill_qo_bytes, the
core's operator times and `validate --kernels` (docs/validation.md, "Prefill attention")."""

from __future__ import annotations

import json

import numpy as np
import pytest

from costmodel.analysis.estimate import estimate
from costmodel.calibration import kernel_tables as kt
from costmodel.core.efficiency import params_of, prefill_qo_bytes
from costmodel.loading.load import load_engine, load_hardware
from tests.helpers import KERNELS, ROOT
from tests.helpers import kernel_table_files as files


@pytest.mark.parametrize(("kv_fp8", "rule", "device_fp8", "expected"), [
    (True, True, True, 1.0),     # fp8 cache, the engine's rule, fp8 math: the fp8 kernel
    (True, False, True, 2.0),    # an engine without the rule keeps the activation dtype
    (True, True, False, 2.0),    # no fp8 math on the device (A100): no fp8 kernel
    (False, True, True, 2.0),    # a bf16 (or int8) cache: the activation dtype
])
def test_qo_bytes_by_hand(kv_fp8, rule, device_fp8, expected):  # noqa: ANN001
    assert float(prefill_qo_bytes(2.0, 1.0, kv_fp8, rule, device_fp8)) == expected


def _without_rule(tmp_path) -> str:  # noqa: ANN001
    src = load_engine("trtllm").source_file.model_dump(mode="json")
    src.update(id="trt-activation", prefill_attention_dtype="activation")
    f = tmp_path / "trt.yaml"
    f.write_text(json.dumps(src))  # JSON is YAML
    return str(f)


def _ops(engine: str, hw: str, kv: str):  # noqa: ANN202
    e = estimate("llava-1.5-7b", hw, engine=engine, batch=1, visual_tokens=576,
                 text_tokens=1000, output_tokens=8, act_dtype="bf16", kv_dtype=kv)
    return e.to_frame().set_index(["stage", "op"])["latency_s"]


def test_trtllm_prefill_attention_runs_in_fp8_with_an_fp8_cache(tmp_path):
    mine = _without_rule(tmp_path)
    on, off = _ops("trtllm", "h100-sxm", "fp8"), _ops(mine, "h100-sxm", "fp8")
    attn = [k for k in on.index if k[0] == "prefill" and k[1].endswith("attn/flash")]
    assert attn and all(on[k] < off[k] for k in attn)  # Q/O in fp8: less per-token work
    rest = on.index.difference(attn)
    assert np.allclose(on[rest].to_numpy(), off[rest].to_numpy(), rtol=1e-12)  # nothing else
    # a bf16 cache, or a device without fp8 math (A100), leaves the rule no effect
    for hw, kv in (("h100-sxm", "bf16"), ("a100-80gb", "fp8")):
        a, b = _ops("trtllm", hw, kv), _ops(mine, hw, kv)
        assert np.allclose(a.to_numpy(), b.to_numpy(), rtol=1e-12)


def test_kernel_table_rows_follow_the_engines_rule():
    """TensorRT-LLM rows with bf16 attention and an fp8 KV cache are priced as its fp8/fp8
    rows; vLLM's (no such rule) as written. Shapes of the test tables, dtypes relabelled."""
    h100 = load_hardware("h100-sxm")
    f = kt.read_tables(files("h100"))
    ctx = f[f["kind"] == "context_attention"].reset_index(drop=True).assign(kv_cache_dtype="fp8")
    p = kt.eff.KernelParams(attention_fraction=0.6, attention_io_flop_per_byte=500.0)
    pred, _ = kt.predict(ctx, h100, p)
    pred8, _ = kt.predict(ctx.assign(attn_dtype="fp8"), h100, p)
    trt = kt.engine_of(ctx) == "trtllm"
    assert trt.any() and (~trt).any()
    assert (pred[trt] == pred8[trt]).all()
    assert (pred[~trt] >= pred8[~trt]).all() and (pred[~trt] > pred8[~trt]).any()


def test_the_rule_meets_the_measured_fp8_cache_rows(monkeypatch):
    """Held-out H100 TensorRT-LLM 1.3 rows with an fp8 KV cache (tests/data/kernels, NOTE.md):
    with the rule its bf16-attention rows are predicted as well as its fp8/fp8 rows; without
    it about 2x worse (full tables: 8.7% vs 23.0%, docs/validation.md)."""
    h100 = load_hardware("h100-sxm")
    f = kt.read_tables([str(KERNELS / "h100_sxm_trtllm_fp8kv_context_heldout.csv.gz")])
    by = {e: params_of(k) for e, k in h100.kernel_params_by_engine.items()}

    def median(frame) -> float:  # noqa: ANN001
        pred, bound = kt.predict(frame, h100, params_of(h100.kernel_params), by)
        err = np.abs(pred - frame["measured_s"]) / frame["measured_s"]
        return float(np.median(err[(bound >= kt.SMALL_S) & (frame["attn_dtype"] == "bfloat16")]))

    with_rule = median(f)
    monkeypatch.setattr(kt, "_in_kv_dtype", lambda engine: False)
    without = median(f)
    assert with_rule < 0.12 < 0.18 < without
    text = " ".join((ROOT / "docs" / "validation.md").read_text().split())
    assert (f"checks it on a held-out sample: {100 * with_rule:.1f}% with the rule, "
            f"{100 * without:.1f}% without)") in text
