"""Microbenchmarks for `costmodel calibrate` (torch; imported only by that command).

What is measured (never the validation points): GEMMs of LLM shapes over a range of row
counts, an elementwise add and a copy (bandwidth), RMSNorm, SwiGLU, RoPE-like rotate,
embedding gather, SDPA (causal prefill-shaped, and one query over a cached K/V slice), and
the per-kernel launch overhead (a long run of one-element adds, divided by the count).
Each kernel is timed by costmodel.calibration.timing (median over batches of back-to-back
calls; retried when another process shows as a wide spread); CUDA timings synchronise around
a batch. Reference kernels (costmodel.calibration.references) are measured before and after
the microbenchmarks, for the checks a profile must pass before it is written.

Sizes (`Sizes`): `quick` for tests, `default` (model-sized shapes: hidden 512, 1024 and 2048,
rows 1 to 512, a 32000-column vocabulary projection; about 45 s on a 2-core CPU) and
`thorough` (hidden 2048 and 4096, rows to 4096; many minutes on a CPU). Vector operands stay
below 32 MiB: glibc serves a fresh buffer above that from new pages (mmap), which a model's
activations of that size would also pay, but no model shape here reaches.

Cold weights: a model's decode step streams every weight from DRAM once, so a GEMM whose
weight stays in the last-level cache between calls would measure cache, not memory,
bandwidth. Each GEMM therefore cycles through copies of its weight totalling at least
`COLD_BYTES` (4x a 32 MiB L3; far below GPU memory). The bandwidth peak is the out-of-cache
add (references.SIZES elements per operand, preallocated output), the median of its three
measurements (start, middle, end), not one of the small cached adds.

Every benchmark returns (op class, costmodel Op of the same shape, measured seconds per call),
so the fit compares a measurement with the roofline of exactly the operator the model charges.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from costmodel.calibration import references
from costmodel.calibration.timing import Timer
from costmodel.core.ops import (
    ACT_FLOPS,
    ADD_FLOPS,
    NORM_FLOPS,
    ROPE_FLOPS,
    AttnShape,
    Op,
    attention,
    embedding,
    linear,
    vector_op,
)


@dataclass(frozen=True)
class Sizes:
    hidden: tuple[int, ...]
    rows: tuple[int, ...]
    attn_seq: tuple[int, ...]
    repeats: int
    vocab: int  # columns of the vocabulary-projection GEMM (0: none)


COLD_BYTES = 128 * 2**20  # weight copies a GEMM cycles through (bytes)

SIZES = {
    "quick": Sizes(hidden=(512, 1024), rows=(1, 8, 64, 256), attn_seq=(64, 256, 1024),
                   repeats=5, vocab=0),
    "default": Sizes(hidden=(512, 1024, 2048), rows=(1, 64, 128, 256, 512),
                     attn_seq=(64, 256, 1024),
                     repeats=5, vocab=32000),
    "thorough": Sizes(hidden=(2048, 4096), rows=(1, 4, 16, 64, 256, 1024, 4096),
                      attn_seq=(256, 1024, 4096), repeats=10, vocab=32000),
}


@dataclass(frozen=True)
class Sample:
    curve: str  # efficiency-curve class
    op: Op
    measured_s: float


def probe_spec() -> Any:
    """A decoder whose arithmetic is negligible (hidden 64): its eager decode step is almost all
    per-operator framework cost (Python module calls, dispatch, views, the KV-cache write)."""
    from costmodel.specs.model import LLMSpec, ModelSpec

    llm = LLMSpec(hidden_size=64, num_layers=4, num_heads=2, num_kv_heads=1,
                  intermediate_size=128, vocab_size=256)
    return ModelSpec(name="overhead-probe", llm=llm, source="costmodel calibrate")


PROBE_PROMPT = 16  # prompt tokens before the probe's timed decode step


def probe_step_s(t: Timer, dtype: Any) -> float:
    """Seconds of one eager decode step of `probe_spec` in the torch reference model."""
    from costmodel.reference.model import build

    torch = t.torch
    m = build(probe_spec(), t.device, dtype)
    with torch.inference_mode():
        cache = m.llm.new_cache(1, PROBE_PROMPT + 1)
        ids = torch.randint(0, 256, (1, PROBE_PROMPT), device=t.device)
        m.llm.prefill(ids, cache)
        tok = ids[:, :1]
        return t.per_call_s(lambda: m.llm.decode(tok, cache, PROBE_PROMPT))


def launch_overhead_s(t: Timer) -> float:
    """Per-kernel cost of a kernel that does (almost) no work, in eager mode."""
    x = t.torch.ones(1, device=t.device)
    return t.per_call_s(lambda: x.add_(1.0), calls=200)


def gemm_samples(t: Timer, s: Sizes, dtype: Any, nbytes: float) -> list[Sample]:
    """y = F.linear(x, W) with W stored [d_out, d_in], as nn.Linear (and so every transformers
    model) stores it: the layout decides which BLAS kernel runs."""
    out = []
    for h in s.hidden:
        # a decoder layer's own projections, unfused as nn.Linear runs them: q and o (h -> h),
        # k and v under GQA (h -> h/4), gate and up (h -> 2.7h), down (2.7h -> h)
        shapes = [(h, h), (h, h // 4), (h, int(2.7 * h)), (int(2.7 * h), h)]
        for d_in, d_out in shapes + ([(h, s.vocab)] if s.vocab else []):
            w = t.torch.randn(d_out, d_in, device=t.device, dtype=dtype)
            ws = [w] + [w.clone() for _ in range(int(COLD_BYTES // (d_in * d_out * nbytes)))]
            for m in s.rows:
                x = t.torch.randn(m, d_in, device=t.device, dtype=dtype)
                sec = t.per_call_s(_cycling(x, ws))
                out.append(Sample("linear", linear("gemm", "prefill", np.asarray([m], float),
                                                   d_in, d_out, False, nbytes, nbytes), sec))
    return out


def _cycling(x: Any, ws: list[Any]) -> Callable[[], Any]:
    """F.linear(x, next of `ws`) on each call (cold weights)."""
    import torch.nn.functional as F  # noqa: N812

    box = [0]

    def fn() -> Any:
        box[0] = (box[0] + 1) % len(ws)
        return F.linear(x, ws[box[0]])

    return fn


def stream_sample(t: Timer, dtype: Any, nbytes: float) -> Sample:
    """The reference add (operands far out of cache; costmodel.calibration.references.SIZES):
    the memory bandwidth."""
    n = references.SIZES[t.device][0]
    a = t.torch.randn(n, device=t.device, dtype=dtype)
    b, c = a.clone(), a.clone()  # preallocated output: no page faults of a fresh buffer
    op = references.reference_ops(t.device, nbytes)["add"]
    return Sample("elementwise", op, t.per_call_s(lambda: t.torch.add(a, b, out=c)))


EMBED_ROWS = 32000  # rows of the embedding table the gather reads from


def vector_samples(t: Timer, s: Sizes, dtype: Any, nbytes: float) -> list[Sample]:
    """Add, RMSNorm, SwiGLU, RoPE-like rotate and embedding gather over every (hidden, rows)."""
    torch, out = t.torch, []
    for h in s.hidden:
        w = torch.ones(h, device=t.device, dtype=dtype)
        table = torch.randn(EMBED_ROWS, h, device=t.device, dtype=dtype)
        for m in s.rows:
            ops = _vector_ops(m, h, nbytes)
            out += [Sample(curve, ops[curve], t.per_call_s(fn))
                    for curve, fn in _vector_kernels(t, m, w, table, dtype).items()]
    return out


def _vector_ops(m: int, h: int, nbytes: float) -> dict[str, Op]:
    """The costmodel operator of each vector kernel over m rows of width h, by curve class."""
    e = np.asarray([m * h], float)
    return {
        "elementwise": vector_op("add", "p", "elementwise", e, ADD_FLOPS, 2.0, nbytes),
        "norm": vector_op("norm", "p", "norm", e, NORM_FLOPS["rmsnorm"], 1.0, nbytes, h, nbytes),
        "activation": vector_op("act", "p", "activation", 2 * e, ACT_FLOPS["swiglu"], 2.0,
                                nbytes),
        "rope": vector_op("rope", "p", "rope", e, ROPE_FLOPS, 1.0, nbytes),
        "embedding": embedding("emb", "p", np.asarray([m], float), h, nbytes, nbytes),
    }


def _vector_kernels(t: Timer, m: int, w: Any, table: Any, dtype: Any
                    ) -> dict[str, Callable[[], Any]]:
    """The torch kernel of each vector operator over m rows of width len(w), by curve class
    (in the order they are timed)."""
    torch, h = t.torch, w.shape[0]
    a = torch.randn(m, h, device=t.device, dtype=dtype)
    b = torch.randn(m, h, device=t.device, dtype=dtype)
    g = torch.randn(m, 2 * h, device=t.device, dtype=dtype)
    idx = torch.randint(0, EMBED_ROWS, (m,), device=t.device)

    def rms() -> Any:
        return a * torch.rsqrt(a.float().pow(2).mean(-1, keepdim=True) + 1e-6).to(a) * w

    def rot() -> Any:
        x1, x2 = a.chunk(2, -1)
        return torch.cat((-x2, x1), -1) * b + a * b

    return {"elementwise": lambda: a + b, "norm": rms,
            "activation": lambda: torch.nn.functional.silu(g) * g, "rope": rot,
            "embedding": lambda: torch.nn.functional.embedding(idx, table)}


def attention_samples(t: Timer, s: Sizes, dtype: Any, nbytes: float) -> list[Sample]:
    torch, out = t.torch, []
    heads, dh = 8, 64
    for n in s.attn_seq:
        q = torch.randn(1, heads, n, dh, device=t.device, dtype=dtype)

        def prefill(q: Any = q) -> Any:
            return torch.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True)

        sec = t.per_call_s(prefill)
        one = np.asarray([1.0])
        shape = AttnShape(seqs=one, q=one * n, k=one * n, heads=heads, kv_heads=heads,
                          head_dim=dh, causal=True, kv_from_cache=False)
        out.append(Sample("attention", attention("sdpa", "p", shape, nbytes, nbytes, True)[0], sec))
        # decode-shaped: one query over n cached keys (a slice of a larger preallocated cache)
        kv = torch.randn(1, heads, 2 * n, dh, device=t.device, dtype=dtype)[:, :, :n]
        q1 = q[:, :, :1]

        def decode(q1: Any = q1, kv: Any = kv) -> Any:
            return torch.nn.functional.scaled_dot_product_attention(q1, kv, kv)

        sec = t.per_call_s(decode)
        shape = AttnShape(seqs=one, q=one, k=one * n, heads=heads, kv_heads=heads, head_dim=dh,
                          causal=False, kv_from_cache=True)
        out.append(Sample("attention", attention("sdpa", "d", shape, nbytes, nbytes, True)[0], sec))
    return out


@dataclass(frozen=True)
class Result:
    device_name: str
    math_dtype: str  # dtype of every sample
    launch_s: float
    samples: list[Sample]
    peak_flops: dict[str, float]  # best GEMM FLOP/s seen, per dtype
    stream_Bps: float  # bytes/s of the out-of-cache add (the bandwidth peak)
    probe_step_s: float  # one eager decode step of probe_spec() (framework cost per kernel)
    references: list[references.Reference]
    noisy: int  # measurements whose spread stayed above timing.SPREAD_LIMIT
    timings: int  # measurements taken
    worst_spread: float
    seconds: float
    mode: str
    threads: str = ""  # ", N threads" on CPU


def best_gemm_flops(t: Timer, dtype: Any, h: int) -> float:
    x = t.torch.randn(h, h, device=t.device, dtype=dtype)
    return 2.0 * h**3 / t.per_call_s(lambda: x @ x)


Progress = Callable[[int, int, str], None]  # (steps done, steps, what runs next)


def _groups(t: Timer, s: Sizes, dtype: Any, nbytes: float
            ) -> list[tuple[str, Callable[[], list[Sample]]]]:
    n_gemm = len(s.hidden) * (4 + bool(s.vocab)) * len(s.rows)
    return [
        (f"{n_gemm} GEMMs", lambda: gemm_samples(t, s, dtype, nbytes)),
        (f"{5 * len(s.hidden) * len(s.rows)} vector ops",
         lambda: vector_samples(t, s, dtype, nbytes)),
        (f"{2 * len(s.attn_seq)} attentions", lambda: attention_samples(t, s, dtype, nbytes)),
        ("bandwidth add", lambda: [stream_sample(t, dtype, nbytes)]),
    ]


def run(device: str, mode: str = "default", threads: int | None = None,
        progress: Progress | None = None) -> Result:
    """All benchmarks, between two measurements of the reference kernels. Samples in bf16 on
    CUDA, fp32 on CPU (CPU bf16 matmuls are often emulated and would not say what the device
    does in its native format); the bf16 peak (which a profile needs) comes from one square
    bf16 GEMM on either device. `progress` is called before each step and once at the end."""
    torch = _torch_on(device, threads)
    t0 = time.perf_counter()
    s = SIZES[mode]
    t = Timer(torch, device, s.repeats)
    dtype, nbytes = (torch.bfloat16, 2.0) if device == "cuda" else (torch.float32, 4.0)
    torch.manual_seed(0)
    launch, probe, samples, refs = _measure(t, s, dtype, nbytes, progress)
    math = "bf16" if device == "cuda" else "fp32"
    peaks = _peaks(t, samples, math)
    stream = samples[-1] = _stream_median(samples[-1], refs)
    name, nthreads = _device_label(torch, device)
    return Result(name, math, launch, samples, peaks,
                  float(np.ravel(stream.op.bytes)[0]) / stream.measured_s, probe, refs,
                  t.noisy_count(), len(t.timings), t.worst_spread(),
                  time.perf_counter() - t0, mode, nthreads)


def _torch_on(device: str, threads: int | None) -> Any:
    """torch, checked to reach `device`, on `threads` CPU threads (None: torch's default)."""
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        from costmodel.errors import CostmodelError

        raise CostmodelError("--device: cuda is not available here; use --device cpu")
    if threads is not None:
        torch.set_num_threads(threads)
    return torch


def _measure(t: Timer, s: Sizes, dtype: Any, nbytes: float, progress: Progress | None
             ) -> tuple[float, float, list[Sample], list[references.Reference]]:
    """(launch overhead s, probe decode step s, samples, references): the reference kernels,
    the launch overhead and framework cost, every sample group (_groups; the bandwidth add
    last), the reference kernels again. `progress` before each step and once at the end."""
    tick = progress or (lambda done, total, what: None)
    groups = _groups(t, s, dtype, nbytes)
    steps = len(groups) + 3
    tick(0, steps, "reference add, copy, GEMM")
    before = references.measure(t, dtype)
    tick(1, steps, "launch overhead, framework cost")
    launch, probe = launch_overhead_s(t), probe_step_s(t, dtype)
    samples: list[Sample] = []
    for i, (what, group) in enumerate(groups):
        tick(2 + i, steps, what)
        samples += group()
    tick(steps - 1, steps, "reference add, copy, GEMM again")
    refs = references.combine(references.reference_ops(t.device, nbytes), before,
                              references.measure(t, dtype))
    tick(steps, steps, "done")
    return launch, probe, samples, refs


def _peaks(t: Timer, samples: list[Sample], math: str) -> dict[str, float]:
    """Best GEMM FLOP/s per dtype: the best linear sample in `math`, and bf16 from one square
    GEMM where `math` is not bf16 (emulated on most CPUs: a small one says enough)."""
    peaks = {math: max(float(x.op.matmul_flops[0]) / x.measured_s for x in samples
                       if x.curve == "linear")}
    if math != "bf16":
        peaks["bf16"] = best_gemm_flops(t, t.torch.bfloat16, 256)
    return peaks


def _stream_median(stream: Sample, refs: list[references.Reference]) -> Sample:
    """The bandwidth sample at the median of its three measurements (start, middle, end): the
    stream add is the reference add's operator, and on a shared VM one moment's bandwidth is
    off by up to a third."""
    add = next(r for r in refs if r.name == "add")
    return Sample(stream.curve, stream.op, float(np.median(
        [add.before_s, stream.measured_s, add.after_s])))


def _device_label(torch: Any, device: str) -> tuple[str, str]:
    """(device name, ", N threads" on CPU else "")."""
    if device == "cuda":
        return torch.cuda.get_device_name(), ""
    return _cpu_name(), f", {torch.get_num_threads()} threads"


def _cpu_name() -> str:
    import platform

    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"
