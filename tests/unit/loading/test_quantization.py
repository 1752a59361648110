"""loading/quantization.py and analysis/weights.py: a quantised checkpoint's
quantization_config is read (what it stores, its weight dtype, int4 group and the weight parts
it quantises) and costed as stored unless the workload names the weights itself."""

from __future__ import annotations

import json

import pytest

import costmodel
from costmodel.errors import CostmodelError
from costmodel.loading.quantization import quantization_config
from costmodel.loading.zoo import ZOO
from tests.helpers import ROOT, run

AWQ = {"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True,
       "modules_to_not_convert": ["visual"]}
LAYERS = ("layers",)
LINEARS = ("vision", "layers")  # every nn.Linear but the lm_head (transformers keeps it)


@pytest.mark.parametrize("q,stores,flags,parts", [
    (AWQ, "awq, 4-bit, group 128; visual kept unquantised",
     "--weight-dtype int4 --weight-group 128 --weight-group-bytes 2.5", LAYERS),  # scale + zero
    ({"quant_method": "awq", "bits": 4, "group_size": 64, "zero_point": False},
     "awq, 4-bit, group 64", "--weight-dtype int4 --weight-group 64 --weight-group-bytes 2",
     LAYERS),
    ({"quant_method": "gptq", "bits": 4, "group_size": 128}, "gptq, 4-bit, group 128",
     "--weight-dtype int4 --weight-group 128 --weight-group-bytes 2.5", LAYERS),
    ({"quant_method": "gptq", "bits": 4, "group_size": 128, "lm_head": True},
     "gptq, 4-bit, group 128", "--weight-dtype int4 --weight-group 128 --weight-group-bytes 2.5",
     ("layers", "lm_head")),  # GPTQModel's lm_head quantisation
    ({"quant_method": "gptq", "bits": 8, "group_size": -1}, "gptq, 8-bit, group -1",
     "--weight-dtype int8", LAYERS),
    ({"quant_method": "fp8", "weight_block_size": [128, 128]},
     "fp8, fp8 weights (blocks [128, 128])", "--weight-dtype fp8", LINEARS),
    ({"quant_method": "fp8", "modules_to_not_convert": ["model.visual.blocks"]},
     "fp8, fp8 weights (blocks None); model.visual.blocks kept unquantised", "--weight-dtype fp8",
     LAYERS),
    ({"quant_method": "compressed-tensors", "config_groups": {"group_0": {"weights": {
        "num_bits": 4, "type": "int", "group_size": 128}}}},
     "compressed-tensors, 4-bit int, group 128",
     "--weight-dtype int4 --weight-group 128 --weight-group-bytes 2", ("vision", "layers", "lm_head")),
    ({"quant_method": "compressed-tensors", "ignore": ["lm_head", "re:vision_tower.*"],
      "config_groups": {"g": {"weights": {"num_bits": 8, "type": "float"}}}},
     "compressed-tensors, 8-bit float; lm_head, re:vision_tower.* kept unquantised",
     "--weight-dtype fp8", LAYERS),
    ({"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4"},
     "bitsandbytes, 4-bit nf4, blocks of 64",
     "--weight-dtype int4 --weight-group 64 --weight-group-bytes 4", LINEARS),
    ({"quant_method": "hqq"}, "hqq, a method not read here", "", LINEARS),
    ({"quant_method": "awq", "bits": "4", "group_size": "128"}, "awq, 4-bit, group 128",
     "--weight-dtype int4 --weight-group 128 --weight-group-bytes 2.5", LAYERS),  # numbers as text
    ({"load_in_4bit": True, "bnb_4bit_use_double_quant": True,  # no quant_method (older)
      "llm_int8_skip_modules": ["multi_modal_projector", "vision_tower"]},
     "bitsandbytes, 4-bit fp4, blocks of 64, double quantisation; multi_modal_projector, "
     "vision_tower kept unquantised",
     "--weight-dtype int4 --weight-group 64 --weight-group-bytes 1.01562", LAYERS),
    ({"quant_method": "compressed-tensors", "config_groups": {"g": {"weights": {
        "num_bits": 4, "type": "int", "group_size": 32, "symmetric": False}}}},
     "compressed-tensors, 4-bit int, group 32",
     "--weight-dtype int4 --weight-group 32 --weight-group-bytes 2.5", ("vision", "layers", "lm_head")),
])
def test_what_each_format_stores(q, stores, flags, parts):
    found = quantization_config({"quantization_config": q})
    assert (found.stores, found.flags, found.weight_parts) == (stores, flags, parts)


