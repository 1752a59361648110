"""TensorRT-LLM's generation-attention dispatch (core/decode_kernel.py, decode_xqa): XQA vs
masked MHA and their KV splits, hand-computed from the rules in the module docstring."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.calibration import kernel_tables as kt
from costmodel.core import efficiency as eff
from costmodel.loading.load import load_hardware
from tests.helpers import kernel_table_files as files

SMS = 108
DEV = eff.Device(memory_bytes_per_s=1e12, sm_count=SMS)


def test_xqa_multi_block_count():
    # L = 131072: m = 1024, capped at round(sqrt(8192)) = round(90.5) = 91; 8 x 91 CTAs are
    # 6.7 waves of 108 (<= 8): 91
    assert eff.xqa_multi_block(1, 8, 131072, SMS) == 91
    # L = 8192, b kvh = 128: m = 64 -> round(sqrt(512)) = 23; 128 x 23 / 108 = 27.3 waves
    # -> floor(23 / (27.3 / 8)) = floor(6.75) = 6
    assert eff.xqa_multi_block(16, 8, 8192, SMS) == 6
    # 1024 sequences: 91 cut to floor(91 / 107.9) = 0 -> 1; L < 128: m = 0 -> 1
    assert eff.xqa_multi_block(1024, 1, 131072, SMS) == 1
    assert eff.xqa_multi_block(4, 8, 100, SMS) == 1
    # the workspace's 6000 sub-sequences: m = 8 (L = 1024, sqrt(64) = 8), 6000 // 2000 = 3
    assert eff.xqa_multi_block(2000, 1, 1024, 100000) == 3


def test_xqa_or_masked_mha_and_their_ctas():
    b = np.array([1, 16, 1, 1, 256, 1, 1])
    h = np.array([8, 32, 8, 64, 32, 12, 12])
    kvh = np.array([8, 8, 2, 1, 32, 3, 3])
    kv_len = np.array([4096, 8192, 1000, 4096, 4096, 1152, 1024])
    ctas, xqa = eff.trtllm_decode_ctas(b, h, kvh, kv_len, SMS, 32.0)
    # h = kvh: masked MHA, min(ceil(108 / 8), ceil(4096 / 128)) = 14 tiles per head
    # g = 4, 4 x 16 x 8 x 64 >= 108: XQA, 16 x 8 x 6 splits (test above)
    # g = 4, 4 x 1 x 2 x floor(1000 / 128) = 56 < 108: masked MHA, min(14, 8) = 8 tiles
    # g = 64 > 32: masked MHA, min(ceil(108 / 64), 32) = 2 tiles
    # 8192 heads of sequences fill the SMs: one tile each
    # 4 x 1 x 3 x 9 = 108 >= 108: XQA, m = 9 -> round(sqrt(72)) = 8: 24; one KV block less
    # (4 x 3 x 8 = 96): masked MHA, min(ceil(108 / 12), 8) = 8 tiles of 12 heads
    assert list(ctas) == [112, 768, 64, 128, 8192, 24, 96]
    assert list(xqa) == [False, True, False, False, False, True, False]


def test_decode_time_under_the_trtllm_rules():
    p = eff.KernelParams(decode_fraction=0.5, decode_tile_s=2e-6, decode_mmha_tile_s=1e-6,
                         decode_fixed_s=3e-6, decode_max_group=32.0, decode_xqa=1.0)
    t = eff.decode_attention_time_s(np.array([1, 1, 16]), np.array([4096, 4096, 8192]),
                                    np.array([8, 64, 32]), np.array([8, 1, 8]), 128, 2, 2, DEV, p)
    # masked MHA, 112 CTAs in one wave of 2 x 108, its own per-wave cost
    mha = 8 * 4096 * 128 * 2 * 2 + 2 * 8 * 128 * 2
    # masked MHA for a group of 64: each query head's CTA reads K and V (128 CTAs, one wave)
    per_q = 64 * 4096 * 128 * 2 * 2 + 2 * 64 * 128 * 2
    # XQA: 768 CTAs -> ceil(768 / 216) = 4 waves, K and V read once per KV head
    xqa = 16 * 8 * 8192 * 128 * 2 * 2 + 2 * 16 * 32 * 128 * 2
    want = [3e-6 + 1e-6 + mha / 0.5e12, 3e-6 + 1e-6 + per_q / 0.5e12,
            3e-6 + 4 * 2e-6 + xqa / 0.5e12]
    assert t == pytest.approx(want)
    # without the rule the same shapes take FlashAttention's split and one per-wave cost
    flash = eff.decode_attention_time_s(1, 4096, 8, 8, 128, 2, 2, DEV,
                                        eff.KernelParams(decode_fraction=0.5, decode_tile_s=2e-6))
    assert flash == pytest.approx(2e-6 + mha / 0.5e12)


def test_masked_mha_tile_cost_is_fitted_only_under_the_rule():
    a100 = load_hardware("a100-80gb")
    f = kt.read_tables(files("a100", "trtllm"))
    gen = f[f["kind"] == "generation_attention"]
    base = eff.KernelParams(decode_mmha_tile_s=1e-6)
    assert kt.fit_decode(gen, a100, base).decode_mmha_tile_s == 1e-6
    fitted = kt.fit_decode(gen, a100, base, {"decode_max_group": 32.0, "decode_xqa": 1.0})
    assert fitted.decode_mmha_tile_s != 1e-6 and fitted.decode_xqa == 1.0
