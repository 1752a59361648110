"""qwen3-vl-30b-a3b (Qwen3-VL mixture of experts) on the command line: models list with its
active parameters, the MoE header of estimate, and compression of its visual tokens."""

from __future__ import annotations

import json

from tests.helpers import run

TOTAL = 31_070_754_032  # published: the checkpoint's 882 tensors (tests/unit/loading/test_zoo.py)
SKIPPED = 48 * (128 - 8) * 3 * 2048 * 768  # the experts a token does not run, all 48 layers
KV_PER_TOKEN = 48 * 2 * 4 * 128 * 2  # layers x (K, V) x 4 KV heads x head_dim x bf16 bytes
BASE = ["estimate", "qwen3-vl-30b-a3b", "-H", "h100-sxm", "--image-size", "672x672"]


def test_models_list_and_estimate_header(capsys):
    code, out, _ = run(["models", "list", "-f", "json"], capsys)
    rec = next(r for r in json.loads(out) if r["id"] == "qwen3-vl-30b-a3b")
    assert code == 0 and (rec["params"], rec["active_params"]) == (TOTAL, TOTAL - SKIPPED)
    code, out, _ = run(BASE, capsys)
    assert code == 0
    assert "mixture of experts: 31.07 B parameters, 3.89 B active per token" in out.splitlines()[0]


def test_compression_of_visual_tokens(capsys):
    # 672 x 672 px: 42 x 42 patches of 16 px, 2 x 2 merged -> 441 visual tokens; --keep 100
    # after the merger leaves the ViT as it is and drops 341 tokens from the LLM's KV cache.
    code, out, _ = run([*BASE, "-f", "json"], capsys)
    base = json.loads(out)
    code2, out, _ = run([*BASE, "--keep", "100", "-f", "json"], capsys)
    kept = json.loads(out)
    assert code == code2 == 0 and base["workload"]["visual_tokens"] == 441
    assert kept["stages"]["vision"]["flops"] == base["stages"]["vision"]["flops"]
    assert kept["stages"]["prefill"]["flops"] < base["stages"]["prefill"]["flops"]
    drop = base["memory"]["kv_cache_bytes"] - kept["memory"]["kv_cache_bytes"]
    assert drop == 341 * KV_PER_TOKEN
