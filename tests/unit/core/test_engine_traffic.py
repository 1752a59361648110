"""An engine's own KV traffic (core/engine_traffic.py): transformers' DynamicCache concat
(kv_append: concat) and repeat_kv (gqa_expand), priced by hand on Qwen2.5-14B (GQA, g = 5)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from costmodel.analysis.estimate import estimate
from costmodel.calibration.published import BUNDLED
from costmodel.core import engine_traffic
from costmodel.core.ops import Op
from costmodel.loading.load import load_engine, load_hardware
from costmodel.specs.engine import EngineFile

ENGINES = Path(__file__).resolve().parents[3] / "costmodel" / "engines"
QWEN14 = str(BUNDLED.parent / "configs" / "qwen2.5-14b-instruct" / "config.json")
# Qwen2.5-14B: 48 layers, 40 query heads, 8 KV heads (g = 5), head_dim 128; bf16 KV:
# K and V of one layer at k keys = 2 x 8 x 128 x 2 B x k = 4096 k bytes.
LAYERS, G, KV_PER_KEY_B = 48, 5.0, 4096.0
PROMPT, OUT = 1000, 11


def _engine(tmp_path: Path, overlap: str, traffic: bool) -> str:
    data = yaml.safe_load((ENGINES / "hf-eager.yaml").read_text())
    data.update(id=f"t-{overlap}-{traffic}", host_overlap=overlap,
                kv_append="concat" if traffic else "in_place", gqa_expand=traffic,
                copy_fraction=1.0)  # the hand counts below: copies at the memory-bound rate
    path = tmp_path / f"{data['id']}.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _bw() -> float:
    """The copies run as memory-bound kernels: bandwidth x memory_fraction (0.6944 on the
    A100's kernel figures)."""
    h = load_hardware("a100-80gb")
    assert h.kernel_params is not None
    return h.memory_bytes_per_s * h.memory_efficiency * h.kernel_params["memory_fraction"]


def _pair(tmp_path, overlap: str, out: int = OUT):
    kw = dict(text_tokens=PROMPT, output_tokens=out)
    return [estimate(QWEN14, "a100-80gb", engine=_engine(tmp_path, overlap, t), **kw)
            for t in (True, False)]


def _hf(copy_fraction: float = 1.0):
    return load_engine("hf-eager").model_copy(update={"copy_fraction": copy_fraction})


def test_factors_by_engine_and_stage():
    hf = _hf()
    assert engine_traffic.factors(hf, 5.0, "decode") == [("engine/kv_concat", 2.0),
                                                         ("engine/repeat_kv", 10.0)]
    assert engine_traffic.factors(hf, 5.0, "prefill") == [("engine/repeat_kv", 10.0)]
    assert engine_traffic.factors(hf, 1.0, "decode") == [("engine/kv_concat", 2.0)]  # MHA
    for name in ("ideal", "vllm", "trtllm", "torch-eager"):
        assert engine_traffic.factors(load_engine(name), 5.0, "decode") == []


def test_decode_rows_sum_the_steps_exactly():
    """KV read per step 100 + 10 j bytes (2 layers of 50 + 5 j): concat + repeat_kv (g = 4)
    move (2 + 8) x that; over n = 5 steps at 10 B/s, against a step loop."""
    def op(kv: float) -> Op:
        z = np.zeros((1, 1))
        return Op("llm/L0-1/attn/flash", "decode", "attention", z, z, z, z, z, z,
                  kv_read_bytes=np.full((1, 1), kv), count=2)
    n, span = np.array(5.0), np.array(3.0)
    total, one = engine_traffic.decode_rows(_hf(), [op(50.0)],
                                            [op(50.0 + 5.0 * 3)], 4.0, np.array(10.0), n, span,
                                            np.zeros((1, 1)))
    loop = sum(10.0 * (100.0 + 10.0 * j) / 10.0 for j in range(5))
    assert sum(float(r.latency_s[0, 0]) for r in total) == pytest.approx(loop, rel=1e-12)
    assert sum(float(r.latency_s[0, 0]) for r in one) == pytest.approx(100.0, rel=1e-12)
    assert [r.op.name for r in total] == ["engine/kv_concat", "engine/repeat_kv"]
    assert all(float(r.flops[0, 0]) == float(r.bytes[0, 0]) == 0.0 for r in total)


def test_qwen14b_by_hand_serial(tmp_path):
    """Decode step j attends over PROMPT + 1 + j keys: (2 + 2g) x 48 x 4096 B per key; the
    prefill's repeat_kv 2g x 48 x 4096 B per prompt key; at the achievable bandwidth."""
    on, off = _pair(tmp_path, "serial")
    per_key_s = LAYERS * KV_PER_KEY_B / _bw()
    dec = sum((2 + 2 * G) * per_key_s * (PROMPT + 1 + j) for j in range(OUT - 1))
    pre = 2 * G * per_key_s * PROMPT
    got_dec = on.stages["decode"].latency_s - off.stages["decode"].latency_s
    assert got_dec == pytest.approx(dec, rel=1e-9)
    assert on.stages["prefill"].latency_s - off.stages["prefill"].latency_s == pytest.approx(
        pre, rel=1e-9)
    assert on.tpot_s - off.tpot_s == pytest.approx(dec / (OUT - 1), rel=1e-9)
    assert on.bound.e2e_latency_s == off.bound.e2e_latency_s  # the bound has none of it
    # the model's own counted bytes are the engine's business no more than before
    assert on.stages["decode"].bytes == off.stages["decode"].bytes


def test_async_counts_it_on_the_device_side(tmp_path):
    on, off = _pair(tmp_path, "async")
    per_key_s = LAYERS * KV_PER_KEY_B / _bw()
    dec = sum((2 + 2 * G) * per_key_s * (PROMPT + 1 + j) for j in range(OUT - 1))
    assert on.stages["decode"].device_s - off.stages["decode"].device_s == pytest.approx(
        dec, rel=1e-9)
    assert on.stages["decode"].launch_s == off.stages["decode"].launch_s


def test_one_output_token_prices_one_step(tmp_path):
    """N = 1: no decode step; TPOT is one step at PROMPT + 1 keys, with its traffic."""
    on, off = _pair(tmp_path, "serial", out=1)
    step = (2 + 2 * G) * LAYERS * KV_PER_KEY_B * (PROMPT + 1) / _bw()
    assert on.tpot_s - off.tpot_s == pytest.approx(step, rel=1e-9)


def test_kv_fields_need_a_source_only_when_written():
    data = yaml.safe_load((ENGINES / "hf-eager.yaml").read_text())
    del data["sources"]["kv_append"]
    with pytest.raises(ValueError, match="kv_append"):
        EngineFile.model_validate(data)
    del data["kv_append"], data["gqa_expand"], data["sources"]["gqa_expand"]
    f = EngineFile.model_validate(data)  # unset: in_place, no expand (a user's older YAML)
    assert (f.kv_append, f.gqa_expand) == ("in_place", False)


def test_copy_fraction_slows_the_copies_only():
    """At copy_fraction c the copied bytes run at c x the memory-bound rate: concat 2 KV / c;
    repeat_kv (1 + g) KV / c copied plus the attention's (g - 1) KV extra read at the rate."""
    c, g = 0.5, 5.0
    assert engine_traffic.factors(_hf(c), g, "decode") == [
        ("engine/kv_concat", 2.0 / c), ("engine/repeat_kv", (1.0 + g) / c + (g - 1.0))]
    assert load_engine("hf-eager").copy_fraction < 1.0  # the shipped, fitted figure
