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


def test_every_zoo_family_has_a_rule_of_its_own(capsys):
    """No zoo model falls back to the generic '<kind> token scheme (fields)' line."""
    code, out, _ = run(["models", "list", "-f", "json"], capsys)
    assert code == 0
    generic = [r["id"] for r in json.loads(out) if "token scheme" in r["token_scheme"]["rule"]]
    assert generic == []


def _internvl_ids() -> list[str]:
    from costmodel.loading.zoo import ZOO

    return sorted(m for m, e in ZOO.items() if e.config_file.startswith("internvl"))


@pytest.mark.parametrize("mid", _internvl_ids())
def test_internvl_rule_names_the_figures_of_its_config(mid, capsys):
    """The tiles rule with the config's figures: image and patch size, downsample_ratio (pixel
    shuffle by 1/ratio: ratio^-2 patches a token) and image_seq_length, and the processor's 1
    to 12 tiles and 2 text tokens (loading/internvl.py)."""
    from costmodel.loading.internvl import IMAGE_TEXT_TOKENS, MAX_TILES, MIN_TILES
    from costmodel.loading.load import _PKG
    from costmodel.loading.zoo import ZOO

    cfg = json.loads((_PKG / "zoo_configs" / ZOO[mid].config_file).read_text())
    image, patch = cfg["vision_config"]["image_size"][0], cfg["vision_config"]["patch_size"][0]
    shuffle = round(1 / cfg["downsample_ratio"] ** 2)
    code, out, _ = run(["models", "show", mid, "-f", "json"], capsys)
    assert code == 0
    assert json.loads(out)["tokens"]["rule"] == (
        f"closest-aspect grid of {MIN_TILES}-{MAX_TILES} tiles of {image} px + 1 thumbnail when "
        f"more than one; ({image}/{patch})^2 patches, CLS dropped, pixel shuffle / {shuffle} = "
        f"{cfg['image_seq_length']} tokens a tile; + {IMAGE_TEXT_TOKENS} text tokens an image")
    assert (image, patch, shuffle, cfg["image_seq_length"]) == (448, 14, 4, 256)
    assert (MIN_TILES, MAX_TILES, IMAGE_TEXT_TOKENS) == (1, 12, 2)


@pytest.mark.parametrize(("size", "tokens", "steps"), [
    # 1280/720 = 1.78 ties 2x1 and 4x2 (both 2.0); 4x2 wins as the image's area passes half of
    # 8 tiles' (921,600 > 802,816): 8 tiles + 1 thumbnail (core/tiles.py)
    ("1280x720", 9 * 256 + 2,
     ["closest grid 4x2 (columns x rows) of 448 px tiles + 1 thumbnail = 9 encoder passes",
      "9 x 256 tokens + 2 text tokens (<img>, </img>)"]),
    ("448x448", 256 + 2, ["closest grid 1x1 (columns x rows) of 448 px tiles: 1 encoder pass",
                          "1 x 256 tokens + 2 text tokens (<img>, </img>)"])])
def test_internvl_worked_example(size, tokens, steps, capsys):
    code, out, _ = run(["models", "show", "internvl3-2b", "--image-size", size, "-f", "json"],
                       capsys)
    ex = json.loads(out)["tokens"]["example"]
    assert code == 0 and ex["tokens"] == tokens and ex["steps"] == steps


@pytest.mark.parametrize("mid", sorted(model_ids()))
def test_show_says_whether_the_config_is_reconstructed(mid, capsys):
    """The zoo's config status (ZooEntry.config, = SOURCES.md: tests/unit/loading/
    test_zoo_sources.py) in the text and the JSON; a copied file is not called reconstructed."""
    from costmodel.loading.zoo import ZOO

    reconstructed = ZOO[mid].config == "reconstructed"
    code, out, _ = run(["models", "show", mid, "-f", "json"], capsys)
    assert code == 0 and json.loads(out)["config"].startswith(
        "RECONSTRUCTED, not a copy" if reconstructed else "verbatim copy of the Hub file")
    code, out, _ = run(["models", "show", mid], capsys)
    line = next(ln for ln in out.splitlines() if ln.startswith("config: "))
    assert code == 0 and ("RECONSTRUCTED" in line) == reconstructed


def test_reconstructed_and_copied_by_name(capsys):
    for mid, word in (("llava-onevision-7b", "RECONSTRUCTED"), ("qwen2.5-vl-72b", "RECONSTRUCTED"),
                      ("gemma-3-27b", "RECONSTRUCTED"), ("llava-1.5-7b", "verbatim")):
        code, out, _ = run(["models", "show", mid, "-f", "json"], capsys)
        assert code == 0 and json.loads(out)["config"].split()[0].strip(",") == word


def test_a_local_config_has_no_zoo_status(capsys):
    from costmodel.loading.load import _PKG

    code, out, _ = run(["models", "show", str(_PKG / "zoo_configs" / "qwen2-vl-2b.json"), "-f",
                        "json"], capsys)
    assert code == 0 and "config" not in json.loads(out)
