"""`costmodel models show` works for every zoo model (each family's token rule and worked
example), and `models list` gives every one a rule of its own family."""

from __future__ import annotations

import json

import pytest

from costmodel.loading.load import model_ids
from tests.helpers import run


@pytest.mark.parametrize("mid", sorted(model_ids()))
def test_show_every_zoo_model(mid, capsys):
    code, out, err = run(["models", "show", mid, "-f", "json"], capsys)
    assert code == 0, err
    tokens = json.loads(out)["tokens"]
    assert tokens["rule"]
    if "example" in tokens:
        assert tokens["example"]["tokens"] > 0 and tokens["example"]["text"].endswith(
            f"-> {tokens['example']['tokens']} tokens")


def test_cross_attention_model_says_its_tokens_do_not_enter_the_prompt(capsys):
    code, out, _ = run(["models", "show", "llama-3.2-11b-vision", "-f", "json"], capsys)
    tokens = json.loads(out)["tokens"]
    assert code == 0 and "cross-attention" in tokens["rule"] and "text only" not in tokens["rule"]
    ex = tokens["example"]  # 560x560: one tile, padded to max_num_tiles = 4 tiles of 1601
    assert ex["image"] == "560x560" and ex["tokens"] == 4 * (40 * 40 + 1)
    assert "1 tile(s)" in ex["text"] and "0 prompt tokens" in ex["text"]


@pytest.mark.parametrize(("mid", "layers", "kv_heads", "head_dim"), [
    ("llava-1.5-7b", 32, 32, 128),  # MHA: the tutorial's 524,288 B
    ("qwen2-vl-7b", 28, 4, 128),  # GQA
    ("gemma-3-4b", 34, 4, 256),  # sliding-window layers: one token is inside every window
    ("llama-3.2-11b-vision", 32, 8, 128)])  # 40 layers, 8 of them cross-attention (no text KV)
def test_kv_bytes_per_token_by_hand(mid, layers, kv_heads, head_dim, capsys):
    code, out, _ = run(["models", "show", mid, "-f", "json"], capsys)
    kv = json.loads(out)["kv_cache_per_token"]
    assert code == 0 and kv["bf16_bytes"] == 2 * kv_heads * head_dim * layers * 2
    assert kv["fp8_bytes"] * 2 == kv["bf16_bytes"]
