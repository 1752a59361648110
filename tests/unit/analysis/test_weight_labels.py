"""The weights label names the parts the model has (analysis/labels.py): a text-only model has
no vision encoder, so --weight-parts layers on it reads 'on the LLM layers (lm_head, embed
bf16)', and naming every part it has reads as all quantised ('int4'), in estimate's header,
compare-compression's dtype column and the figures' titles."""

from __future__ import annotations

import pytest

import costmodel
from costmodel.cli import captions
from tests.helpers import run

TEXT = ["llama-2-7b", "-H", "a100-80gb", "--visual-tokens", "0", "--weight-dtype", "int4"]
VLM = ["llava-1.5-7b", "-H", "a100-80gb", "--weight-dtype", "int4"]


@pytest.mark.parametrize(("args", "weights"), [
    (TEXT + ["--weight-parts", "layers"], "weights int4 on the LLM layers (lm_head, embed bf16)"),
    (TEXT + ["--weight-parts", "layers,lm_head,embed"], "weights int4, activations"),
    (VLM + ["--weight-parts", "layers"],
     "weights int4 on the LLM layers (vision, lm_head, embed bf16)"),
    (VLM + ["--weight-parts", "layers,lm_head,embed"],
     "weights int4 on the LLM layers, lm_head, embed (vision bf16)"),
])
def test_estimate_names_the_parts_the_model_has(args, weights, capsys):
    code, out, err = run(["estimate", *args], capsys)
    assert code == 0, err
    assert out.splitlines()[2].startswith(weights), out.splitlines()[2]


def test_compare_compression_and_captions_name_the_models_parts():
    kw = {"visual_tokens": 0, "weight_dtype": "int4", "weight_parts": "layers"}
    cmp = costmodel.compare_compression("llama-2-7b", "a100-80gb", kv_keep=0.5, **kw)
    dtype = cmp.frame()["dtype"].iloc[0]
    assert dtype == "weights int4 on the LLM layers (lm_head, embed bf16), activations bf16, KV bf16"
    est = costmodel.estimate("llama-2-7b", "a100-80gb", **kw)
    assert "(lm_head, embed bf16)" in captions.estimate_caption("Roofline", est)
    assert "vision" not in captions.estimate_caption("Roofline", est)
    every = costmodel.estimate("llama-2-7b", "a100-80gb", visual_tokens=0, weight_dtype="int4",
                               weight_parts="layers,lm_head,embed")
    title = captions.estimate_caption("Roofline", every)
    assert "| weights int4, activations bf16, KV bf16 |" in title
