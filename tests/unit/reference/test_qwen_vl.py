"""Qwen2.5-VL and Qwen3-VL against transformers' own classes (5.23): parameters, FLOPs, windows.

Parameters: the real `Qwen2_5_VLForConditionalGeneration` / `Qwen3VLForConditionalGeneration`
built on the meta device from each zoo config.json. FLOPs: FlopCounterMode on the real classes
with a shrunken config of the same family (few layers, small widths), real tensors on CPU,
eager attention: vision tower + merger(s) (`model.model.visual`), prefill (the whole forward
minus the visual part, last-token logits) and one decode step, for grids whose windows are
whole and partial. They equal costmodel's matmul FLOPs with its eager attention count
(flash=False) exactly; costmodel's FlashAttention count differs only in prefill, by the
masked causal triangle (`causal_skipped_flops`, a closed form). Nothing else differs: the
rotary tables, the interpolated position table and the DeepStack adds are elementwise
(uncounted by torch; vector FLOPs in costmodel).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers", minversion="5.23")

from transformers.vision_utils import get_vision_window_index  # noqa: E402

from costmodel.core.qwen_vl import window_groups  # noqa: E402
from costmodel.loading.from_config import spec_from_config  # noqa: E402
from costmodel.loading.load import load_model  # noqa: E402
from costmodel.reference.crosscheck import causal_skipped_flops  # noqa: E402
from tests.flops import (  # noqa: E402
    qwen_vl_classes,
    qwen_vl_costmodel_counts,
    qwen_vl_torch_counts,
    small_qwen3,
    small_qwen25,
)
from tests.helpers import zoo_config  # noqa: E402


@pytest.mark.parametrize("mid", ["qwen2.5-vl-3b", "qwen2.5-vl-7b", "qwen2.5-vl-72b", "qwen3-vl-8b"])
def test_param_counts_equal_transformers_on_meta(mid):
    config_cls, model_cls = qwen_vl_classes(mid)
    with torch.device("meta"):
        model = model_cls(config_cls.from_dict(zoo_config(mid)))
    visual = sum(p.numel() for p in model.model.visual.parameters())
    counts = load_model(mid).param_counts()
    assert counts["total"] == sum(p.numel() for p in model.parameters())
    assert counts["vision"] + counts["projector"] == visual


def _tie_in_text_config(mid: str) -> dict:
    """A pre-v5 layout: tie_word_embeddings true inside text_config only. Qwen2_5_VLConfig
    takes it (its BC rule); Qwen3VLConfig ties by its own field only."""
    cfg = zoo_config(mid)
    if "text_config" not in cfg:
        top = ("architectures", "model_type", "vision_config")
        cfg = {**{k: cfg[k] for k in top}, "text_config": {k: v for k, v in cfg.items()
                                                          if k not in top}}
    cfg["text_config"]["tie_word_embeddings"] = True
    cfg.pop("tie_word_embeddings", None)
    return cfg


@pytest.mark.parametrize("mid", ["qwen2.5-vl-7b", "qwen3-vl-8b"])
def test_text_config_tie_follows_transformers(mid):
    cfg = _tie_in_text_config(mid)
    config_cls, model_cls = qwen_vl_classes(mid)
    with torch.device("meta"):
        model = model_cls(config_cls.from_dict(copy.deepcopy(cfg)))
    spec = spec_from_config(cfg)
    assert spec.param_counts()["total"] == sum(p.numel() for p in model.parameters())
    assert spec.llm.tie_embeddings == (mid == "qwen2.5-vl-7b")


def _torch_counts(cfg: dict, mid: str, h: int, w: int) -> tuple[dict[str, int], int]:
    """FlopCounterMode per stage of the real class: (counts, text tokens in the prompt)."""
    config_cls, model_cls = qwen_vl_classes(mid)
    config = config_cls.from_dict(copy.deepcopy(cfg))
    for c in (config, config.text_config, config.vision_config):
        c._attn_implementation = "eager"
    torch.manual_seed(0)
    model = model_cls(config).float().eval()
    return qwen_vl_torch_counts(model, config.vision_config.hidden_size, h, w)


@pytest.mark.parametrize(("mid", "make", "grid"), [
    ("qwen2.5-vl", small_qwen25, (8, 8)),  # one whole 8x8-patch window
    ("qwen2.5-vl", small_qwen25, (20, 12)),  # right, bottom and corner windows partial
    ("qwen3-vl", small_qwen3, (20, 12)),
])
def test_stage_flops_equal_flop_counter(mid, make, grid):
    cfg = make()
    got, text = _torch_counts(cfg, f"{mid}-x", *grid)
    assert all(v > 0 for v in got.values())
    assert qwen_vl_costmodel_counts(cfg, *grid, text, flash=False) == got
    flash = qwen_vl_costmodel_counts(cfg, *grid, text, flash=True)
    spec = spec_from_config(copy.deepcopy(cfg), "small")
    skipped = causal_skipped_flops(spec, 1, grid[0] * grid[1] // 4 + text)
    assert flash["prefill"] + skipped == got["prefill"]
    assert {k: flash[k] for k in ("vision", "projector", "decode")} == \
        {k: got[k] for k in ("vision", "projector", "decode")}


@pytest.mark.parametrize("grid", [(4, 4), (8, 8), (8, 16), (10, 14), (20, 12), (2, 100),
                                  (36, 28), (74, 38), (16, 2)])
def test_windows_equal_get_vision_window_index(grid):
    """Window count and sizes for a grid (in patches) equal transformers' partition."""
    v = load_model("qwen2.5-vl-7b").vision
    h, w = grid
    _, cu = get_vision_window_index(torch.tensor([[1, h, w]]), spatial_merge_size=2,
                                    window_size=112, patch_size=14)
    want = sorted(int(x) for x in torch.diff(cu))
    got: list[int] = []
    for _, n, size in window_groups(v, np.asarray([h * w], dtype=float), np.asarray([w * 1.0])):
        got += [int(size[0])] * int(n[0])
    assert sorted(got) == want
