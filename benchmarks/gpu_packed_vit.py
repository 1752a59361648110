"""Time a windowed ViT layer's attention as transformers' SDPA path runs it against one call.

transformers' Qwen2.5-VL vision attention without FlashAttention-2 splits the packed sequence
by its window lengths and calls SDPA once per window, then concatenates (modeling_qwen2_5_vl.py,
"Process each chunk separately"); costmodel prices that as one launch per window on hf-eager
(core/packed.py; docs/methodology.md, "Packed ViT attention on an engine that splits it").
This times both on one device with random inputs (Qwen2.5-VL-7B's ViT: 16 heads of 80; 64-patch
windows; a 1280x720 image has 84 windows a layer) and prints the cost of one call of the loop
beyond the single batched call, to set against the model's per-launch figure:

    python benchmarks/gpu_packed_vit.py --device cuda        # on a GPU (gpu_session.sh runs it)
    python benchmarks/gpu_packed_vit.py --device cpu --quick  # a dry run

Prints one JSON object; nothing is written. Needs torch.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F  # noqa: N812


def _loop(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, lengths: list[int]) -> torch.Tensor:
    """transformers' path: torch.split by the window lengths, SDPA per window, torch.cat."""
    outs = [F.scaled_dot_product_attention(a, b, c).transpose(1, 2).contiguous()
            for a, b, c in zip(*(torch.split(t, lengths, dim=2) for t in (q, k, v)), strict=True)]
    return torch.cat(outs, dim=1)


def _one(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, windows: int) -> torch.Tensor:
    """The same work as one call: the windows as a batch of equal sequences."""
    h, s, d = q.shape[1:]
    def as_batch(t: torch.Tensor) -> torch.Tensor:
        return t.view(h, windows, s // windows, d).transpose(0, 1)
    return F.scaled_dot_product_attention(as_batch(q), as_batch(k), as_batch(v))


def _time_s(fn, sync, reps: int) -> float:  # type: ignore[no-untyped-def]
    fn()
    sync()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    sync()
    return (time.perf_counter() - t0) / reps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--windows", type=int, default=84)
    ap.add_argument("--window", type=int, default=64, help="patches per window")
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--head-dim", type=int, default=80)
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--quick", action="store_true", help="few windows and reps (a dry run)")
    a = ap.parse_args()
    windows, reps = (4, 2) if a.quick else (a.windows, a.reps)
    dev = torch.device(a.device)
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    q, k, v = (torch.randn(1, a.heads, windows * a.window, a.head_dim, device=dev, dtype=dtype)
               for _ in range(3))
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    lengths = [a.window] * windows
    with torch.inference_mode():
        loop_s = _time_s(lambda: _loop(q, k, v, lengths), sync, reps)
        one_s = _time_s(lambda: _one(q, k, v, windows), sync, reps)
    print(json.dumps({
        "device": torch.cuda.get_device_name() if dev.type == "cuda" else "cpu",
        "torch": torch.__version__, "windows": windows, "window": a.window, "heads": a.heads,
        "head_dim": a.head_dim, "dtype": str(dtype), "loop_s": loop_s, "one_call_s": one_s,
        "per_window_call_s": (loop_s - one_s) / windows}))


if __name__ == "__main__":
    main()
