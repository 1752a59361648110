"""An engine's chunked prefill (Engine.prefill_chunk_tokens, core/chunked.py; vLLM 0.6): the
chunked GEMM and attention formulas against explicit loops over the chunks, and the engine
vllm-0.6 against vllm where it does not chunk (docs/methodology.md, "Inference engines")."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from costmodel.analysis.estimate import estimate
from costmodel.core.chunked import share_op
from costmodel.core.efficiency import (
    Device,
    KernelParams,
    chunked_attention_time_s,
    gemm_time_s,
    op_time_s,
    prefill_attention_time_s,
    rows_in_chunks_s,
)
from costmodel.core.ops import linear
from costmodel.loading.load import load_engine

DEV = Device(memory_bytes_per_s=2e12, sm_count=108, exp_per_s=1e12, sm_flops_per_s=312e12)
P = KernelParams(gemm_fraction=0.8, memory_fraction=0.9, gemm_tile_s=1e-7, gemm_fixed_s=4e-6,
                 attention_fraction=0.6, attention_tile_s=2e-7, attention_fixed_s=5e-6,
                 attention_io_flop_per_byte=3.0)
PEAK = 312e12
# text-only with a 128K context: long prompts without a context warning (vLLM 0.6 chunks
# text-only models alone: a vision model's prefill stays one pass, tested below)
MODEL = str(Path(__file__).resolve().parents[3] / "costmodel" / "calibration" / "data"
            / "configs" / "llama-3.1-8b" / "config.json")


def test_gemm_in_chunks_is_the_loop_over_chunks():
    """m = 1300 rows in chunks of 512: 512 + 512 + 276 rows, each a GEMM of its own."""
    n, k = 3584.0, 4096.0
    want = sum(float(gemm_time_s(r, n, k, PEAK, 2.0, 2.0, 2.0, DEV, P)[()])
               for r in (512.0, 512.0, 276.0))
    got = rows_in_chunks_s(np.array([1300.0]), 512.0,
                           lambda r: gemm_time_s(r, n, k, PEAK, 2.0, 2.0, 2.0, DEV, P))
    assert float(got[0]) == pytest.approx(want, rel=1e-12)
    op = linear("llm/L0/mlp/down", "prefill", np.array([[1300.0]]), int(k), int(n), False, 2.0,
                2.0)
    by_op = rows_in_chunks_s(np.array([1300.0]), 512.0, lambda r: op_time_s(
        share_op(op, r / 1300.0), DEV, P, PEAK, 2.0).ravel())
    assert float(by_op[0]) == pytest.approx(want, rel=1e-12)
    exact = rows_in_chunks_s(np.array([1024.0]), 512.0,  # no remainder: two GEMMs, no third
                             lambda r: gemm_time_s(r, n, k, PEAK, 2.0, 2.0, 2.0, DEV, P))
    assert float(exact[0]) == pytest.approx(
        2 * float(gemm_time_s(512.0, n, k, PEAK, 2.0, 2.0, 2.0, DEV, P)[()]), rel=1e-12)


def test_attention_in_chunks_is_the_loop_over_chunks():
    """2 requests of 1300 queries (causal, k = q), 28 heads / 4 KV heads of 128, chunks of 512
    in 64-row blocks: chunk j attends non-causally to its prefix + half itself, reading Q/O of
    its rows (2 B) and K/V of its prefix and itself (1 B, an fp8 cache); times the batch."""
    h, kvh, d, c = 28, 4, 128, 512.0
    want = 0.0
    for start in (0.0, 512.0, 1024.0):
        q = min(c, 1300.0 - start)
        by = 2.0 * d * (q * h * 2.0 + (start + q) * kvh * 1.0)
        want += float(np.ravel(prefill_attention_time_s(
            1.0, q, start + q / 2.0, h, d, False, 0.0, PEAK, by, DEV, P, 64.0))[0])
    got = chunked_attention_time_s(np.array([2.0]), np.array([1300.0]), np.array([1300.0]),
                                   True, h, kvh, d, 2.0, 1.0, c, 64.0, PEAK, DEV, P)
    assert float(got[0]) == pytest.approx(2.0 * want, rel=1e-12)


HOST = ("host_overhead_per_kernel_us", "step_overhead_us", "prefill_overhead_us")
CHUNK = ("prefill_chunk_tokens", "prefill_chunk_over_tokens", "prefill_chunk_attention_block",
         "prefill_chunk_text_only")


def _write(tmp_path, name: str, src: dict) -> str:  # noqa: ANN001
    f = tmp_path / f"{name}.yaml"
    f.write_text(json.dumps(src))  # JSON is YAML
    return str(f)


def _vllm(tmp_path) -> str:  # noqa: ANN001
    """vllm.yaml with vllm-0.6's host figures (refitted on its rows, benchmarks/fit_engines.py)."""
    src = load_engine("vllm").source_file.model_dump(mode="json")
    mine = load_engine("vllm-0.6").source_file.model_dump(mode="json")
    src.update({k: mine[k] for k in HOST})
    return _write(tmp_path, "vllm", src)


