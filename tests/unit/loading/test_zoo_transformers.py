"""Every zoo model's parameter count equals the real transformers class built on the meta
device from the same shipped config.json (costmodel/zoo_configs/<id>.json).

The loop is over `model_ids()`, so a model added to the zoo later is covered without editing
this file. The class is the config's `architectures[0]` when transformers has it (the class the
checkpoint was saved from), else AutoModelForImageTextToText (VLMs) / AutoModelForCausalLM.
`model.parameters()` yields each tensor once, so tied embeddings (e.g. qwen2-vl-2b's lm_head =
embed_tokens) are counted once, as costmodel counts them. Meta device: nothing is allocated.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from costmodel.loading.load import load_model, model_ids  # noqa: E402
from costmodel.loading.zoo import ZOO  # noqa: E402

ZOO_DIR = Path(__file__).resolve().parents[3] / "costmodel" / "zoo_configs"


def model_class(cfg: dict[str, Any], is_vlm: bool) -> Any:
    """The concrete class named by `architectures`, else the Auto class for the kind."""
    for arch in cfg.get("architectures") or ():
        if hasattr(transformers, arch):
            return getattr(transformers, arch)
    return transformers.AutoModelForImageTextToText if is_vlm else transformers.AutoModelForCausalLM


@cache
def transformers_params(mid: str) -> tuple[str, int, bool]:
    """(class name, unique parameter count, whether lm_head shares embed_tokens' tensor)."""
    cfg = json.loads((ZOO_DIR / ZOO[mid].config_file).read_text(encoding="utf-8"))
    return meta_params(cfg, load_model(mid).is_vlm)


def meta_params(cfg: dict[str, Any], is_vlm: bool) -> tuple[str, int, bool]:
    """transformers_params of a config dict."""
    config = transformers.AutoConfig.for_model(
        cfg["model_type"], **{k: v for k, v in cfg.items() if k != "model_type"})
    cls = model_class(cfg, is_vlm)
    with torch.device("meta"):
        model = cls._from_config(config) if hasattr(cls, "_from_config") else cls.from_config(config)
    n = sum(p.numel() for p in model.parameters())  # unique tensors: a tied weight once
    tied = model.get_output_embeddings().weight is model.get_input_embeddings().weight
    return type(model).__name__, n, tied


@pytest.mark.parametrize("mid", model_ids())
def test_params_equal_transformers_meta_build(mid):
    cls_name, n, _ = transformers_params(mid)
    ours = load_model(mid).param_counts()["total"]
    assert ours == n, f"{mid}: costmodel {ours:,} != {cls_name} on meta {n:,} ({ours - n:+,})"


@pytest.mark.parametrize("mid", model_ids())
def test_tied_embeddings_agree(mid):
    # costmodel drops lm_head from the count exactly when transformers ties it to the embedding
    assert transformers_params(mid)[2] == load_model(mid).llm.tie_embeddings


def _variant(mid: str, top: dict[str, Any] | None = None,
             text: dict[str, Any] | None = None) -> dict[str, Any]:
    """Zoo config `mid` with `top` set at the top level and `text` in its text_config."""
    cfg = json.loads((ZOO_DIR / ZOO[mid].config_file).read_text(encoding="utf-8"))
    cfg.update(top or {})
    cfg.get("text_config", cfg).update(text or {})
    return cfg


BIAS = {"attention_bias": True}
# Settings the zoo's configs leave at their defaults, honoured as transformers builds them:
# attention_bias (q, k, v and o_proj biases) and LLaVA's "full" feature strategy (no new
# parameters: the same count, through the same loader path).
VARIANTS = {
    "llama-3-8b+attention_bias": _variant("llama-3-8b", text=BIAS),
    "llava-1.5-7b+full+attention_bias": _variant(
        "llava-1.5-7b", {"vision_feature_select_strategy": "full"}, BIAS),
    "smolvlm-500m+attention_bias": _variant("smolvlm-500m", text=BIAS),
    "qwen3-30b-a3b+attention_bias": _variant("qwen3-30b-a3b", text=BIAS),
    "qwen3-vl-8b+attention_bias": _variant("qwen3-vl-8b", text=BIAS),
    "qwen3-vl-30b-a3b+attention_bias": _variant("qwen3-vl-30b-a3b", text=BIAS),
    "gemma-3-4b+attention_bias": _variant("gemma-3-4b", text=BIAS),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_config_variants_equal_transformers_meta_build(name):
    from costmodel.loading.from_config import spec_from_config

    cfg = VARIANTS[name]
    spec = spec_from_config(json.loads(json.dumps(cfg)), name)
    _, n, _ = meta_params(cfg, spec.is_vlm)
    assert spec.param_counts()["total"] == n


CALIBRATION_CONFIGS = sorted(
    (Path(__file__).resolve().parents[3] / "costmodel" / "calibration" / "data" / "configs")
    .glob("*/config.json"))


@pytest.mark.parametrize("path", CALIBRATION_CONFIGS, ids=lambda p: p.parent.name)
def test_validation_configs_equal_transformers_meta_build(path):
    # the config.json files the bundled published runs use (calibration/data/NOTE.md): each
    # is reconstructed, so its count is checked against the real class as the zoo's are
    cfg = json.loads(path.read_text(encoding="utf-8"))
    config = transformers.AutoConfig.for_model(
        cfg["model_type"], **{k: v for k, v in cfg.items() if k != "model_type"})
    with torch.device("meta"):
        model = model_class(cfg, False)._from_config(config)
    n = sum(p.numel() for p in model.parameters())
    assert load_model(str(path)).param_counts()["total"] == n


def test_llama_405b_config_hand_count():
    # calibration/data/NOTE.md: 126 layers x (q, o: d^2 each; k, v: d x 1024 each; gate, up,
    # down: d x 53248 each; two RMSNorms) + untied embedding and lm_head + the final norm
    d, layers, vocab = 16384, 126, 128256
    layer = 2 * d * d + 2 * d * 1024 + 3 * d * 53248 + 2 * d
    path = [p for p in CALIBRATION_CONFIGS if p.parent.name == "llama-3.1-405b"][0]
    assert load_model(str(path)).param_counts()["total"] == layers * layer + 2 * vocab * d + d
