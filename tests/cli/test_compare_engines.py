"""`costmodel compare --engine a,b,...`: every (device, engine) pair ranked in one table, each
row what `estimate` gives for that device and engine; gaps said, not crashed on; the other
commands refuse an engine list in one line naming compare."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import MY_GPU_YAML, ROOT, run

MODEL = "llava-1.5-7b"
DEVICES = "a100-80gb,h100-sxm,l4"
WORKLOAD = ["--batch", "2", "--text-tokens", "100", "--output-tokens", "64", "--keep", "0.5"]
# a user's engine (docs/python-api.md, "Your own engine")
MY_ENGINE = """\
id: my-engine
name: eager prefill, CUDA-graph decode, 5 us a launch (a what-if)
kernels: measured
launch_per_kernel: true
decode_cuda_graphs: true
host_overhead_per_kernel_us: 5
host_overlap: async
sources:
  kernels: the device's measured efficiencies
  launch_per_kernel: assumed
  decode_cuda_graphs: assumed
  host_overhead_per_kernel_us: assumed
  host_overlap: assumed
  step_overhead_us: assumed (the default, 0)
  prefill_overhead_us: assumed (the default, 0)
  fused_op_classes: assumed (none)
"""


@pytest.fixture
def my_engine(tmp_path: Path) -> str:
    path = tmp_path / "my-engine.yaml"
    path.write_text(MY_ENGINE)
    return str(path)


def _json(args: list[str], capsys) -> list | dict:
    code, out, err = run(args + ["-f", "json"], capsys)
    assert code == 0, err
    return json.loads(out)


def test_every_pair_is_what_estimate_gives(my_engine, capsys):
    engines = ["vllm", "trtllm", "ideal", "hf-eager", my_engine]
    recs = _json(["compare", MODEL, "-H", DEVICES, "--engine", ",".join(engines), *WORKLOAD],
                 capsys)
    path = {"my-engine": my_engine}
    pairs = {(r["hardware"], r["engine"]) for r in recs}
    assert len(recs) == len(pairs) == 3 * len(engines)
    assert [r["rank"] for r in recs] == list(range(1, len(recs) + 1))
    e2e = [r["e2e_latency_s"] for r in recs]
    assert e2e == sorted(e2e)  # ranked by e2e over every pair (all fit)
    for r in recs:
        est = _json(["estimate", MODEL, "-H", r["hardware"], "--engine",
                     path.get(r["engine"], r["engine"]), *WORKLOAD], capsys)
        assert est["engine"] == r["engine"]
        for key in ("ttft_s", "tpot_s", "e2e_latency_s", "tokens_per_s"):
            assert r[key] == pytest.approx(est[key], rel=1e-12), (r["hardware"], r["engine"])
            if key != "tokens_per_s":
                assert r[f"bound_{key}"] == pytest.approx(est["bound"][key], rel=1e-12)
        assert r["total_memory_bytes"] == pytest.approx(est["memory"]["total_memory_bytes"],
                                                        rel=1e-12)
        assert r["compression"] != "none"


def test_ideal_rows_are_the_bound_and_the_table_says_so(capsys):
    args = ["compare", MODEL, "-H", DEVICES, "--engine", "vllm,ideal"]
    for r in _json(args, capsys):
        if r["engine"] == "ideal":
            assert r["e2e_latency_s"] == r["bound_e2e_latency_s"]
        else:
            assert r["e2e_latency_s"] > r["bound_e2e_latency_s"]
    code, out, err = run(args, capsys)
    assert code == 0 and err == ""
    head = out.splitlines()[0]
    assert "latencies expected on each row's engine (ideal: the roofline bound)" in head
    assert out.splitlines()[2].split()[:4] == ["#", "device", "engine", "dtype"]
    code, out, _ = run(["compare", MODEL, "-H", DEVICES, "--engine", "vllm,trtllm"], capsys)
    assert "the roofline bound: --engine ideal, or bound_* of -f json/csv" in out


def test_one_engine_keeps_its_table(capsys):
    """One engine: no engine column, the header names the engine (as before the lists)."""
    code, out, _ = run(["compare", MODEL, "-H", DEVICES, "--engine", "vllm"], capsys)
    assert code == 0 and "latencies expected on engine vllm" in out.splitlines()[0]
    assert out.splitlines()[2].split()[:3] == ["#", "device", "dtype"]


def test_an_engine_the_workload_refuses_is_said_not_crashed_on(capsys):
    """--convention llm-viewer prices only the bound: vllm alone is refused (exit 2), in a
    list it is left out with that line (the table's end; stderr with -f json/csv)."""
    args = ["compare", MODEL, "-H", "a100-80gb", "--convention", "llm-viewer"]
    code, _, alone = run(args + ["--engine", "vllm"], capsys)
    assert code == 2
    why = alone.removeprefix("error: ").strip()
    code, out, err = run(args + ["--engine", "vllm,ideal"], capsys)
    assert code == 0 and err == "" and out.rstrip().endswith(f"not ranked on vllm: {why}")
    code, out, err = run(args + ["--engine", "vllm,ideal", "-f", "json"], capsys)
    assert code == 0 and [r["engine"] for r in json.loads(out)] == ["ideal"]
    assert err.strip() == f"warning: not ranked on vllm: {why}"
    code, out, err = run(args + ["--engine", "vllm,trtllm"], capsys)  # none left: refused
    assert code == 2 and out == "" and err == alone


def test_a_refused_engine_drops_its_warnings(capsys):
    """llm-viewer-a100 has datasheet peaks only: vllm would warn about it, but vllm is
    refused, so no warning; the context warning comes once, not once per engine."""
    code, _, err = run(["compare", MODEL, "-H", "a100-80gb,llm-viewer-a100", "--engine",
                        "vllm,ideal", "--convention", "llm-viewer", "-f", "csv"], capsys)
    lines = err.strip().splitlines()
    assert code == 0 and len(lines) == 1 and lines[0].startswith("warning: not ranked on vllm")
    code, _, err = run(["compare", MODEL, "-H", "a100-80gb", "--engine", "vllm,trtllm,ideal",
                        "--text-tokens", "5000", "-f", "json"], capsys)
    assert code == 0 and len(err.strip().splitlines()) == 1 and "max_position" in err


def test_datasheet_devices_per_engine_as_compare_alone(capsys):
    """Each engine ranks the devices `compare --engine ENG` ranks: the default list leaves
    LLM-Viewer's datasheet copies out on vllm, not on ideal (said in the table); a datasheet
    device in -H warns once per engine with measured kernels."""
    recs = _json(["compare", MODEL, "--engine", "vllm,ideal"], capsys)
    for eng in ("vllm", "ideal"):
        alone = _json(["compare", MODEL, "--engine", eng], capsys)
        assert [(r["hardware"], r["e2e_latency_s"]) for r in recs if r["engine"] == eng] == \
            [(r["hardware"], r["e2e_latency_s"]) for r in alone]
    code, out, err = run(["compare", MODEL, "--engine", "vllm,ideal"], capsys)
    last = out.rstrip().splitlines()[-1]
    assert code == 0 and err == "" and last.startswith("not ranked on vllm: llm-viewer-a100, ")
    code, _, err = run(["compare", MODEL, "-H", f"h100-sxm,{MY_GPU_YAML}", "--engine",
                        "vllm,trtllm,ideal", "-f", "json"], capsys)
    lines = err.strip().splitlines()
    assert code == 0 and len(lines) == 2
    assert " on vllm " in lines[0] and " on trtllm " in lines[1]


@pytest.mark.parametrize("engines, needle", [
    ("vllm,trtlm", "--engine: unknown 'trtlm'; did you mean trtllm"),
    ("vllm,,ideal", "--engine: 'vllm,,ideal' has an empty entry"),
    ("vllm,/no/such.yaml", "--engine: no file '/no/such.yaml'"),
])
def test_a_bad_engine_in_the_list_is_refused_before_any_work(engines, needle, capsys):
    code, out, err = run(["compare", MODEL, "-H", "l4", "--engine", engines], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and needle in err


@pytest.mark.parametrize("args, needle", [
    (["compare", MODEL, "-H", "l4", "--engine", "vllm,ideal,vllm"],
     "--engine: vllm appears twice; give each engine once"),
    (["compare", MODEL, "-H", "l4", "--engine", f"ideal,{ROOT / 'costmodel/engines/ideal.yaml'}"],
     "--engine: ideal appears twice; give each engine once"),
    (["compare", MODEL, "-H", "l4,h100-sxm,l4", "--engine", "vllm,ideal"],
     "--hardware: l4 appears twice; give each device once"),
    (["compare", MODEL, "-H", "a100-80gb,A100-80GB"],
     "--hardware: a100-80gb appears twice; give each device once"),
    (["plan", MODEL, "-H", "l4,l4", "--ttft", "1"], "--hardware: l4 appears twice"),
    (["energy", MODEL, "-H", "l4,l4"], "--hardware: l4 appears twice"),
    (["batching", MODEL, "-H", "l4,l4", "--batch", "1,2"], "--hardware: l4 appears twice"),
    (["capacity", MODEL, "-H", "l4,l4", "--ttft", "1"], "--hardware: l4 appears twice"),
])
def test_a_device_or_engine_listed_twice_is_refused(args, needle, capsys):
    """Was: the pair's row twice, ranked 1 and 2 (compare), the device's row twice (plan,
    energy, batching, capacity), as sweep already refuses a device given twice."""
    code, out, err = run(args, capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert needle in err, err


@pytest.mark.parametrize("command", [
    ["estimate", MODEL, "-H", "l4"], ["sweep", MODEL, "-H", "l4", "--visual-tokens", "0,576"],
    ["compare-compression", MODEL, "-H", "l4", "--keep", "0.5"],
    ["plan", MODEL, "-H", "l4", "--ttft", "1"], ["batching", MODEL, "-H", "l4", "--batch", "1,2"],
    ["capacity", MODEL, "-H", "l4", "--ttft", "1"], ["energy", MODEL, "-H", "l4"],
], ids=lambda c: c[0])
def test_other_commands_refuse_an_engine_list_naming_compare(command, capsys):
    code, out, err = run(command + ["--engine", "vllm,trtllm"], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "'vllm,trtllm' is a comma list" in err and "`costmodel compare --engine`" in err


def test_the_plot_names_device_and_engine(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from costmodel.plots import compare_figure

    png = tmp_path / "engines.png"
    args = ["compare", MODEL, "-H", "h100-sxm,l4", "--engine", "vllm,ideal"]
    code, _, _ = run(args + ["--plot", str(png), "-q"], capsys)
    assert code == 0 and png.stat().st_size > 10_000
    recs = _json(args, capsys)
    fig = compare_figure(recs, "title")
    ttft = fig.axes[0]
    assert [t.get_text() for t in ttft.get_xticklabels()] == \
        [f"{r['hardware']} | {r['engine']}" for r in recs]
    assert {t.get_text() for t in ttft.get_legend().get_texts()} == \
        {"vllm", "ideal (roofline bound)"}
    one = compare_figure([r for r in recs if r["engine"] == "vllm"], "title")
    assert [t.get_text() for t in one.axes[0].get_xticklabels()] == ["h100-sxm", "l4"]
    assert one.axes[0].get_legend() is None
