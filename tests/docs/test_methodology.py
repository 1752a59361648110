"""The worked example in docs/methodology.md matches what the code computes."""

from __future__ import annotations

import re

import numpy as np
import pytest

import costmodel
from costmodel.units import seconds
from tests.helpers import DOCS, run, shown_commands

DOC = DOCS / "methodology.md"


def _rows() -> dict[str, str]:
    text = DOC.read_text().split("## Worked example", 1)[1].split("\n## ", 1)[0]
    return {m.group(1): m.group(2).strip() for m in
            re.finditer(r"^\| ([a-z0-9_]+) \|[^|]*\| ([^|]+) \|$", text, re.M)}


@pytest.fixture(scope="module")
def est():
    return costmodel.estimate("llava-1.5-7b", "a100-80gb", engine="ideal")


def _sum(df, stage, cls, col="matmul"):
    return sum(
        float(c.op.count * np.ravel(c.op.matmul_flops if col == "matmul" else c.op.vector_flops)[0])
        for c in df.evaluation.op_costs if c.op.stage == stage and c.op.op_class == cls
    )


def test_worked_example(est):
    rows = _rows()
    rows.pop("key")  # the header row
    assert len(rows) == 10
    exact = {
        "prefill_linear_flops": _sum(est, "prefill", "linear"),
        "prefill_attention_matmul_flops": _sum(est, "prefill", "attention"),
        "prefill_softmax_flops": _sum(est, "prefill", "attention", "vector"),
        "prefill_lm_head_flops": _sum(est, "prefill", "lm_head"),
        "weights_bytes": est.memory.weights_bytes,
        "kv_cache_bytes": est.memory.kv_cache_bytes,
        "vision_flops": est.stages["vision"].flops,
    }
    for key, value in exact.items():
        assert float(rows[key]) == value, key
    for key, value in {"ttft_ms": est.ttft_s, "tpot_ms": est.tpot_s,
                       "e2e_ms": est.e2e_latency_s}.items():
        shown = rows[key].removesuffix(" ms")
        digits = len(shown.split(".")[1])
        assert float(shown) == round(value * 1e3, digits), key


def test_methodology_example_is_what_the_cli_prints(capsys):
    """docs/methodology.md shows one command and its LLM-Viewer line; both must be current."""
    doc = (DOCS / "methodology.md").read_text()
    block = doc.split("### Reproducing published LLM-Viewer tables")[1].split("```")[1]
    cmd = next(ln for ln in block.splitlines() if ln.startswith("costmodel estimate"))
    shown = next(ln for ln in block.splitlines() if ln.startswith("LLM-Viewer prefill:"))
    code, out, _ = run(cmd.split()[1:], capsys)
    assert code == 0 and shown in out.splitlines()


@pytest.mark.parametrize(("command", "shown"), shown_commands(DOC),
                         ids=[c for c, _ in shown_commands(DOC)])
def test_shown_output_is_what_the_command_prints(command, shown):
    """Every `$ costmodel ...` block shows today's output (benchmarks/refresh_doc_outputs.py
    rewrites them)."""
    code, out, err = run(command.split()[1:])
    assert code == 0, err
    assert out.rstrip() == shown


def _flat() -> str:
    return " ".join(DOC.read_text().split())


def test_worked_example_reading(est):
    """The prose under the worked example's table: stage times, the prefill's linear time, a
    decode step's weight and mean KV read, the visual share of the cache."""
    text, hw = _flat(), costmodel.load_hardware("a100-80gb")
    ms = {s: est.stages[s].latency_s * 1e3 for s in ("vision", "projector", "prefill")}
    assert (f"vision {ms['vision']:.3f} + projector {ms['projector']:.3f} + prefill "
            f"{ms['prefill']:.3f}") in text
    linear, peak = _sum(est, "prefill", "linear"), hw.peak_flops_per_s("bf16")
    assert (f"{linear / 1e12:.2f} TFLOP of linears / {peak / 1e12:.0f} TFLOP/s = "
            f"{linear / peak * 1e3:.1f} ms of its {ms['prefill']:.1f} ms") in text
    spec = costmodel.load_model("llava-1.5-7b").llm
    h, bw = spec.hidden_size, hw.memory_bytes_per_s
    weights = 2 * (spec.num_layers * (4 * h * h + 3 * h * spec.intermediate_size)
                   + h * spec.vocab_size)
    assert f"{weights / 1e9:.2f}e9 / {bw / 1e9:.0f}e9 = {weights / bw * 1e3:.2f} ms" in text
    mean_keys = 640 + 1 + (127 - 1) / 2  # step j attends over 641 + j keys, j = 0..126
    per_token = 2 * spec.num_layers * h * 2
    assert (f"averages {mean_keys:.0f} tokens x {per_token:,} B = {mean_keys * per_token / 1e9:.2f}"
            f" GB, {mean_keys * per_token / bw * 1e3:.2f} ms") in text
    cached = est.memory.kv_cache_bytes / per_token
    assert f"({100 * 576 / cached:.0f}% of the {cached:.0f} tokens cached at the end)" in text