def test_no_zoo_model_is_quantised():
    assert all(costmodel.load_model(m).quantization is None for m in ZOO)
    assert quantization_config({"quantization_config": {}}) is None


def _config(tmp_path, zoo_id, q):
    data = json.loads((ROOT / "costmodel" / "zoo_configs" / f"{zoo_id}.json").read_text())
    data["quantization_config"] = q
    (tmp_path / "config.json").write_text(json.dumps(data))
    return str(tmp_path / "config.json")


@pytest.fixture()
def awq_config(tmp_path):
    return _config(tmp_path, "qwen2.5-vl-7b", AWQ)


def test_awq_costed_as_stored(awq_config):
    """AWQ g128 with zeros: the decoder layers at 0.5 + 2.5 / 128 bytes a weight, the vision
    encoder, projector, embedding and lm_head (untied in Qwen2.5-VL-7B) in bf16, by hand from
    the parameter counts."""
    est = costmodel.estimate(awq_config, "a100-80gb")
    m = est.model.llm
    n = est.model.param_counts()
    head = m.embedding_params() + m.lm_head_params()
    layers = n["llm"] - head
    want = layers * (0.5 + 2.5 / 128) + (head + n["vision"] + n["projector"]) * 2
    assert est.memory.weights_bytes == pytest.approx(want, rel=1e-12)
    w = est.workload
    assert (w.weights.value, w.weight_group, w.weight_group_bytes, w.weight_parts) == (
        "int4", 128, 2.5, ("layers",))
    same = costmodel.estimate(awq_config, "a100-80gb", weight_dtype="int4", weight_group=128,
                              weight_group_bytes=2.5, weight_parts="layers")
    assert (same.ttft_s, same.tpot_s) == (est.ttft_s, est.tpot_s)
    # the whole model in int4 (the parts named): smaller, a faster decode bound (hf-eager's
    # expected decode is host-bound at batch 1: the same)
    every = costmodel.estimate(awq_config, "a100-80gb",
                               weight_parts="vision,layers,lm_head,embed")
    assert every.memory.weights_bytes < est.memory.weights_bytes
    assert every.bound.tpot_s < est.bound.tpot_s
    # the vision stage reads bf16 weights: as the unquantised model's
    bf16 = costmodel.estimate(awq_config, "a100-80gb", weight_dtype="bf16")
    assert est.stages["vision"].weight_bytes == bf16.stages["vision"].weight_bytes
    assert est.stages["vision"].flops == bf16.stages["vision"].flops  # no dequantisation


def test_lm_head_part_is_read_every_decode_step(awq_config):
    """Decode reads the lm_head each step: bf16 there adds V x h x (2 - 0.5195) bytes a step."""
    a = costmodel.estimate(awq_config, "a100-80gb", output_tokens=2)
    b = costmodel.estimate(awq_config, "a100-80gb", output_tokens=2,
                           weight_parts="layers,lm_head")
    m = a.model.llm
    extra = m.vocab_size * m.hidden_size * (2 - (0.5 + 2.5 / 128))
    diff = a.stages["decode"].weight_bytes - b.stages["decode"].weight_bytes
    assert diff == pytest.approx(extra, rel=1e-9)


