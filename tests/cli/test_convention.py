"""`--convention llm-viewer` on the command line: the JSON field, the table header and the
one-line error for an unknown convention (the terms are in tests/unit/conventions/)."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run


@pytest.fixture
def llama_config(tmp_path):
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
           "intermediate_size": 11008, "num_attention_heads": 32, "num_hidden_layers": 32,
           "num_key_value_heads": 32, "vocab_size": 32000, "rms_norm_eps": 1e-5}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    return str(path)


def test_cli_convention_json_and_header(capsys, llama_config):
    code, out, err = run(["estimate", llama_config, "-H", "llm-viewer-a100-80gb", "--text-tokens",
                          "640", "--convention", "llm-viewer", "-f", "json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["convention"] == "llm-viewer"
    code, out, _ = run(["estimate", llama_config, "-H", "llm-viewer-a100-80gb",
                        "--convention", "llm-viewer"], capsys)
    assert code == 0 and "llm-viewer convention" in out
    code, _, err = run(["estimate", llama_config, "-H", "a100-80gb", "--convention", "llmviewer"],
                       capsys)
    assert code == 2 and "convention" in err
