"""TensorRT-LLM's XQA on SM90 (core/decode_kernel.py, decode_xqa_sm90): an fp8 cache runs the
GMMA kernel (mha_sm90.cu), 3 or 2 CTAs per SM by its launch bounds; everything else keeps 2.
Expected values hand-computed from the rules in the module docstring."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.calibration import kernel_tables as kt
from costmodel.core import decode_kernel as dk
from costmodel.core import efficiency as eff
from costmodel.loading.load import load_hardware

SMS = 108
DEV = eff.Device(memory_bytes_per_s=1e12, sm_count=SMS)


def test_gmma_ctas_per_sm_follow_its_launch_bounds():
    h = np.array([8, 32, 48, 8, 96, 32, 8, 8, 8])
    kvh = np.array([1, 2, 2, 1, 8, 8, 1, 1, 1])
    d = np.array([128, 128, 128, 256, 256, 192, 128, 128, 128])
    kv_bytes = np.array([1, 1, 1, 1, 1, 1, 2, 1, 1])
    xqa = np.array([True] * 7 + [False, True])
    # g 8: roundUp(8, 8) x 128 = 1024 <= 2048 -> 3; g 16 x 128 = 2048 -> 3; g 24 -> 3072 -> 2;
    # d 256, g 8 -> 2048 -> 3; g 12 -> 16 x 256 = 4096 -> 2; d 192, g 4 -> 8 x 192 -> 3;
    # a bf16 cache (HMMA) and a masked-MHA CTA keep 2
    got = eff.trtllm_resident(h, kvh, d, kv_bytes, xqa, sm90=True)
    assert list(got[:-1]) == [3, 3, 2, 3, 2, 3, 2, 2]
    assert got[-1] == 3
    # off SM90 nothing changes
    assert list(eff.trtllm_resident(h, kvh, d, kv_bytes, xqa, sm90=False)) == [2] * 9
    assert dk.RESIDENT == 2


def test_decode_time_with_the_sm90_rule():
    p = eff.KernelParams(decode_fraction=0.5, decode_tile_s=2e-6, decode_fixed_s=3e-6,
                         decode_max_group=32.0, decode_xqa=1.0)
    sm90 = eff.KernelParams(**{**vars(p), "decode_xqa_sm90": 1.0})
    # b 256, g 8, L 100: 4 x 256 x 1 x 1 >= 108, XQA with one split: 256 CTAs
    args = (256, 100, 8, 1, 128)
    fp8 = 256 * 100 * 128 * 2 * 1 + 2 * 256 * 8 * 128 * 2
    bf16 = 256 * 100 * 128 * 2 * 2 + 2 * 256 * 8 * 128 * 2
    # fp8 on SM90: 3 x 108 = 324 resident, one wave; else ceil(256 / 216) = 2 waves
    assert eff.decode_attention_time_s(*args, 1, 2, DEV, sm90) == pytest.approx(
        3e-6 + 2e-6 + fp8 / 0.5e12)
    assert eff.decode_attention_time_s(*args, 1, 2, DEV, p) == pytest.approx(
        3e-6 + 2 * 2e-6 + fp8 / 0.5e12)
    assert eff.decode_attention_time_s(*args, 2, 2, DEV, sm90) == pytest.approx(
        3e-6 + 2 * 2e-6 + bf16 / 0.5e12)


def test_the_rule_is_given_not_fitted_and_shipped_for_hopper_only():
    assert "decode_xqa_sm90" in kt.DECODE_RULES
    assert "decode_xqa_sm90" not in kt.GROUPS["decode"][1]
    for hw_id, want in (("h100-sxm", 1.0), ("h200", 1.0), ("h100-pcie", 1.0),
                        ("a100-80gb", 0.0), ("a100-40gb", 0.0)):
        sets = load_hardware(hw_id).kernel_params_by_engine
        assert eff.params_of(sets["trtllm"]).decode_xqa_sm90 == want, hw_id
        assert eff.params_of(sets["vllm"]).decode_xqa_sm90 == 0.0, hw_id
