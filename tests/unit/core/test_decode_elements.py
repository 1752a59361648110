"""Decode attention's SM work per K/V element (`decode_flop_per_element`,
core/decode_kernel.decode_attention_time_s): by hand, and when the fit may move it."""

from __future__ import annotations

import pandas as pd
import pytest

from costmodel.calibration import kernel_tables as kt
from costmodel.core import efficiency as eff
from costmodel.loading.load import load_hardware
from tests.helpers import kernel_table_files as files

PEAK, SM_PEAK = 4e14, 2e14  # math-dtype peak and dense bf16 peak, FLOP/s


def _t(p: eff.KernelParams, kv_bytes: float) -> float:
    dev = eff.Device(memory_bytes_per_s=1e30, sm_count=100, sm_flops_per_s=SM_PEAK)
    return float(eff.decode_attention_time_s(8, 1000, 4, 4, 128, kv_bytes, 2.0, dev, p, PEAK))


def test_element_work_by_hand():
    """No memory time (infinite bandwidth), no fixed or wave costs, full saturation: the time
    is the q.K / p.V math at the math peak plus F FLOP per K/V element at the bf16 peak."""
    b, L, h, d, f = 8, 1000, 4, 128, 300.0
    p = eff.KernelParams(decode_flop_per_element=f, decode_split_mha=0.0)
    expected = 4 * b * h * L * d / PEAK + f * 2 * b * h * L * d / SM_PEAK
    assert _t(p, 2.0) == pytest.approx(expected, rel=1e-12)
    assert _t(p, 1.0) == _t(p, 2.0)  # the same elements whatever their size
    assert _t(eff.KernelParams(decode_split_mha=0.0), 2.0) == pytest.approx(4 * b * h * L * d / PEAK)


def test_the_fit_moves_it_only_with_two_element_sizes():
    h100 = load_hardware("h100-sxm")
    f = kt.read_tables(files("h100", "vllm"))
    gen = f[f["kind"] == "generation_attention"]
    assert set(gen["kv_cache_dtype"]) == {"bfloat16"}  # the test tables: bf16 caches only
    base = eff.KernelParams(decode_flop_per_element=7.0)
    assert kt.fit_decode(gen, h100, base).decode_flop_per_element == 7.0  # held: one size
    mixed = pd.concat([gen, gen.assign(kv_cache_dtype="fp8")])
    assert kt._identifiable("decode_flop_per_element", mixed)
    assert not kt._identifiable("decode_flop_per_element", gen)
