"""Timing the torch reference model: prefill (vision + projector + LLM prefill, i.e. the TTFT
path) and one decode step, per (batch, visual tokens) point.

Each measurement: `warmup` untimed calls, then `repeats` timed calls; we report the median and
the 25th/75th percentiles in seconds. Contention (another process on the cores) shows as a wide
spread, (p75 - p25) / median: a measurement whose spread exceeds SPREAD_LIMIT is taken again
(up to RETRIES times) and the try with the smallest spread kept; `costmodel calibrate` times its
microbenchmarks under the same rule (costmodel.calibration.timing), and a point whose spread
stays wide is reported by `costmodel profile`, never dropped. CPU: `time.perf_counter` around each call. CUDA:
`torch.cuda.Event` pairs around each call, read after one synchronize. Decode runs eager and,
on CUDA, replayed from a CUDA graph captured for that context length (static shapes: the cache
is preallocated and the step writes a fixed slot).
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from costmodel.core.visual_tokens import plan_tokens
from costmodel.reference.contention import RETRIES, SPREAD_LIMIT, spread
from costmodel.reference.crosscheck import visual_embeds, visual_inputs
from costmodel.reference.model import ReferenceModel, build
from costmodel.specs.model import ModelSpec

COLUMNS = ("device_name", "torch_version", "dtype", "model", "batch", "visual_tokens",
           "text_tokens", "stage", "context_tokens", "median_s", "p25_s", "p75_s", "repeats",
           "mode", "date")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Row:
    device_name: str
    torch_version: str
    dtype: str
    model: str
    batch: int
    visual_tokens: int
    text_tokens: int
    stage: str  # prefill | decode
    context_tokens: int  # keys attended by the last token timed
    median_s: float
    p25_s: float
    p75_s: float
    repeats: int
    mode: str  # eager | cuda_graph
    date: str


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    return platform.processor() or platform.machine() or "cpu"


def time_calls(fn: Callable[[], object], device: torch.device, warmup: int,
               repeats: int) -> list[float]:
    """Seconds per call of `repeats` timed calls after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    if device.type != "cuda":
        out = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
        return out
    torch.cuda.synchronize(device)
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
              for _ in range(repeats)]
    for start, end in events:
        start.record()
        fn()
        end.record()
    torch.cuda.synchronize(device)
    return [s.elapsed_time(e) / 1e3 for s, e in events]  # ms -> s


def quietest_calls(fn: Callable[[], object], device: torch.device, warmup: int,
                   repeats: int) -> list[float]:
    """time_calls, taken again while its spread is above SPREAD_LIMIT (at most RETRIES more
    times); the try with the smallest spread."""
    best = time_calls(fn, device, warmup, repeats)
    for _ in range(RETRIES):
        if spread(best) <= SPREAD_LIMIT:
            break
        again = time_calls(fn, device, 0, repeats)
        best = again if spread(again) < spread(best) else best
    return best


def _graphed(fn: Callable[[], object], device: torch.device) -> Callable[[], object]:
    """Capture `fn` (static shapes, static inputs) in a CUDA graph; return its replay."""
    stream = torch.cuda.Stream(device)
    stream.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(stream):
        for _ in range(3):  # warm-up on a side stream, as capture requires
            fn()
    torch.cuda.current_stream(device).wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph.replay


@dataclass(frozen=True)
class Setup:
    model: ReferenceModel
    device: torch.device
    dtype: str
    text_tokens: int
    warmup: int
    repeats: int
    cuda_graphs: bool
    label: str  # the `model` column: what `costmodel validate` reloads (zoo id, path, tiny)


