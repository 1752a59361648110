"""Build costmodel/calibration/data/published_runs.csv from the shared published-runs table.

    python benchmarks/build_published_runs.py [../shared/measurements/published/published_runs.csv]

Maps each TensorRT-LLM, gpt-fast and Qwen2.5 row of the shared table (one published figure
each, with its exact quote) to the `costmodel validate --published` schema, adds the three rows
quoted in issue 9, and writes the `split` column (the rows benchmarks/fit_engines.py fits each
engine on; the rest are held out). The mapping rules, and the rows left out and why, are in
costmodel/calibration/data/NOTE.md.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "costmodel" / "calibration" / "data" / "published_runs.csv"
MEMORY_OUT = OUT.with_name("published_memory.csv")
DEFAULT = ROOT.parent / "shared" / "measurements" / "published" / "published_runs.csv"
MODELS = {"Llama-2-7B": "llama-2-7b", "Llama-2-70B": "configs/llama-2-70b/config.json",
          "Llama-3.1-8B": "configs/llama-3.1-8b/config.json",
          "Llama-3.1-70B": "configs/llama-3.1-70b/config.json",
          "Llama-3.1-405B": "configs/llama-3.1-405b/config.json"}
DUPLICATES = {"e2e-0216": "e2e-0208", "e2e-0219": "e2e-0215"}  # same figure, two README tables
GPT_FAST_OUTPUT = 200  # gpt-fast generate.py default --max_new_tokens
TRT = "NVIDIA/TensorRT-LLM docs/source/performance.md @ 138f96d45f90b9667426f7c47297d8c06bafac73"
GPT = "pytorch-labs/gpt-fast README.md @ 32971d3129541c5bfb4f715abc33d1c5f408d204"
# gpt-fast's int4 (quantize.py @ 0055c42dfeb98f5c3e1a1ab8c2e4b3025f7d3f3a: WeightOnlyInt4Linear's
# buffer scales_and_zeros is bf16 of shape [in_features // groupsize, out_features, 2], made by
# prepare_int4_weight_and_scales_and_zeros / pack_scales_and_zeros): a bf16 scale and a bf16
# zero per group = 4 bytes per group. The group size is the row's ("group size 32").
GPT_FAST_INT4_GROUP_BYTES = 4.0
EXTRA = [  # issue 9's three rows, checked against the source files in shared/.../sources/
    dict(id="i9-0001", model="llama-2-7b", hardware="a100-80gb", engine="trtllm-0.6",
         weight_dtype="fp16", act_dtype="fp16", kv_dtype="fp16", batch=1, visual_tokens=0,
         text_tokens=128, output_tokens=1, tp=1, pp=1, metric="ttft_s", value=0.016,
         source=f"{TRT} section \"Low Latency\" (A100 GPUs (FP16))",
         quote="| LLaMA 7B                     | 1          | 1         | 128          | "
               "                    16 |",
         notes="TensorRT-LLM v0.5; A100 variant not stated (a100-80gb assumed)."),
    dict(id="i9-0002", model="llama-2-7b", hardware="a100-80gb", engine="trtllm-0.6",
         weight_dtype="fp16", act_dtype="fp16", kv_dtype="fp16", batch=1, visual_tokens=0,
         text_tokens=2048, output_tokens=1, tp=1, pp=1, metric="ttft_s", value=0.133,
         source=f"{TRT} section \"Low Latency\" (A100 GPUs (FP16))",
         quote="| LLaMA 7B                     | 1          | 1         | 2048         | "
               "                   133 |",
         notes="TensorRT-LLM v0.5; A100 variant not stated (a100-80gb assumed)."),
    dict(id="i9-0003", model="llama-2-7b", hardware="a100-80gb", engine="torch-compile",
         weight_dtype="bf16", act_dtype="bf16", kv_dtype="bf16", batch=1, visual_tokens=0,
         text_tokens=5, output_tokens=GPT_FAST_OUTPUT, tp=1, pp=1,
         metric="decode_tokens_per_s", value=104.9, source=f"{GPT} section \"Benchmarks\"",
         quote="| Llama-2-7B  | Base    |  104.9  | 1397.31 |",
         notes="9.53 ms/token = 1/104.9. A100-80GB power-limited to 330 W; prompt 5 tokens; "
               "output length not stated (generate.py default 200 assumed)."),
]


def _gpus(hardware: str) -> int:
    m = re.search(r"x(\d+)", hardware)
    return int(m.group(1)) if m else 1


def _dtypes(precision: str) -> tuple[str, str, str]:
    if precision.startswith("fp8"):
        return "fp8", "fp8", "fp8"
    if precision.startswith(("int8", "int4")):
        return precision[:4], "bf16", "bf16"
    return precision, precision, precision


def _int4_group(precision: str) -> dict:
    """gpt-fast int4 rows: weight_group from 'group size N' and its 4 bytes per group; other
    rows leave both columns empty (the defaults, 128 and 2, which only int4 uses)."""
    m = re.search(r"group size (\d+)", precision)
    if not precision.startswith("int4"):
        return {}
    if m is None:
        raise ValueError(f"int4 row without a group size: {precision!r}")
    return dict(weight_group=int(m.group(1)), weight_group_bytes=GPT_FAST_INT4_GROUP_BYTES)


def _gpt_fast(r: pd.Series) -> dict:
    w, a, kv = _dtypes(r.precision)
    return dict(model=MODELS[r.model], hardware="a100-80gb", engine="torch-compile",
                weight_dtype=w, act_dtype=a, kv_dtype=kv, batch=1, text_tokens=5,
                output_tokens=GPT_FAST_OUTPUT, tp=_gpus(r.hardware), pp=1,
                metric="decode_tokens_per_s", value=r.value, **_int4_group(r.precision))


# The Qwen2.5 speed benchmark's vLLM rows ran vLLM 0.6.3 (their notes), whose chunked prefill of
# prompts over 32K the engine vllm-0.6 prices (docs/validation.md, "vLLM's chunked prefill").
VLLM_QWEN = "vllm-0.6"


def _qwen(r: pd.Series) -> dict:
    hf = r.software.startswith("HF")
    n = _gpus(r.hardware)
    name = r.model.lower()
    return dict(model=f"configs/{name}/config.json", hardware="a100-80gb",
                engine="hf-eager" if hf else VLLM_QWEN, weight_dtype="bf16", act_dtype="bf16",
                kv_dtype="bf16", batch=1, text_tokens=int(r.text_tokens),
                output_tokens=int(r.output_tokens), tp=1 if hf else n, pp=n if hf else 1,
                metric="output_tokens_per_s", value=r.value)


def _trt(r: pd.Series) -> dict:
    h100 = "H100" in r.hardware
    tp = int(re.search(r"TP=(\d+)", r.notes).group(1)) if "TP=" in r.notes else _gpus(r.hardware)
    w, a, kv = _dtypes(r.precision)
    ttft = r.metric.startswith("first token")
    # Throughput tables of v0.6.1: the H100 header says per GPU; the A100 header does not say
    # (notes). Both are read as per GPU (x TP for the total), as in the one table that says it.
    value = r.value / 1000 if ttft else r.value * tp
    return dict(model=MODELS[r.model.split(" ")[0]], hardware="h100-sxm" if h100 else "a100-80gb",
                engine="trtllm-0.6", weight_dtype=w, act_dtype=a, kv_dtype=kv, batch=int(r.batch),
                text_tokens=int(r.text_tokens), output_tokens=int(r.output_tokens), tp=tp, pp=1,
                metric="ttft_s" if ttft else "output_tokens_per_s", value=value)


# Max-load rows (TensorRT-LLM >= 0.19, trtllm-bench throughput, perf-overview.md table "Llama
# 3.1 8B"): the quote carries the H200 and the H100 column of one row; the shared table's value
# is the H100 one. batch: trtllm-bench's cap on requests in flight (tensorrt_llm/bench/build/
# tuning.py `finetune_setting`: min(KV-cache requests, 4096); "Max Runtime Batch Size: 4096"
# in perf-benchmarking.md's summary); the model runs its max-load batch up to it (capacity_of).
# KV cache fp8: trtllm-bench's FP8 mode ("Quantization: FP8", "KV Cache Dtype: FP8" in the
# same summary, docs/source/performance/perf-benchmarking.md @ 04276b44f20b).
MAX_LOAD_CAP = 4096
MAX_LOAD_NOTE = ("Max load (trtllm-bench throughput, PyTorch backend): batch = trtllm-bench's "
                 f"cap on requests in flight ({MAX_LOAD_CAP}, tensorrt_llm/bench/build/tuning.py); "
                 "KV cache fp8 as trtllm-bench's FP8 mode (perf-benchmarking.md); ")


def _max_load(r: pd.Series) -> list[dict]:
    """The H100 figure (the shared row's value) and the H200 figure of the same quoted row."""
    h200, h100 = (float(x.replace(",", "")) for x in re.findall(r"\| ([\d,]+) ", r.quote)[-2:])
    if h100 != r.value:
        raise ValueError(f"{r.id}: quote's H100 column {h100} is not the value {r.value}")
    base = dict(model="configs/llama-3.1-8b/config.json", engine="trtllm", weight_dtype="fp8",
                act_dtype="fp8", kv_dtype="fp8", batch=MAX_LOAD_CAP, visual_tokens=0,
                text_tokens=int(r.text_tokens), output_tokens=int(r.output_tokens), tp=1, pp=1,
                metric="max_load_output_tokens_per_s", source=r.source, quote=r.quote)
    return [dict(id=r.id, hardware="h100-sxm", value=h100, **base,
                 notes=MAX_LOAD_NOTE + "the H100 column."),
            dict(id=f"{r.id}-h200", hardware="h200", value=h200, **base,
                 notes=MAX_LOAD_NOTE + "the H200 column of the same quoted row.")]


# Qwen2.5's HF Transformers rows also give "GPU Memory(GB)": the sum over the GPUs of
# torch.cuda.max_memory_allocated / 1024**3 after generate() (QwenLM/Qwen2.5
# examples/speed-benchmark/speed_benchmark_transformers.py @ 054825eff821, `run`), so GiB.
MEMORY = re.compile(r"GPU memory \(GB\) in same row: (\d+(?:\.\d+)?)")


def memory_row(r: pd.Series) -> list[dict]:
    """The peak-memory figure beside a Qwen2.5 HF Transformers speed figure, as its own row."""
    m = MEMORY.search(str(r.notes))
    if not (m and r.model.startswith("Qwen2.5") and r.software.startswith("HF")):
        return []
    row = _qwen(r)
    row.update(metric="memory_bytes", value=float(m.group(1)) * 2**30)
    return [dict(id=f"{r.id}-mem", **row, visual_tokens=0, source=r.source, quote=r.quote,
                 notes="GPU Memory(GB) column: sum over the GPUs of torch.cuda."
                       "max_memory_allocated / 1024**3 (GiB), speed_benchmark_transformers.py. "
                       + r.notes)]


def split(row: dict) -> str:
    """The stated fit subsets (docs/validation.md): hf-eager and vllm on the Qwen2.5 0.5B,
    3B and 14B rows; trtllm-0.6 on the A100 rows but the TP > 1 throughput rows (whose per-GPU
    reading is an assumption); torch-compile on the bf16 single-GPU rows."""
    if row["engine"] == "trtllm" or row["metric"] == "memory_bytes":  # nothing fitted on them
        return "held-out"
    if row["engine"] in ("hf-eager", "vllm", VLLM_QWEN):
        return "fit" if re.search(r"qwen2\.5-(0\.5|3|14)b", row["model"]) else "held-out"
    if row["engine"] == "trtllm-0.6":
        sure = row["metric"] == "ttft_s" or row["tp"] == 1
        return "fit" if row["hardware"] == "a100-80gb" and sure else "held-out"
    single = row["tp"] == 1 and row["weight_dtype"] == "bf16"
    return "fit" if single else "held-out"


def convert(r: pd.Series) -> list[dict]:
    if r.id in DUPLICATES:
        return []
    if "max load" in str(r.batch):
        return _max_load(r)
    if r.software.startswith("gpt-fast"):
        row = _gpt_fast(r)
    elif r.model.startswith("Qwen2.5"):
        row = _qwen(r)
    elif r.software.startswith("TensorRT-LLM v0.") and r.model.startswith("Llama-2"):
        row = _trt(r)
    else:
        return []
    return [dict(id=r.id, **row, visual_tokens=0, source=r.source, quote=r.quote, notes=r.notes)]


COLS = ["id", "model", "hardware", "engine", "weight_dtype", "act_dtype", "kv_dtype", "batch",
        "visual_tokens", "text_tokens", "output_tokens", "tp", "pp", "weight_group",
        "weight_group_bytes", "metric", "value", "source", "split", "quote", "notes"]


def write(rows: list[dict], out: Path) -> None:
    df = pd.DataFrame(rows).assign(split=lambda d: [split(r) for r in d.to_dict("records")])
    for col in ("weight_group", "weight_group_bytes"):
        df[col] = df.get(col)
    df["weight_group"] = df["weight_group"].astype("Int64")  # empty (not 32.0) where not set
    df[COLS].to_csv(out, index=False)
    print(f"{out.relative_to(ROOT)}: {len(df)} rows "
          f"({(df['split'] == 'fit').sum()} fit, {(df['split'] == 'held-out').sum()} held out)")


def main(src: Path) -> None:
    shared = pd.read_csv(src)
    write([x for _, r in shared.iterrows() for x in convert(r)] + EXTRA, OUT)
    write([x for _, r in shared.iterrows() for x in memory_row(r)], MEMORY_OUT)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT)
