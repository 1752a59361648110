"""An engine's quantised weight parts (Engine.weight_parts, analysis/weights.py): llama.cpp
quantises its language-model GGUF and keeps the vision encoder and projector in a 16-bit
mmproj file, so a quantised --weight-dtype on it covers layers, lm_head and embed."""

from __future__ import annotations

import json

import pytest

import costmodel
from costmodel.errors import CostmodelError
from costmodel.loading.load import load_engine
from tests.helpers import ROOT, run

ORIN = "jetson-agx-orin-64gb"
LLM_PARTS = ("layers", "lm_head", "embed")


def test_llama_cpp_keeps_the_vision_encoder_in_16_bits():
    e = costmodel.estimate("llava-1.5-7b", ORIN, engine="llama.cpp", weight_dtype="int4")
    assert e.workload.parts == LLM_PARTS
    named = costmodel.estimate("llava-1.5-7b", ORIN, engine="llama.cpp", weight_dtype="int4",
                               weight_parts="layers,lm_head,embed")
    assert e.to_dict() == named.to_dict()
    every = costmodel.estimate("llava-1.5-7b", ORIN, engine="llama.cpp", weight_dtype="int4",
                               weight_parts="vision,layers,lm_head,embed")
    # the vision encoder + projector (CLIP ViT-L/14-336 + MLP, 0.32 B parameters) at 2 bytes
    # against int4 g32 (0.5 + 2/32 bytes): about 0.47 GB more
    extra = e.memory.weights_bytes - every.memory.weights_bytes
    params = e.to_dict()["params"]
    vision_params = params["vision"] + params["projector"]
    assert extra == pytest.approx(vision_params * (2 - 0.5 - 2 / 32), rel=0.01)


def test_other_engines_and_other_dtypes_keep_every_part():
    assert costmodel.estimate("llava-1.5-7b", ORIN, engine="vllm",
                              weight_dtype="int4").workload.parts == (
        "vision", "layers", "lm_head", "embed")
    e = costmodel.estimate("llava-1.5-7b", ORIN, engine="llama.cpp")  # bf16 weights
    assert e.workload.parts == ("vision", "layers", "lm_head", "embed")


def test_text_model_and_tied_table():
    e = costmodel.estimate("llama-2-7b", ORIN, engine="llama.cpp", weight_dtype="int4",
                           visual_tokens=0)
    assert e.workload.weight_parts is None  # every part it has: layers, lm_head, embed


def test_a_quantised_checkpoint_names_its_own_parts(tmp_path):
    data = json.loads((ROOT / "costmodel" / "zoo_configs" / "qwen2.5-vl-7b.json").read_text())
    data["quantization_config"] = {"quant_method": "awq", "bits": 4, "group_size": 128}
    (tmp_path / "config.json").write_text(json.dumps(data))
    e = costmodel.estimate(str(tmp_path), ORIN, engine="llama.cpp")
    assert e.workload.parts == ("layers",)


def test_engine_yaml_weight_parts_need_a_source(tmp_path):
    text = (ROOT / "costmodel" / "engines" / "llama.cpp.yaml").read_text()
    assert load_engine("llama.cpp").weight_parts == LLM_PARTS
    bad = "\n".join(ln for ln in text.splitlines() if not ln.startswith("  weight_parts:"))
    (tmp_path / "e.yaml").write_text(bad)
    with pytest.raises(CostmodelError, match="sources: no source for weight_parts"):
        load_engine(str(tmp_path / "e.yaml"))
    (tmp_path / "d.yaml").write_text(text.replace("weight_parts: [layers, lm_head, embed]",
                                                  "weight_parts: [layers, layers]"))
    with pytest.raises(CostmodelError, match="weight_parts: a part is named twice"):
        load_engine(str(tmp_path / "d.yaml"))


def test_a_text_model_on_llama_cpp_is_all_int4_and_says_so(capsys):
    """A model with no vision encoder has every part in llama.cpp's quantised GGUF: priced and
    labelled as before engines named their parts ('int4 (g32, 2 B/group)', JSON weight_parts
    null), not 'on the LLM layers, lm_head, embed (vision bf16)' for a model with no vision."""
    e = costmodel.estimate("llama-3-8b", ORIN, engine="llama.cpp", weight_dtype="int4")
    assert e.workload.weight_parts is None
    named = costmodel.estimate("llama-3-8b", ORIN, engine="llama.cpp", weight_dtype="int4",
                               weight_parts="layers,lm_head,embed")
    assert e.memory.weights_bytes == named.memory.weights_bytes  # the same numbers
    code, out, _ = run(["estimate", "llama-3-8b", "-H", ORIN, "--engine", "llama.cpp",
                        "--weight-dtype", "int4"], capsys)
    weights = out.splitlines()[2]
    assert code == 0 and weights.startswith("weights int4 (g32, 2 B/group), activations"), weights
