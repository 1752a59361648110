"""Sweep throughput: (model x hardware x tokens x batch) points per second of the vectorised
`costmodel.sweep.sweep`, and its speed-up over a Python loop calling `estimate` per point.

    python benchmarks/bench_sweep.py [--tokens 2881] [--loop-points 300]

The grid is 2 models (LLaVA-1.5-7B-shaped, Llama-2-7B-shaped) x every bundled device with a
bf16 peak x visual tokens 0..tokens-1 x batch {1, 2, 4, 8}. The loop rate is measured on a
sample of `--loop-points` points and the same points are checked for equality with the sweep.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from costmodel.analysis.estimate import point  # noqa: E402  (a sweep row: no refusals)
from costmodel.loading.load import hardware_ids, load_hardware  # noqa: E402
from costmodel.specs.model import LLMSpec, ModelSpec, ProjectorSpec, VisionSpec  # noqa: E402
from costmodel.specs.workload import Workload  # noqa: E402
from costmodel.sweep import sweep  # noqa: E402
from costmodel.units import DType  # noqa: E402

LLAMA2_7B = LLMSpec(hidden_size=4096, num_layers=32, num_heads=32, num_kv_heads=32,
                    intermediate_size=11008, vocab_size=32000)
LLAVA = ModelSpec(
    name="llava-1.5-7b-shape", llm=LLAMA2_7B,
    vision=VisionSpec(num_layers=24, hidden_size=1024, num_heads=16, intermediate_size=4096,
                      patch_size=14, image_size=336, pre_norm=True, feature_layer=-2),
    projector=ProjectorSpec(kind="mlp2x_gelu", input_dim=1024, output_dim=4096))
LLAMA = ModelSpec(name="llama-2-7b-shape", llm=LLAMA2_7B)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=2881)
    ap.add_argument("--loop-points", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    hws = [h for h in (load_hardware(i) for i in hardware_ids()) if h.supports(DType.bf16)]
    vis, batch, w = np.arange(a.tokens), np.array([1, 2, 4, 8]), Workload()
    best = best_cpu = np.inf
    for _ in range(a.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        df = sweep([LLAVA, LLAMA], hws, vis, batch, w)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    points = len(df) // 4
    sweep_rate = points / best
    rng = np.random.default_rng(0)
    idx = rng.choice(points, size=min(a.loop_points, points), replace=False)
    rows = df[df.stage == "prefill"].reset_index(drop=True).iloc[idx]
    by_model = {LLAVA.name: LLAVA, LLAMA.name: LLAMA}
    by_hw = {h.id: h for h in hws}
    t0, c0 = time.perf_counter(), time.process_time()
    worst = 0.0
    for r in rows.itertuples():
        e = point(by_model[str(r.model)], by_hw[str(r.hardware)],
                  w.model_copy(update={"batch": int(r.batch),
                                       "visual_tokens": int(r.visual_tokens)}))
        worst = max(worst, abs(e.ttft_s - r.ttft_s) / e.ttft_s,
                    abs(e.stages["prefill"].flops - r.flops) / max(r.flops, 1.0))
    loop_rate = len(rows) / (time.perf_counter() - t0)
    loop_cpu_rate = len(rows) / (time.process_time() - c0)
    print(f"grid: 2 models x {len(hws)} devices x {a.tokens} token counts x {len(batch)} "
          f"batches = {points} points ({len(df)} rows)")
    print(f"sweep: {best:.3f} s wall (best of {a.repeats}) -> {sweep_rate:,.0f} points/s; "
          f"{best_cpu:.3f} s CPU -> {points / best_cpu:,.0f} points/s")
    print(f"estimate loop: {loop_rate:,.0f} points/s wall, {loop_cpu_rate:,.0f} points/s CPU, "
          f"over {len(rows)} sampled points")
    print(f"speed-up: {sweep_rate / loop_rate:,.0f}x wall, "
          f"{points / best_cpu / loop_cpu_rate:,.0f}x CPU; largest relative difference on "
          f"the sample: {worst:.1e}")


if __name__ == "__main__":
    main()