def test_unread_method_and_group_refused(tmp_path):
    hqq = _config(tmp_path, "qwen2.5-vl-7b", {"quant_method": "hqq"})
    with pytest.raises(CostmodelError, match=r"^--weight-dtype: .*quantised \(hqq"):
        costmodel.estimate(hqq, "a100-80gb")
    assert costmodel.estimate(hqq, "a100-80gb", weight_dtype="int8").workload.parts == (
        "vision", "layers")
    gptq = _config(tmp_path, "qwen2.5-vl-7b", {"quant_method": "gptq", "bits": 4, "group_size": -1})
    with pytest.raises(CostmodelError, match=r"^--weight-group: .*without a group size"):
        costmodel.estimate(gptq, "a100-80gb")
    got = costmodel.estimate(gptq, "a100-80gb", weight_dtype="int4", weight_group=4096,
                             weight_group_bytes=2.5)
    assert (got.workload.weights.value, got.workload.weight_group) == ("int4", 4096)


def test_group_fields_filled_one_by_one(tmp_path):
    """The workload setting one of --weight-group / --weight-group-bytes keeps the checkpoint's
    other one (not the engine's default): AWQ g64 with zeros (2.5 bytes a group)."""
    path = _config(tmp_path, "qwen2.5-vl-7b", {**AWQ, "group_size": 64})
    only_bytes = costmodel.estimate(path, "a100-80gb", weight_dtype="int4", weight_group_bytes=3)
    assert (only_bytes.workload.weight_group, only_bytes.workload.weight_group_bytes) == (64, 3)
    only_group = costmodel.estimate(path, "a100-80gb", weight_dtype="int4", weight_group=32)
    assert (only_group.workload.weight_group, only_group.workload.weight_group_bytes) == (32, 2.5)
    # GPTQ's -1 states no group but its bytes a group (an fp16 scale and a packed zero)
    (tmp_path / "gptq").mkdir()
    gptq = _config(tmp_path / "gptq", "qwen2.5-vl-7b",
                   {"quant_method": "gptq", "bits": 4, "group_size": -1})
    with pytest.raises(CostmodelError, match=r"^--weight-group: .*without a group size"):
        costmodel.estimate(gptq, "a100-80gb", weight_dtype="int4", weight_group_bytes=2)
    got = costmodel.estimate(gptq, "a100-80gb", weight_dtype="int4", weight_group=128).workload
    assert (got.weight_group, got.weight_group_bytes) == (128, 2.5)


def test_tied_lm_head_follows_the_table(tmp_path):
    """Qwen2.5-VL-3B ties its embeddings: a checkpoint quantising the lm_head (a Linear) but not
    the embedding stores the one table unquantised; a workload splitting them is refused."""
    ct = {"quant_method": "compressed-tensors", "config_groups": {"g": {"weights": {
        "num_bits": 8, "type": "int"}}}}
    path = _config(tmp_path, "qwen2.5-vl-3b", ct)
    assert costmodel.estimate(path, "a100-80gb").workload.parts == ("vision", "layers")
    with pytest.raises(CostmodelError, match=r"^--weight-parts: .*ties its lm_head"):
        costmodel.estimate("qwen2.5-vl-3b", "a100-80gb", weight_dtype="int8",
                           weight_parts="layers,lm_head")


def test_text_model_has_no_vision_part():
    with pytest.raises(CostmodelError, match=r"^--weight-parts: .*no vision encoder"):
        costmodel.estimate("llama-2-7b", "a100-80gb", weight_dtype="int4",
                           weight_parts="vision,layers", images=0)


def test_text_model_checkpoint_names_no_vision_part(tmp_path):
    """bitsandbytes quantises every nn.Linear but the lm_head: on a text-only model that is
    the decoder layers, so the resolved parts (JSON weight_parts) can be given back."""
    path = _config(tmp_path, "llama-3-8b", {"quant_method": "bitsandbytes", "load_in_8bit": True})
    est = costmodel.estimate(path, "a100-80gb")
    assert est.workload.parts == ("layers",)
    again = costmodel.estimate(path, "a100-80gb", weight_parts=est.to_dict()["workload"]["weight_parts"])
    assert again.memory.weights_bytes == est.memory.weights_bytes


