"""loading/quantization.py: a quantised checkpoint's quantization_config is read and, unless
the workload names a weight dtype, refused in one line with the options that cost it."""

from __future__ import annotations

import json

import pytest

import costmodel
from costmodel.errors import CostmodelError
from costmodel.loading.quantization import quantization_hint
from costmodel.loading.zoo import ZOO
from tests.helpers import ROOT, run

AWQ = {"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True,
       "modules_to_not_convert": ["visual"]}


@pytest.mark.parametrize("q,stores,flags", [
    (AWQ, "awq, 4-bit, group 128; visual kept unquantised",
     "--weight-dtype int4 --weight-group 128 --weight-group-bytes 2.5"),  # fp16 scale + 4-bit zero
    ({"quant_method": "awq", "bits": 4, "group_size": 64, "zero_point": False},
     "awq, 4-bit, group 64", "--weight-dtype int4 --weight-group 64 --weight-group-bytes 2"),
    ({"quant_method": "gptq", "bits": 4, "group_size": 128}, "gptq, 4-bit, group 128",
     "--weight-dtype int4 --weight-group 128 --weight-group-bytes 2.5"),
    ({"quant_method": "gptq", "bits": 8, "group_size": -1}, "gptq, 8-bit, group -1",
     "--weight-dtype int8"),
    ({"quant_method": "fp8", "weight_block_size": [128, 128]},
     "fp8, fp8 weights (blocks [128, 128])", "--weight-dtype fp8"),
    ({"quant_method": "compressed-tensors", "config_groups": {"group_0": {"weights": {
        "num_bits": 4, "type": "int", "group_size": 128}}}},
     "compressed-tensors, 4-bit int, group 128",
     "--weight-dtype int4 --weight-group 128 --weight-group-bytes 2"),
    ({"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4"},
     "bitsandbytes, 4-bit nf4, blocks of 64",
     "--weight-dtype int4 --weight-group 64 --weight-group-bytes 4"),
    ({"quant_method": "hqq"}, "hqq, a method not read here", ""),
    ({"quant_method": "awq", "bits": "4", "group_size": "128"}, "awq, 4-bit, group 128",
     "--weight-dtype int4 --weight-group 128 --weight-group-bytes 2.5"),  # numbers as text
    ({"load_in_4bit": True, "bnb_4bit_use_double_quant": True},  # no quant_method (older)
     "bitsandbytes, 4-bit fp4, blocks of 64, double quantisation",
     "--weight-dtype int4 --weight-group 64 --weight-group-bytes 1.01562"),
    ({"quant_method": "compressed-tensors", "config_groups": {"g": {"weights": {
        "num_bits": 4, "type": "int", "group_size": 32, "symmetric": False}}}},
     "compressed-tensors, 4-bit int, group 32",
     "--weight-dtype int4 --weight-group 32 --weight-group-bytes 2.5"),
])
def test_what_each_format_stores(q, stores, flags):
    assert quantization_hint({"quantization_config": q}) == (stores, flags)


def test_no_zoo_model_is_quantised():
    assert all(costmodel.load_model(m).quantization is None for m in ZOO)
    assert quantization_hint({"quantization_config": {}}) is None


@pytest.fixture()
def awq_config(tmp_path):
    data = json.loads((ROOT / "costmodel" / "zoo_configs" / "qwen2.5-vl-7b.json").read_text())
    data["quantization_config"] = AWQ
    (tmp_path / "config.json").write_text(json.dumps(data))
    return str(tmp_path / "config.json")


def test_refused_without_a_weight_dtype(awq_config):
    with pytest.raises(CostmodelError, match=r"^--weight-dtype: .*quantised \(awq, 4-bit.*give "
                       r"--weight-dtype int4 --weight-group 128 --weight-group-bytes 2.5"):
        costmodel.estimate(awq_config, "a100-80gb")
    q = costmodel.estimate(awq_config, "a100-80gb", weight_dtype="int4", weight_group=128,
                           weight_group_bytes=2.5)
    b = costmodel.estimate(awq_config, "a100-80gb", weight_dtype="bf16")
    assert q.evaluation.weights_bytes < 0.35 * b.evaluation.weights_bytes  # 4.16 bits vs 16


def test_cli_one_line(awq_config, capsys):
    code, _, err = run(["estimate", awq_config, "-H", "a100-80gb"], capsys)
    assert code == 2 and "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("error: --weight-dtype:")
    assert run(["estimate", awq_config, "-H", "a100-80gb", "--weight-dtype", "int4"],
               capsys)[0] == 0
