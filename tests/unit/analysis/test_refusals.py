"""`costmodel.estimate` refuses what the CLI refuses (costmodel/analysis/refusals.py), with the
CLI's line, instead of computing a figure the CLI would not give: visual tokens or a
visual-token compression on a text-only model, images beside visual_tokens on a fixed token
scheme (which ignores them). A sweep still accepts them (tests/unit/analysis/test_sweep.py)."""

from __future__ import annotations

import pytest

import costmodel
from costmodel import Compression
from tests.helpers import run

CASES = [  # (model, estimate's fields, the CLI's options, the line)
    ("llama-3-8b", {"visual_tokens": 64}, ["--visual-tokens", "64"],
     "--visual-tokens: llama-3-8b has no vision tower"),
    ("llama-3-8b", {"compression": Compression(where="projector", keep_ratio=0.1)},
     ["--keep", "0.1"], "--keep: llama-3-8b has no vision tower"),
    ("llava-1.5-7b", {"visual_tokens": 576, "images": 2},
     ["--visual-tokens", "576", "--images", "2"], "--images: llava-1.5-7b takes --visual-tokens"),
]


@pytest.mark.parametrize(("model", "fields", "options", "says"), CASES,
                         ids=[c[3].split(":")[0] + "-" + c[0] for c in CASES])
def test_estimate_refuses_what_the_cli_refuses(model, fields, options, says, capsys):
    with pytest.raises(costmodel.CostmodelError, match=says) as e:
        costmodel.estimate(model, "a100-80gb", **fields)
    code, _, err = run(["estimate", model, "-H", "a100-80gb", *options], capsys)
    assert code == 2 and err.strip() == f"error: {e.value}"


def test_a_text_only_model_without_visual_tokens_is_estimated():
    est = costmodel.estimate("llama-3-8b", "a100-80gb", visual_tokens=0)
    assert est.plan.llm_tokens == 0 and "vision" in est.stages
