"""The measurement, not the kernel: TensorRT-LLM generation-attention rows measured with the
collector's K-only (SELFKONLY) cache, whose V is K's memory, are priced with K bytes only on
their XQA CTAs, and on their masked-MHA CTAs when the row's K fits the L2 (calibration/kv_alias.py;
docs/validation.md, "Decode attention")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from costmodel.calibration import kernel_tables as kt
from costmodel.core.efficiency import KernelParams
from costmodel.loading.load import load_hardware

A100 = load_hardware("a100-80gb")
# memory-bound and saturated: no fixed or per-wave cost, achieved fraction 1 from the first CTA
BARE = KernelParams(decode_fraction=1.0, decode_half_ctas=1e-9, decode_compute_fraction=1.0,
                    decode_tile_s=0.0, decode_fixed_s=0.0, decode_mmha_tile_s=0.0,
                    decode_xqa=1.0, decode_max_group=32.0)


def row(framework: str, version: str, heads: int, kv_heads: int) -> dict[str, object]:
    return {"kind": "generation_attention", "framework": framework, "version": version,
            "batch_size": 16, "num_heads": heads, "num_key_value_heads": kv_heads,
            "head_dim": 128, "step": 32767, "window_size": 0, "attn_dtype": "bfloat16",
            "kv_cache_dtype": "bfloat16", "latency": 1.0}


def test_which_tables_alias_v_to_k():
    f = pd.DataFrame([row("TRTLLM", v, 32, 8) for v in
                      ("1.0.0", "1.3.0rc15", "1.3.0rc5.post1", "1.3.0rc20", "1.3.0", "1.3.1",
                       "nightly")] + [row("VLLM", "0.14.0", 32, 8)])
    assert kt.v_aliases_k(f).tolist() == [True, True, True, False, False, False, False, False]


def test_an_aliased_xqa_row_moves_k_only():
    """b 16, h 32, kvh 8 (XQA: 4 query heads a KV head), d 128, 32,768 cached tokens + 1
    = L 32,768, bf16. Saturated and memory-bound, the time is bytes / bandwidth:
    K only 16 * 8 * 32768 * 128 * 2 B = 1,073,741,824 B (K and V: twice that) + q and o
    2 * 16 * 32 * 128 * 2 B = 262,144 B, at 2.039e12 B/s."""
    f = pd.DataFrame([row("TRTLLM", "1.0.0", 32, 8), row("TRTLLM", "1.3.0rc20", 32, 8)])
    pred, bound = kt.predict(f, A100, BARE)
    bw = A100.memory_bytes_per_s
    assert pred[0] == pytest.approx((1_073_741_824 + 262_144) / bw, rel=1e-9)
    assert pred[1] == pytest.approx((2 * 1_073_741_824 + 262_144) / bw, rel=1e-9)
    assert bound[0] == bound[1]  # the bound is the row's as labelled: K and V


def test_masked_mha_and_generic_rules_keep_k_and_v():
    """h = kvh runs masked MHA, which reads V after its whole key loop: with 4.3 GB of K
    (16 * 32 * 32768 * 128 * 2 B) far above the 40 MiB L2, V comes from DRAM; a set without
    TensorRT-LLM's dispatch does not know the row's kernel: neither row changes."""
    mha = pd.DataFrame([row("TRTLLM", "1.0.0", 32, 32), row("TRTLLM", "1.3.0rc20", 32, 32)])
    pred, _ = kt.predict(mha, A100, BARE)
    assert pred[0] == pred[1]
    gqa = pd.DataFrame([row("TRTLLM", "1.0.0", 32, 8), row("TRTLLM", "1.3.0rc20", 32, 8)])
    generic = KernelParams(**{**vars(BARE), "decode_xqa": 0.0, "decode_max_group": 0.0})
    pred, _ = kt.predict(gqa, A100, generic)
    assert np.isfinite(pred).all() and pred[0] == pred[1]


def test_aliased_masked_mha_row_whose_k_fits_l2_moves_k_only():
    """b 1, h = kvh = 32 (masked MHA), d 128, bf16: K = 32 * L * 128 * 2 B = 8192 L bytes.
    A100's L2 is 40 MiB = 41,943,040 B: L = 5120 (41,943,040 B of K, fits exactly) moves K
    only, L = 5121 (one token more) K and V; q and o add 2 * 32 * 128 * 2 B = 16,384 B."""
    assert A100.l2_cache_bytes == 40 * 2**20
    rows = [{**row("TRTLLM", "1.0.0", 32, 32), "batch_size": 1, "step": n - 1}
            for n in (5120, 5121)]
    pred, _ = kt.predict(pd.DataFrame(rows), A100, BARE)
    bw = A100.memory_bytes_per_s
    assert pred[0] == pytest.approx((8192 * 5120 + 16_384) / bw, rel=1e-9)
    assert pred[1] == pytest.approx((2 * 8192 * 5121 + 16_384) / bw, rel=1e-9)


def test_kv_dram_streams_rule():
    """One stream only on aliased rows run by XQA, or by masked MHA with K within the L2; no
    L2 figure: masked MHA keeps both."""
    aliased = np.array([True, True, True, True, False])
    xqa = np.array([True, False, False, False, True])
    masked = ~xqa
    k_bytes = np.array([1e12, 1e6, 1e9, 1e6, 1e6])
    out = kt.kv_dram_streams(aliased, xqa, masked, k_bytes, 4e7)
    assert out.tolist() == [1.0, 1.0, 2.0, 1.0, 2.0]
    assert kt.kv_dram_streams(aliased, xqa, masked, k_bytes, None).tolist() == [1, 2, 2, 2, 2]
    assert kt.kv_dram_streams(aliased, xqa, np.zeros(5, bool), k_bytes, 4e7).tolist() == [
        1, 2, 2, 2, 2]
