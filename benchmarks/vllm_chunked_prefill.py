"""What vLLM 0.6's chunked prefill adds to the bundled vLLM rows with prompts over 32K.

    python benchmarks/vllm_chunked_prefill.py

The what-if that led to the engine vllm-0.6 (docs/validation.md, "vLLM's chunked prefill
(adopted)"; the model prices it in core/chunked.py): the rows are vllm-0.6's now, and the
script starts from their one-pass pricing (engine vllm) and adds its chunk deltas; the last
column is the model's own vllm-0.6 error. vLLM 0.5-0.6 turns chunked prefill on by itself when
max_model_len > 32768 (GPU, no sliding window, LoRA or speculative decoding:
vllm/engine/arg_utils.py, `use_long_context`)
with max_num_batched_tokens = 512 unless set (vllm/config.py, SchedulerConfig: "the best
balance between ITL and TTFT on A100"). The Qwen2.5 runs at 63488 and 129024 prompt tokens
needed max_model_len 65536 / 131072 (the speed benchmark's Setting-64k / Setting 5), so their
prompts ran in 512-token chunks. Each chunk's attention against the paged KV cache is one
FlashAttention-2 varlen call (vllm-flash-attn, flash_api.cpp `mha_varlen_fwd`), which splits
the keys over CTAs only for decoding ("Only apply split-k for decoding") and, with a paged
cache, runs the split-KV kernel with one split (`run_mha_fwd(params, stream, paged_KV)` ->
`run_mha_fwd_splitkv_dispatch`, `kBlockM = 64; // Fixed for all head dimensions`):
ceil(512 / 64) x heads CTAs per chunk.

For each such row the script prices the prompt both ways with the shipped kernel model (the
device's vLLM figures): one pass, as the model does, and the sum over 512-token chunks.
Attention (efficiency.prefill_attention_time_s): each chunk's queries against its prefix plus
half the chunk (the same scores), in 64-row query blocks (the figures were fitted with the
model's 128-row blocks; the 128-row variant is printed too). GEMMs (efficiency.gemm_time_s,
vLLM's fused qkv and gate_up groups, o_proj, down_proj): m = 512 rows per chunk instead of the
whole prompt (the same FLOPs, fewer row tiles per wave). The difference is added to the row's
predicted run time. Nothing is fitted; per-chunk host time and the lm_head are left out.
(The model also prices the memory-bound kernels and the launches per chunk, and vllm-0.6's step
figure is refitted, so its column differs a little from "attn 64 + GEMMs".)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from costmodel.calibration.published import as_time, predict, read, validate
from costmodel.core.efficiency import gemm_time_s, prefill_attention_time_s
from costmodel.core.kernel_model import _bf16_peak, _engine_params
from costmodel.core.kernel_params import Device
from costmodel.loading.load import load_engine, load_hardware, load_model

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT / "costmodel" / "calibration" / "data" / "published_runs.csv"
CHUNK = 512  # vLLM 0.6 SchedulerConfig default max_num_batched_tokens with chunked prefill
LONG = 32768  # arg_utils: chunked prefill by default when max_model_len > 32K


FA2_PAGED_BLOCK = 64.0  # run_mha_fwd_splitkv_dispatch: kBlockM = 64 for all head dims


def prompt_s(model: str, hardware: str, tokens: int, tp: int) -> dict[str, float]:
    """Seconds of the prompt's attention and GEMMs, all layers, on one of tp GPUs (heads and
    GEMM columns split over the GPUs): one pass ('attn', 'gemm') and the sum over CHUNK-token
    chunks ('attn_chunks' in FlashAttention-2's 64-row blocks, 'attn_chunks_128' in the
    model's, 'gemm_chunks')."""
    llm = load_model(model).llm
    hw = load_hardware(hardware)
    p = _engine_params(hw, load_engine("vllm"), False)
    peak = _bf16_peak(hw)
    dev = Device(hw.memory_bytes_per_s, int(hw.sm_count or 0), hw.exp_per_s or np.inf, peak)
    heads, kvh = llm.num_heads // tp, max(llm.num_kv_heads // tp, 1)
    d, a = llm.hidden_size // llm.num_heads, 2.0  # head_dim; bf16 bytes
    start = np.arange(0, tokens, CHUNK, dtype=float)
    q = np.minimum(CHUNK, tokens - start)

    def chunks(block: float) -> float:
        return float(np.sum(prefill_attention_time_s(
            1, q, start + q / 2, heads, d, False, 0.0, peak,
            a * 2 * (q * heads + (start + q) * kvh) * d, dev, p, block)))

    h, i = llm.hidden_size, llm.intermediate_size
    gemms = [(h, (heads + 2 * kvh) * d), (heads * d, h), (h, 2 * i // tp), (i // tp, h)]  # (k, n)
    rows = np.concatenate([[float(tokens)], q])  # the one pass, then each chunk
    g = np.ravel(sum(gemm_time_s(rows, n, k, peak, a, a, a, dev, p) for k, n in gemms))
    out = {"attn": float(np.sum(prefill_attention_time_s(
               1, tokens, tokens, heads, d, True, 0.0, peak,
               a * 2 * tokens * (heads + kvh) * d, dev, p))),
           "attn_chunks": chunks(FA2_PAGED_BLOCK), "attn_chunks_128": chunks(128.0),
           "gemm": float(g[0]), "gemm_chunks": float(np.sum(g[1:]))}
    return {k: v * llm.num_layers for k, v in out.items()}


def errors(r: pd.Series, t: dict[str, float]) -> tuple[float, float, float, float]:
    """Throughput errors (+ = predicted too fast), as validate --published reports them: as
    priced; with the attention in chunks (64-row, then 128-row blocks); with the GEMMs too."""
    base = r["predicted_s"]
    attn64 = base + t["attn_chunks"] - t["attn"]
    attn128 = base + t["attn_chunks_128"] - t["attn"]
    both = attn64 + t["gemm_chunks"] - t["gemm"]
    m = r["measured_s"]
    return m / base - 1, m / attn64 - 1, m / attn128 - 1, m / both - 1


def main() -> None:
    frame, _ = validate(CSV)
    model = frame[(frame["engine"] == "vllm-0.6") & (frame["text_tokens"] > LONG)]
    rows = predict(read(CSV).set_index("id").loc[model["id"]].reset_index().assign(
        engine="vllm"))  # one pass, as the model priced them before vllm-0.6
    rows["measured_s"] = as_time(rows, "value")
    rows["predicted_s"] = as_time(rows, "predicted")
    rows["model"] = model["model"].to_numpy()
    ours = as_time(model, "value") / as_time(model, "predicted") - 1
    print(f"{'id':9} {'model':22} {'tokens':>6} {'tp':>2} {'priced':>7} {'attn 64':>8} "
          f"{'attn 128':>8} {'attn 64 + GEMMs':>15} {'vllm-0.6':>8}")
    errs = []
    for (_, r), own in zip(rows.iterrows(), ours, strict=True):
        e = errors(r, prompt_s(r["model"], r["hardware"], int(r["text_tokens"]), int(r["tp"])))
        errs.append((*e, own))
        name = Path(r["model"]).parent.name or r["model"]
        print(f"{r['id']:9} {name:22} {int(r['text_tokens']):>6} {int(r['tp']):>2} "
              f"{e[0]:+7.1%} {e[1]:+8.1%} {e[2]:+8.1%} {e[3]:+15.1%} {own:+8.1%}")
    med = np.median(np.abs(np.array(errs)), axis=0)
    print(f"median |error| of these {len(rows)} rows: {med[0]:.1%} as one pass (vllm); prompt "
          f"in chunks: attention {med[1]:.1%} (64-row blocks) / {med[2]:.1%} (128-row), "
          f"attention and GEMMs {med[3]:.1%}; the model's vllm-0.6 {med[4]:.1%} (error of the "
          "throughput: + = predicted too fast)")


if __name__ == "__main__":
    main()