def test_quantisation_example_table():
    """"Quantisation": the bound TTFT / TPOT, weights and KV cache of each row, and the claim
    that hf-eager's batch-1 latencies are the same for every row."""
    text = _flat()
    rows = {"(bf16)": {}, "`--weight-dtype int8`": {"weight_dtype": "int8"},
            "`--weight-dtype int4`": {"weight_dtype": "int4"},
            "`--dtype fp8`": {"weight_dtype": "fp8", "act_dtype": "fp8", "kv_dtype": "fp8"},
            "`--kv-dtype fp8`": {"kv_dtype": "fp8"}}
    expected = set()
    for name, kw in rows.items():
        e = costmodel.estimate("llava-1.5-7b", "h100-sxm", **kw)
        assert (f"| {name} | {e.bound.ttft_s * 1e3:.2f} ms | {e.bound.tpot_s * 1e3:.3f} ms | "
                f"{e.memory.weights_bytes / 1e9:.3f} GB | {e.memory.kv_cache_bytes / 1e6:.1f} MB |"
                ) in text, name
        expected.add((seconds(e.ttft_s), seconds(e.tpot_s)))
    (ttft, tpot), = expected
    assert f"the same, TTFT {ttft} and TPOT {tpot})" in text


def _g3(x: float) -> str:
    return f"{x:#.3g}".rstrip(".")


def test_parallel_example_table():
    """"Multi-GPU": bound TTFT / TPOT, per-GPU memory and the communication of each row."""
    text = _flat()
    rows = {"(1 GPU)": {}, "`--tp 2`": {"tp": 2}, "`--tp 4`": {"tp": 4}, "`--tp 8`": {"tp": 8},
            "`--pp 2`": {"pp": 2}, "`--pp 4 --microbatches 4`": {"pp": 4, "microbatches": 4}}
    for name, par in rows.items():
        d = costmodel.estimate("llava-1.5-7b", "h100-sxm", batch=8, parallel=par).to_dict()
        comm_ms = 1e3 * (d["parallel"]["comm_s"] + d["parallel"]["p2p_s"])
        comm = "0" if comm_ms == 0 else f"{comm_ms:.3g} ms" if comm_ms >= 1 else f"{comm_ms:.1f} ms"
        mem = d["memory"].get("per_gpu_total_memory_bytes", d["memory"]["total_memory_bytes"])
        assert (f"| {name} | {_g3(d['bound']['ttft_s'] * 1e3)} ms | "
                f"{_g3(d['bound']['tpot_s'] * 1e3)} ms | {_g3(mem / 1e9)} GB | {comm} |") in text, name


def test_compression_savings_paragraph():
    """"Token compression": the savings of three scenarios, at the bound and (in brackets)
    expected on hf-eager."""
    text = _flat()

    def saved(x: float, y: float) -> str:
        return f"{100 * (1 - y / x):.1f}%"

    found = []
    for kw in ({"keep": 0.1}, {"keep": 0.5, "at": "llm-layer:2"}, {"keep": 0.5, "at": "vit"}):
        c = costmodel.compare_compression("llava-1.5-7b", "a100-80gb", **kw)
        b, k = c.baseline, c.compressed[0]
        stage = "vision" if kw.get("at") == "vit" else "prefill"
        found.append((saved(b.stages[stage].flops, k.stages[stage].flops),
                      f"TTFT by {saved(b.bound.ttft_s, k.bound.ttft_s)} "
                      f"({saved(b.ttft_s, k.ttft_s)})",
                      saved(b.memory.kv_cache_bytes, k.memory.kv_cache_bytes),
                      f"end-to-end {saved(b.bound.e2e_latency_s, k.bound.e2e_latency_s)}, "
                      f"{saved(b.e2e_latency_s, k.e2e_latency_s)} expected"))
    (f1, t1, kv1, e1), (f2, t2, kv2, _), (f3, t3, _, _) = found
    assert (f"cuts prefill FLOPs by {f1}, {t1} and the KV cache by {kv1} ({e1}:") in text
    assert f"cuts prefill FLOPs by {f2}, {t2} and the KV cache by {kv2};" in text
    assert f"(r = 12) cuts vision FLOPs by {f3}, {t3}." in text


def test_video_compression_worked_example():
    """"Video token compression": prefill FLOPs and hf-eager's TTFT before and after tempmerge."""
    c = costmodel.compare_compression("llava-onevision-0.5b", "a100-80gb", video_frames=32,
                                      keep=0.5, method="tempmerge:0.25")
    b, k = c.baseline, c.compressed[0]
    assert (f"prefill {b.stages['prefill'].flops / 1e12:.2f} -> "
            f"{k.stages['prefill'].flops / 1e12:.2f} TFLOP, TTFT {b.ttft_s * 1e3:.0f} -> "
            f"{k.ttft_s * 1e3:.0f} ms (expected, hf-eager)") in _flat()