def test_vllm_06_is_vllm_but_the_chunks_and_the_host_figures():
    a, b = (load_engine(e).source_file.model_dump(mode="json") for e in ("vllm", "vllm-0.6"))
    skip = {"id", "name", "sources", "notes", *HOST, *CHUNK}
    assert {k: v for k, v in a.items() if k not in skip} == {
        k: v for k, v in b.items() if k not in skip}
    assert [b[k] for k in CHUNK] == [512, 32768, 64, True] and a["prefill_chunk_tokens"] is None


def _numbers(e) -> list[float]:  # noqa: ANN001
    ops = [(c.op.name, c.op.stage, float(np.ravel(c.latency_s)[0]),
            float(np.ravel(c.launch_s)[0])) for c in e.evaluation.op_costs]
    return [e.ttft_s, e.tpot_s, e.e2e_latency_s, *(x for o in ops for x in o[2:])]


@pytest.mark.parametrize(("text", "output", "batch"), [
    (30000, 2048, 1),  # sequence 32048 <= 32768: not chunked
    (500, 40000, 1),  # sequence over 32768, but the prompt fits one chunk
    (20000, 2048, 4)])  # four requests of 22048 tokens
def test_under_the_threshold_vllm_06_is_vllm(tmp_path, text, output, batch):
    kw = dict(text_tokens=text, output_tokens=output, visual_tokens=0, batch=batch)
    a, b = (estimate(MODEL, "a100-80gb", engine=e, **kw) for e in (_vllm(tmp_path), "vllm-0.6"))
    assert _numbers(b) == pytest.approx(_numbers(a), rel=1e-12)


def test_without_prefill_chunk_tokens_vllm_06_is_vllm(tmp_path):
    src = load_engine("vllm-0.6").source_file.model_dump(mode="json")
    src.pop("prefill_chunk_tokens")
    f = _write(tmp_path, "one-pass", src)
    for text, batch in ((40000, 1), (70000, 2), (1000, 1)):
        kw = dict(text_tokens=text, output_tokens=64, visual_tokens=0, batch=batch)
        a, b = (estimate(MODEL, "a100-80gb", engine=e, **kw) for e in (_vllm(tmp_path), f))
        assert _numbers(b) == pytest.approx(_numbers(a), rel=1e-12)


