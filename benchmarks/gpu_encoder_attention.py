"""Time ViT (encoder, non-causal) attention on this machine's GPU and write the kernel-table
format `costmodel validate --kernels` reads (issue 9: the only measured ViT table, H100 vLLM
0.19, carries pauses from outside load; docs/validation.md, "Prefill attention").

    python benchmarks/gpu_encoder_attention.py --out enc.csv            # CUDA, full grid
    python benchmarks/gpu_encoder_attention.py --out enc.csv --device cpu --quick  # dry run
    costmodel validate --kernels enc.csv -H h200 --per-row               # the comparison

What runs: torch.nn.functional.scaled_dot_product_attention on q, k, v [b, h, s, d] in bf16
with the FlashAttention backend only (torch.nn.attention.sdpa_kernel): PyTorch's own
FlashAttention-2 build, not vLLM's ViT kernel, so the rows carry framework TORCH and are
priced with the device's pooled figures. Timing: `--reps` calls captured in one CUDA graph,
replayed `--replays` times between two CUDA events after a warm-up; latency = the median
replay / reps, in milliseconds (the tables' unit). On the CPU (`--device cpu`, a check of the
script, not a measurement) the math backend runs in bf16 under perf_counter. Run it on an idle
GPU (nvidia-smi shows no other process) and keep the log: the point is a table without the
outside load.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

FULL = {"batch": (1, 4, 16), "isl": (256, 1024, 2304, 4096, 9216, 16384),
        "heads": (16,), "head_dim": (64, 80, 128)}
QUICK = {"batch": (1, 2), "isl": (64, 128), "heads": (2,), "head_dim": (64,)}
COLUMNS = ("framework", "version", "device", "op_name", "kernel_source", "batch_size", "isl",
           "num_heads", "head_dim", "attn_dtype", "latency")


def _time_cuda(fn, reps: int, replays: int) -> float:  # noqa: ANN001
    """Median milliseconds per call of fn, reps calls per CUDA-graph replay."""
    import torch

    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        for _ in range(3):  # warm-up outside the graph (kernel selection, allocations)
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(reps):
            fn()
    graph.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(replays):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / reps)
    return statistics.median(times)


def _time_cpu(fn, reps: int, replays: int) -> float:  # noqa: ANN001
    fn()
    times = []
    for _ in range(replays):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        times.append((time.perf_counter() - t0) * 1e3 / reps)
    return statistics.median(times)


def measure(device: str, grid: dict[str, tuple[int, ...]], reps: int,
            replays: int) -> list[dict[str, object]]:
    """One row per (batch, isl, heads, head_dim) of the grid."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel

    cuda = device == "cuda"
    dtype = torch.bfloat16  # the CPU math backend runs bf16 too (slowly): a check of the script
    backend = SDPBackend.FLASH_ATTENTION if cuda else SDPBackend.MATH
    name = torch.cuda.get_device_name() if cuda else "cpu"
    rows = []
    for d in grid["head_dim"]:
        for h in grid["heads"]:
            for s in grid["isl"]:
                for b in grid["batch"]:
                    q, k, v = (torch.randn(b, h, s, d, device=device, dtype=dtype)
                               for _ in range(3))
                    with sdpa_kernel([backend]):
                        def fn(q=q, k=k, v=v):  # noqa: ANN001, ANN202
                            return torch.nn.functional.scaled_dot_product_attention(q, k, v)
                        ms = (_time_cuda if cuda else _time_cpu)(fn, reps, replays)
                    rows.append({"framework": "TORCH", "version": torch.__version__,
                                 "device": name, "op_name": "encoder_attention",
                                 "kernel_source": "torch_sdpa_flash" if cuda else "torch_sdpa_math",
                                 "batch_size": b, "isl": s, "num_heads": h, "head_dim": d,
                                 "attn_dtype": "bfloat16",
                                 "latency": ms})
                    del q, k, v
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    ap.add_argument("--quick", action="store_true", help="a tiny grid (a check of the script)")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--replays", type=int, default=7)
    a = ap.parse_args(argv)
    rows = measure(a.device, QUICK if a.quick else FULL, a.reps, a.replays)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with a.out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    print(f"{len(rows)} rows -> {a.out}")


if __name__ == "__main__":
    main()
