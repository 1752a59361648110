"""Loading refuses bad files in one line (issue 14): encoding, YAML tags, duplicate keys,
non-finite figures, config.json types."""

from __future__ import annotations

import json

import pytest

from costmodel.errors import CostmodelError
from costmodel.loading.config_fields import ConfigError
from costmodel.loading.from_config import spec_from_config
from costmodel.loading.load import hardware_data, read_text, read_yaml
from costmodel.loading.whatif import apply_overrides
from tests.helpers import ROOT


def test_read_text_names_a_file_that_is_not_utf8(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_bytes(b"a: \xff\n")
    with pytest.raises(CostmodelError, match=r"x.yaml: not UTF-8 text \(byte 3\)"):
        read_text(p)


@pytest.mark.parametrize("text, needle", [
    ("a: 1\nb: 2\na: 3\n", "line 3: key 'a' is given twice"),
    ("top:\n  k: 1\n  k: 2\n", "key 'k' is given twice"),
    ("!!python/object/apply:os.system ['true']\n", "not allowed"),
    ("a: [1\n", "not valid YAML"),
])
def test_read_yaml_refusals(tmp_path, text, needle):
    p = tmp_path / "x.yaml"
    p.write_text(text)
    with pytest.raises(CostmodelError, match=needle):
        read_yaml(p)


@pytest.mark.parametrize("value", ["inf", "1e400", "nan", "-inf", "x1e400"])
def test_set_refuses_non_finite(value):
    data, _, _ = hardware_data("h100-sxm")
    with pytest.raises(CostmodelError, match="must be a finite number > 0"):
        apply_overrides(data, (f"memory_bandwidth_GBps={value}",))


@pytest.mark.parametrize("cfg, needle", [
    ({"num_hidden_layers": True}, "num_hidden_layers: True is not a whole number"),
    ({"num_hidden_layers": 2.5}, "num_hidden_layers: 2.5 is not a whole number"),
    ({"hidden_size": "4096"}, "hidden_size: '4096' is not a whole number"),
    ({"num_attention_heads": 12}, "transformers' default used: hidden_size=4096"),
])
def test_config_fields_typed_and_defaults_named(cfg, needle):
    with pytest.raises(ConfigError, match=needle):
        spec_from_config(json.loads(json.dumps({"model_type": "llama", **cfg})), name="t")


def test_max_position_embeddings_read():
    spec = spec_from_config({"model_type": "llama", "max_position_embeddings": 4096}, name="t")
    assert spec.llm.max_position_embeddings == 4096


@pytest.mark.parametrize(("name", "text", "needle"), [
    ("deep.json", '{"a":' * 100_000 + "1" + "}" * 100_000, "nested too deeply to read as JSON"),
    ("deep.yaml", "a: " + "[" * 5_000 + "]" * 5_000 + "\n", "nested too deeply to read as YAML"),
])
def test_deeply_nested_file_is_one_line(tmp_path, name, text, needle):
    from costmodel.loading.load import load_hardware, load_model

    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(CostmodelError, match=needle):
        (load_model if name.endswith(".json") else load_hardware)(str(path))


def test_engine_yaml_unknown_key_gets_the_nearest(tmp_path):
    from costmodel.loading.load import load_engine

    path = tmp_path / "eng.yaml"
    bundled = ROOT / "costmodel" / "engines" / "vllm.yaml"
    path.write_text(bundled.read_text() + "step_overhead_usec: 1\n")
    with pytest.raises(CostmodelError, match="did you mean step_overhead_us"):
        load_engine(str(path))
