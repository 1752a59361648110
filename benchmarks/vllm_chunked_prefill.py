"""What vLLM 0.6's chunked prefill would add to the bundled vLLM rows with prompts over 32K.

    python benchmarks/vllm_chunked_prefill.py

A what-if, not part of the model (docs/validation.md, "vLLM's chunked prefill (found, not
adopted)"). vLLM 0.5-0.6 turns chunked prefill on by itself when max_model_len > 32768 (GPU, no
sliding window, LoRA or speculative decoding: vllm/engine/arg_utils.py, `use_long_context`)
with max_num_batched_tokens = 512 unless set (vllm/config.py, SchedulerConfig: "the best
balance between ITL and TTFT on A100"). The Qwen2.5 runs at 63488 and 129024 prompt tokens
needed max_model_len 65536 / 131072 (the speed benchmark's Setting-64k / Setting 5), so their
prompts ran in 512-token chunks, each chunk's attention against the paged KV cache in one
FlashAttention-2 varlen call, which splits the keys over CTAs only for decoding (flash_api.cpp,
mha_varlen_fwd: "Only apply split-k for decoding"): ceil(512 / 128) x heads CTAs per chunk.

For each such row the script prices the prompt's attention and its GEMMs both ways with the
shipped kernel model (the device's vLLM figures): one pass, as the model does, and the sum over
512-token chunks. Attention (efficiency.prefill_attention_time_s): each chunk's queries against
its prefix plus half the chunk (the same scores). GEMMs (efficiency.gemm_time_s, vLLM's fused
qkv and gate_up groups, o_proj, down_proj): m = 512 rows per chunk instead of the whole prompt
(the same FLOPs, fewer row tiles per wave). The difference is added to the row's predicted run
time. Nothing is fitted; per-chunk host time and the lm_head are left out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from costmodel.calibration.published import as_time, validate
from costmodel.core.efficiency import gemm_time_s, prefill_attention_time_s
from costmodel.core.kernel_model import _bf16_peak, _engine_params
from costmodel.core.kernel_params import Device
from costmodel.loading.load import load_engine, load_hardware, load_model

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT / "costmodel" / "calibration" / "data" / "published_runs.csv"
CHUNK = 512  # vLLM 0.6 SchedulerConfig default max_num_batched_tokens with chunked prefill
LONG = 32768  # arg_utils: chunked prefill by default when max_model_len > 32K


def prompt_s(model: str, hardware: str, tokens: int, tp: int) -> tuple[float, float]:
    """(one pass, the sum over CHUNK-token chunks) of the prompt's attention and GEMMs,
    seconds, all layers, on one of tp GPUs (heads and GEMM columns split over the GPUs)."""
    llm = load_model(model).llm
    hw = load_hardware(hardware)
    p = _engine_params(hw, load_engine("vllm"), False)
    peak = _bf16_peak(hw)
    dev = Device(hw.memory_bandwidth_Bps, int(hw.sm_count or 0), hw.exp_per_s or np.inf, peak)
    heads, kvh = llm.num_heads // tp, max(llm.num_kv_heads // tp, 1)
    d, a = llm.hidden_size // llm.num_heads, 2.0  # head_dim; bf16 bytes
    one = prefill_attention_time_s(1, tokens, tokens, heads, d, True, 0.0, peak,
                                   a * 2 * tokens * (heads + kvh) * d, dev, p)
    start = np.arange(0, tokens, CHUNK, dtype=float)
    q = np.minimum(CHUNK, tokens - start)
    chunks = prefill_attention_time_s(1, q, start + q / 2, heads, d, False, 0.0, peak,
                                      a * 2 * (q * heads + (start + q) * kvh) * d, dev, p)
    h, i = llm.hidden_size, llm.intermediate_size
    gemms = [(h, (heads + 2 * kvh) * d), (heads * d, h), (h, 2 * i // tp), (i // tp, h)]  # (k, n)
    rows = np.concatenate([[float(tokens)], q])  # the one pass, then each chunk
    g = sum(gemm_time_s(rows, n, k, peak, a, a, a, dev, p) for k, n in gemms)
    g = np.ravel(g)
    one_s = float(np.sum(one)) + float(g[0])
    chunked_s = float(np.sum(chunks)) + float(np.sum(g[1:]))
    return one_s * llm.num_layers, chunked_s * llm.num_layers


def main() -> None:
    frame, _ = validate(CSV)
    rows = frame[(frame["engine"] == "vllm") & (frame["text_tokens"] > LONG)].copy()
    rows["measured_s"] = as_time(rows, "value")
    rows["predicted_s"] = as_time(rows, "predicted")
    print(f"{'id':9} {'model':22} {'tokens':>6} {'tp':>2} {'one pass':>8} {'chunked':>8} "
          f"{'error':>7} {'chunked error':>13}")
    after = []
    for _, r in rows.iterrows():
        one, chunked = prompt_s(r["model"], r["hardware"], int(r["text_tokens"]), int(r["tp"]))
        new = r["predicted_s"] + chunked - one
        # errors of the throughput, as validate --published reports them: + = predicted fast
        err, err_after = r["measured_s"] / r["predicted_s"] - 1, r["measured_s"] / new - 1
        after.append(err_after)
        name = Path(r["model"]).parent.name or r["model"]
        print(f"{r['id']:9} {name:22} {int(r['text_tokens']):>6} {int(r['tp']):>2} "
              f"{one:7.1f}s {chunked:7.1f}s {err:+7.1%} {err_after:+13.1%}")
    before = (rows["measured_s"] / rows["predicted_s"] - 1).abs()
    print(f"median |error| of these {len(rows)} rows: {before.median():.1%} as priced, "
          f"{np.median(np.abs(after)):.1%} with the prompt in chunks "
          "(error of the throughput: + = predicted too fast)")


if __name__ == "__main__":
    main()
