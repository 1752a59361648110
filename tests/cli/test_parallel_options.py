"""The --tp / --pp / --microbatches options of `costmodel estimate`: JSON and table output, and
the one-line error for a tensor-parallel degree that does not divide the heads."""

from __future__ import annotations

import json

from tests.helpers import run


def _config(tmp_path) -> str:
    p = tmp_path / "config.json"
    p.write_text(json.dumps({"model_type": "llama", "num_key_value_heads": 32}))
    return str(p)


def test_cli_tp_pp_json_and_table(tmp_path, capsys):
    cfg = _config(tmp_path)
    args = ["estimate", cfg, "-H", "h100-sxm", "--batch", "4", "--tp", "2", "--pp", "2",
            "--microbatches", "2"]
    code, out, _ = run(args + ["--format", "json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["parallel"]["gpus"] == 4 and doc["parallel"]["interconnect"] == "nvlink"
    assert doc["memory"]["per_gpu_total_memory_bytes"] < doc["memory"]["total_memory_bytes"]
    assert {"weights_bytes", "kv_cache_bytes", "total_memory_bytes", "fits"} <= set(doc["memory"])
    code, out, _ = run(args, capsys)
    assert code == 0 and "per GPU (4 GPUs: tp 2 x pp 2, nvlink)" in out


def test_cli_bad_tp_is_one_line_exit_2(tmp_path, capsys):
    code, out, err = run(["estimate", _config(tmp_path), "-H", "h100-sxm", "--tp", "3"], capsys)
    assert code == 2 and "--tp" in err and len(err.strip().splitlines()) == 1


def test_table_says_its_flops_are_one_gpus_shard_under_tp(capsys):
    """--tp 2 halved the table's prefill and decode FLOPs and bytes (one GPU's shard) while
    --pp 2 kept the whole model's, and nothing said so."""
    def prefill_flops(*extra: str) -> tuple[float, str]:
        code, out, _ = run(["estimate", "llava-1.5-7b", "-H", "h100-sxm", *extra, "-f", "json"],
                           capsys)
        assert code == 0
        code, text, _ = run(["estimate", "llava-1.5-7b", "-H", "h100-sxm", *extra], capsys)
        return json.loads(out)["stages"]["prefill"]["flops"], text

    whole, text = prefill_flops()
    assert "shard" not in text
    half, text = prefill_flops("--tp", "2")
    assert half < 0.51 * whole
    assert "FLOPs and bytes: one GPU's shard under tp 2 (the LLM's layers split" in text
    piped, text = prefill_flops("--pp", "2")
    assert piped == whole and "shard" not in text
    both, text = prefill_flops("--tp", "2", "--pp", "2")  # a GPU holds half the layers
    assert both == half and "under tp 2, summed over the 2 pipeline stages (" in text