def test_llm_viewer_needs_the_parts_it_counts(tmp_path):
    """llm-viewer counts the decoder linears and the lm_head in one w_bit: those two parts are
    needed, the vision encoder and the embedding (which it does not count) are not, so a
    text-only model (no 'vision' to name) runs with a weight dtype on named parts."""
    lv = {"convention": "llm-viewer", "visual_tokens": 0}
    full = costmodel.estimate("llama-2-7b", "llm-viewer-a100", weight_dtype="int8", **lv)
    named = costmodel.estimate("llama-2-7b", "llm-viewer-a100", weight_dtype="int8",
                               weight_parts="layers,lm_head", **lv)
    assert (named.ttft_s, named.tpot_s, named.memory.weights_bytes) == (
        full.ttft_s, full.tpot_s, full.memory.weights_bytes)
    with pytest.raises(CostmodelError, match=r"^weight_parts: llm-viewer .*layers and lm_head"):
        costmodel.estimate("llama-2-7b", "llm-viewer-a100", weight_dtype="int8",
                           weight_parts="layers", **lv)
    path = _config(tmp_path, "llama-3-8b", AWQ)  # AWQ: the decoder layers only
    with pytest.raises(CostmodelError, match=r"^weight_parts: llm-viewer"):
        costmodel.estimate(path, "llm-viewer-a100", weight_dtype="int8", **lv)
    costmodel.estimate(path, "llm-viewer-a100", weight_dtype="int8",
                       weight_parts="layers,lm_head,embed", **lv)


def test_cli(awq_config, capsys):
    code, out, err = run(["estimate", awq_config, "-H", "a100-80gb"], capsys)
    assert code == 0, err
    assert "weights int4 (g128, 2.5 B/group) on the LLM layers (vision, lm_head, embed bf16)" in out
    code, _, err = run(["estimate", awq_config, "-H", "a100-80gb", "--weight-parts", "x"], capsys)
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: --weight-parts:")
    # llm-viewer refuses the checkpoint's int4 groups naming the option typed (--convention),
    # not --weight-group, which the user did not give
    code, _, err = run(["estimate", awq_config, "-H", "a100-80gb", "--convention",
                        "llm-viewer"], capsys)
    assert code == 2 and err.startswith("error: --convention: llm-viewer counts w_bit / 8")
    assert "a quantised config.json's" in err and err.count("\n") == 1


def test_an_edited_config_is_read_again(tmp_path):
    """load_model caches by the file's stamp: editing config.json in a notebook session (here:
    adding a quantization_config) changes the next estimate."""
    path = _config(tmp_path, "qwen2.5-vl-7b", {})
    assert costmodel.load_model(path).quantization is None
    data = json.loads((tmp_path / "config.json").read_text())
    data["quantization_config"] = AWQ
    (tmp_path / "config.json").write_text(json.dumps(data, indent=1))  # another size
    assert costmodel.load_model(path).quantization.method == "awq"


def test_group_alone_on_an_int4_checkpoint(awq_config):
    """--weight-group without --weight-dtype on an AWQ checkpoint: its int4 with the group
    given and the checkpoint's 2.5 bytes a group."""
    w = costmodel.estimate(awq_config, "a100-80gb", weight_group=64).workload
    assert (w.weights.value, w.weight_group, w.weight_group_bytes) == ("int4", 64, 2.5)


def test_fp8_checkpoint_keeps_its_lm_head_in_16_bits(tmp_path):
    """An fp8 checkpoint run with fp8 activations: the lm_head and the embedding it keeps are
    2 bytes a weight, not the activation dtype's 1 (Workload.part_dtype)."""
    path = _config(tmp_path, "qwen2.5-vl-7b", {"quant_method": "fp8",
                                               "weight_block_size": [128, 128]})
    est = costmodel.estimate(path, "h100-sxm", act_dtype="fp8", kv_dtype="fp8")
    n, m = est.model.param_counts(), est.model.llm
    head = m.embedding_params() + m.lm_head_params()
    want = (n["total"] - head) * 1 + head * 2
    assert est.memory.weights_bytes == pytest.approx(want, rel=1e-12)