def _stage_fns(s: Setup, batch: int, visual_tokens: int) -> tuple[dict[str, Callable], int]:
    """Callables for the prefill path and one decode step; the prompt length."""
    m, dev, dt = s.model, s.device, DTYPES[s.dtype]
    plan = plan_tokens(m.spec, visual_tokens)
    prompt = int(plan.llm_tokens) + s.text_tokens
    cache = m.llm.new_cache(batch, prompt + 1)
    ids = torch.randint(0, m.spec.llm.vocab_size, (batch, s.text_tokens), device=dev)
    tok = torch.randint(0, m.spec.llm.vocab_size, (batch, 1), device=dev)

    x = visual_inputs(m.spec, plan, batch, dev, dt)

    def prefill() -> object:
        return m.llm.prefill(ids, cache, visual_embeds(m, plan, batch, x))

    prefill()  # fills the cache the decode step reads

    def decode() -> object:
        return m.llm.decode(tok, cache, prompt)

    return {"prefill": prefill, "decode": decode}, prompt


def profile_point(s: Setup, batch: int, visual_tokens: int, date: str) -> list[Row]:
    with torch.inference_mode():
        fns, prompt = _stage_fns(s, batch, visual_tokens)
        plans = [("prefill", "eager", fns["prefill"], prompt),
                 ("decode", "eager", fns["decode"], prompt + 1)]
        if s.cuda_graphs and s.device.type == "cuda":
            plans.append(("decode", "cuda_graph", _graphed(fns["decode"], s.device), prompt + 1))
        rows = []
        for stage, mode, fn, ctx in plans:
            t = np.asarray(quietest_calls(fn, s.device, s.warmup, s.repeats))
            rows.append(Row(
                device_name=device_name(s.device), torch_version=torch.__version__,
                dtype=s.dtype, model=s.label, batch=batch,
                visual_tokens=visual_tokens, text_tokens=s.text_tokens, stage=stage,
                context_tokens=ctx, median_s=float(np.median(t)),
                p25_s=float(np.percentile(t, 25)), p75_s=float(np.percentile(t, 75)),
                repeats=s.repeats, mode=mode, date=date))
    return rows


def profile(spec: ModelSpec, device: str, dtype: str, visual_tokens: list[int],
            batches: list[int], text_tokens: int = 64, warmup: int = 2, repeats: int = 10,
            cuda_graphs: bool = True, label: str | None = None,
            threads: int | None = None,
            progress: Callable[[int, int], None] | None = None) -> list[Row]:
    """Time every (batch, visual tokens) point; one row per stage and mode. `label` (default
    the spec name) is written as the `model` column; `threads`: torch.set_num_threads;
    `progress` is called as (points done, points) after each point."""
    if threads is not None:
        torch.set_num_threads(threads)
    dev = torch.device(device)
    s = Setup(build(spec, dev, DTYPES[dtype]), dev, dtype, text_tokens, warmup, repeats,
              cuda_graphs, label or spec.name)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    points = [(b, v) for b in batches for v in visual_tokens]
    rows: list[Row] = []
    for i, (b, v) in enumerate(points):
        rows += profile_point(s, b, v, date)
        if progress is not None:
            progress(i + 1, len(points))
    return rows


def kernel_times(spec: ModelSpec, device: str, dtype: str, batch: int, visual_tokens: int,
                 text_tokens: int = 64) -> list[dict[str, object]]:
    """Per-operator self times (s) from torch.profiler over one prefill and one decode step."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as tprofile

    dev = torch.device(device)
    s = Setup(build(spec, dev, DTYPES[dtype]), dev, dtype, text_tokens, 0, 1, False, spec.name)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    out: list[dict[str, object]] = []
    with torch.inference_mode():
        fns, _ = _stage_fns(s, batch, visual_tokens)
        for stage, fn in fns.items():
            fn()
            with tprofile(activities=acts) as prof:
                fn()
            for e in prof.key_averages():
                self_us = e.self_device_time_total if dev.type == "cuda" else e.self_cpu_time_total
                if self_us > 0:
                    out.append({"stage": stage, "kernel": e.key, "calls": e.count,
                                "self_s": self_us / 1e6})
    return out


def as_dicts(rows: list[Row]) -> list[dict[str, object]]:
    return [asdict(r) for r in rows]