def test_weight_parts_example(tmp_path):
    """"Weight parts": Qwen2.5-VL-7B as its AWQ checkpoint stores it against int4 everywhere."""
    import json

    from tests.helpers import ROOT

    data = json.loads((ROOT / "costmodel" / "zoo_configs" / "qwen2.5-vl-7b.json").read_text())
    data["quantization_config"] = {"quant_method": "awq", "bits": 4, "group_size": 128,
                                   "zero_point": True, "modules_to_not_convert": ["visual"]}
    (tmp_path / "config.json").write_text(json.dumps(data))
    awq = costmodel.estimate(str(tmp_path), "a100-80gb", engine="vllm")
    every = costmodel.estimate("qwen2.5-vl-7b", "a100-80gb", engine="vllm", weight_dtype="int4")
    m = awq.model.llm
    text = _flat()
    assert (f"weights {awq.memory.weights_bytes / 1e9:.2f} GB, against "
            f"{every.memory.weights_bytes / 1e9:.2f} GB for the zoo model with `--weight-dtype int4` "
            "on every part (its default g128 with one fp16 scale, 2 bytes a group): "
            f"the {m.vocab_size * m.hidden_size * 2 / 1e9:.2f} GB bf16 lm_head "
            f"({m.vocab_size:,} x {m.hidden_size:,})") in text
    assert (f"(TPOT {awq.tpot_s * 1e3:.2f} ms expected, {awq.bound.tpot_s * 1e3:.2f} ms bound; "
            f"{every.tpot_s * 1e3:.2f} ms and {every.bound.tpot_s * 1e3:.2f} ms quantising every "
            "part)") in text


def test_sweep_axes_reading():
    """'Sweep axes': four 448x448 images and one 896x896 image give the same tokens and
    prefill; the ViT FLOPs differ as the prose says."""
    from costmodel.sweep import sweep

    df = sweep("qwen2-vl-2b", "a100-80gb", images=[1, 4], image_sizes=[(448, 448), (896, 896)],
               output_tokens=32)
    four = df[(df.images == 4) & (df.image_size == "448x448")].set_index("stage")
    one = df[(df.images == 1) & (df.image_size == "896x896")].set_index("stage")
    assert four.visual_tokens.iloc[0] == one.visual_tokens.iloc[0] == 1024
    assert four.flops["prefill"] == one.flops["prefill"]
    text = _flat()
    assert (f"the ViT attends within each image: {four.flops['vision'] / 1e12:.2f} TFLOP for the "
            f"four small images, {one.flops['vision'] / 1e12:.2f} TFLOP for the large one") in text


@pytest.mark.parametrize("cmd", [["compare"], ["plan", "--ttft", "1", "--max-batch", "4"],
                                 ["batching", "--batch", "1,2"],
                                 ["capacity", "--max-batch", "2"], ["energy"]])
def test_device_command_keys_are_the_records(cmd, capsys):
    """'The device commands' JSON and CSV' lists each command's record keys in order: the
    CSV header the command writes (the JSON's keys), with --tp 2 and a compression too."""
    text = DOC.read_text().split("<!-- device-command-keys -->", 1)[1].split("\n\n", 1)[0]
    keys = {m.group(1): m.group(2).split(", ") for m in
            re.finditer(r"^\| `([a-z]+)` \| ([A-Za-z0-9_, ]+) \|$", text, re.M)}
    for extra in ([], ["--tp", "2", "--keep", "0.5"]):
        code, out, _ = run([cmd[0], "llava-1.5-7b", "-H", "a100-80gb", *cmd[1:], *extra,
                            "-f", "csv"], capsys)
        assert code == 0 and out.splitlines()[0].split(",") == keys[cmd[0]]


def test_link_bound_decode_example():
    """"Bound": vLLM's --tp 8 decode of LLaVA-1.5-7B on h100-sxm, the shares named there and
    its letter (L, not M: the host's exposed time counts for neither side)."""
    from costmodel.analysis.devices import comm_share, host_share, resource
    from costmodel.core.metrics import compute_share

    ev = costmodel.estimate("llava-1.5-7b", "h100-sxm", engine="vllm",
                            parallel={"tp": 8}).evaluation
    stages = ["decode"]
    c, k, h = (float(np.ravel(f(ev.op_costs, stages, ev.ttft_s))[0])
               for f in (compute_share, comm_share, host_share))
    assert c == 0
    assert (f"h100-sxm, link {100 * k:.0f}%, host {100 * h:.0f}%, memory-bound operators "
            f"{100 * (1 - c - k - h):.0f}%, is L, not M") in _flat()
    assert np.ravel(resource(ev, stages))[0] == "comm"
