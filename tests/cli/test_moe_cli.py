"""Mixture-of-experts models on the command line: active parameters next to the total (models
list, estimate), all experts in the weights, expert parallelism (--ep) and the refusals."""

from __future__ import annotations

import json

from tests.helpers import run


def test_models_list_shows_active_parameters(capsys):
    code, out, _ = run(["models", "list", "-f", "json"], capsys)
    recs = {r["id"]: r for r in json.loads(out)}
    assert code == 0 and recs["mixtral-8x7b"]["params"] == 46_702_792_704
    assert recs["mixtral-8x7b"]["active_params"] == 12_879_925_248
    assert recs["llama-3-8b"]["active_params"] == recs["llama-3-8b"]["params"]  # dense: all
    code, out, _ = run(["models", "list"], capsys)
    row = next(line for line in out.splitlines() if "qwen3-30b-a3b" in line)
    assert "30.532 B" in row and "3.353 B" in row


def test_estimate_header_and_weights(capsys):
    code, out, _ = run(["estimate", "qwen3-30b-a3b", "-H", "h100-sxm", "-f", "json"], capsys)
    doc = json.loads(out)
    assert code == 0 and doc["params"]["active"] == 3_353_032_704
    assert doc["memory"]["weights_bytes"] == 2 * 30_532_122_624  # bf16: every expert resident
    code, out, _ = run(["estimate", "qwen3-30b-a3b", "-H", "h100-sxm"], capsys)
    assert "30.53 B parameters, 3.35 B active per token" in out.splitlines()[0]


def test_refusals_are_one_line_exit_2(capsys):
    code, _, err = run(["estimate", "mixtral-8x7b", "-H", "h100-sxm", "--convention",
                        "llm-viewer"], capsys)
    assert code == 2 and "mixture-of-experts" in err and len(err.strip().splitlines()) == 1
    for argv in (["mixtral-8x7b", "--ep", "3"], ["llama-3-8b", "--ep", "2"]):  # 8 % 3; dense
        code, _, err = run(["estimate", *argv, "-H", "h100-sxm"], capsys)
        assert code == 2 and err.startswith("error: --ep: ") and len(err.strip().splitlines()) == 1


def test_expert_parallel_estimate_lowers_memory_per_gpu(capsys):
    per_gpu = {}
    for ep in (1, 4):
        code, out, _ = run(["estimate", "mixtral-8x7b", "-H", "h100-sxm", "--ep", str(ep),
                            "-f", "json"], capsys)
        doc = json.loads(out)
        assert code == 0 and doc["parallel"]["ep"] == ep and doc["parallel"]["gpus"] == ep
        per_gpu[ep] = doc["memory"]["per_gpu_total_memory_bytes"]
    assert per_gpu[4] < per_gpu[1]
    code, out, _ = run(["estimate", "mixtral-8x7b", "-H", "h100-sxm", "--ep", "4"], capsys)
    assert code == 0 and "4 GPUs: tp 1 x pp 1 x ep 4" in out