def test_a_chunked_prefill_changes_only_the_prefill_time_and_launches(tmp_path):
    """At 40000 tokens: FLOPs, bytes and the bound are the one pass's; decode is vllm's; every
    prefill operator but the lm_head launches ceil(40000 / 512) = 79 times as often."""
    kw = dict(text_tokens=40000, output_tokens=64, visual_tokens=0)
    a, b = (estimate(MODEL, "a100-80gb", engine=e, **kw) for e in (_vllm(tmp_path), "vllm-0.6"))
    for s in ("prefill", "decode"):
        assert b.stages[s].flops == pytest.approx(a.stages[s].flops, rel=1e-12)
        assert b.stages[s].bytes == pytest.approx(a.stages[s].bytes, rel=1e-12)
    assert b.bound.ttft_s == pytest.approx(a.bound.ttft_s, rel=1e-12)
    assert b.stages["decode"].latency_s == pytest.approx(a.stages["decode"].latency_s, rel=1e-12)
    assert b.ttft_s > a.ttft_s
    chunks = math.ceil(40000 / 512)
    for ca, cb in zip(a.evaluation.op_costs, b.evaluation.op_costs, strict=True):
        if ca.op.stage == "prefill" and ca.op.op_class not in ("overhead", "lm_head"):
            assert float(np.ravel(cb.launch_s)[0]) == pytest.approx(
                chunks * float(np.ravel(ca.launch_s)[0]), rel=1e-12)


@pytest.mark.parametrize("entry", ["sweep", "devices", "energy", "batching", "plan"])
def test_entry_points_equal_estimate_where_vllm_06_chunks(entry):
    """A chunked point (40000 prompt tokens, batch 2) on every entry point: estimate's
    numbers (tests/unit/analysis/test_entry_points.py's checks)."""
    from costmodel.loading.load import load_hardware, load_model
    from costmodel.specs.workload import Workload
    from tests.unit.analysis.test_entry_points import ENTRY_POINTS

    w = Workload(text_tokens=40000, visual_tokens=0, output_tokens=16, batch=2,
                 engine="vllm-0.6")
    ENTRY_POINTS[entry](load_model(MODEL), load_hardware("a100-80gb"), w)


def test_a_chunked_point_beside_others_is_priced_as_alone():
    """Points side by side (short prompts, one under the threshold, two chunked) give each
    point the numbers it gets alone (the validate path evaluates a model's rows together)."""
    from costmodel.analysis.prepare import prepare
    from costmodel.core.evaluate import evaluate
    from costmodel.loading.load import load_hardware, load_model
    from costmodel.specs.workload import Workload

    spec, hw = load_model(MODEL), load_hardware("a100-80gb")
    w = Workload(text_tokens=1, visual_tokens=0, output_tokens=64, engine="vllm-0.6")

    def e2e(texts: list[float]) -> list[float]:
        n = len(texts)
        cols = {"text_tokens": np.array(texts), "output_tokens": np.full(n, 64.0),
                "visual_tokens": np.zeros(n), "batch": np.ones(n)}
        return np.ravel(evaluate(spec, prepare(spec, [hw], w, columns=cols)).e2e_latency_s)

    texts = [100.0, 20000.0, 40000.0, 70000.0]
    assert list(e2e(texts)) == pytest.approx([e2e([t])[0] for t in texts], rel=1e-12)
    # beside a 1-token prompt too (whose own attention formula depends on its neighbours,
    # efficiency._attention_of_op, so only the others are compared)
    assert list(e2e([1.0, *texts])[1:]) == pytest.approx(list(e2e(texts)), rel=1e-12)


def test_a_vision_model_is_not_chunked(tmp_path):  # noqa: ANN001
    # vLLM 0.6 turns chunked prefill on for text-only models alone (prefill_chunk_text_only)
    kw = dict(visual_tokens=40000, text_tokens=64, output_tokens=16)
    a, b = (estimate("qwen2.5-vl-7b", "a100-80gb", engine=e, **kw)
            for e in (_vllm(tmp_path), "vllm-0.6"))
    assert _numbers(a) == pytest.approx(_numbers(b), rel=1e-12)
    text = dict(visual_tokens=0, text_tokens=40000, output_tokens=16)
    c, d = (estimate(MODEL, "a100-80gb", engine=e, **text) for e in (_vllm(tmp_path), "vllm-0.6"))
    assert d.stages["prefill"].latency_s > c.stages["prefill"].latency_s  # chunked
