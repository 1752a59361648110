"""--engine on the command line: an unknown name is one line with a suggestion, estimate shows
the bound beside the expected latency, `engines list|show` (the engine files and their
launches: tests/unit/specs/test_engines.py)."""

from __future__ import annotations

import json

from tests.helpers import REQUIRED_ENGINES as REQUIRED
from tests.helpers import run


def test_cli_unknown_engine_one_line_with_suggestion(capsys):
    code, out, err = run(["estimate", "llava-1.5-7b", "-H", "a100-80gb", "--engine", "vlm"],
                         capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "did you mean vllm" in err


def test_cli_estimate_shows_bound_and_expected(capsys):
    code, out, _ = run(["estimate", "llava-1.5-7b", "-H", "a100-80gb", "--engine", "vllm"],
                       capsys)
    assert code == 0 and "engine vllm (vLLM)" in out
    assert "expected: TTFT" in out and "bound:    TTFT" in out
    code, out, _ = run(["estimate", "llava-1.5-7b", "-H", "a100-80gb", "-f", "json"], capsys)
    doc = json.loads(out)
    assert doc["engine"] == "hf-eager" and doc["ttft_s"] > doc["bound"]["ttft_s"] > 0
    assert set(doc["bound"]["stages"]) == {"vision", "projector", "prefill", "decode"}


def test_cli_engines_list_and_show(capsys):
    code, out, _ = run(["engines", "list", "-f", "json"], capsys)
    assert code == 0 and {r["id"] for r in json.loads(out)} >= REQUIRED
    code, out, _ = run(["engines", "show", "trtllm"], capsys)
    assert code == 0 and "sources:" in out


def test_cli_engines_list_names_fused_gemms(capsys):
    """The list says which GEMM groups each engine runs as one GEMM (Engine.fused_gemms)."""
    code, out, _ = run(["engines", "list", "-f", "json"], capsys)
    by_id = {r["id"]: r["fused_gemms"] for r in json.loads(out)}
    assert code == 0 and by_id["vllm"] == "gate_up qkv" and by_id["hf-eager"] == ""
    assert by_id["torch-compile"] == "qkv"
    code, out, _ = run(["engines", "list"], capsys)
    assert code == 0 and "fused gemms" in out.splitlines()[0]


def test_cli_engines_list_names_the_vit_and_prefill_behaviours(capsys):
    """Each engine behaviour has its column: how a packed ViT's attention runs, whether a
    request's ViT passes share a graph, and where the prefill is chunked."""
    code, out, _ = run(["engines", "list"], capsys)
    rows = {ln.split()[0]: ln for ln in out.splitlines()[2:]}
    head = out.splitlines()[0]
    assert all(c in head for c in ("packed vit", "vit graph", "prefill chunks"))
    assert "masked" in rows["llama.cpp"] and "per pass" in rows["llama.cpp"]
    assert "per call" in rows["hf-eager"] and "batched" in rows["hf-eager"]
    assert "512 over 32768" in rows["vllm-0.6"] and "over" not in rows["vllm"]
