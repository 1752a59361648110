"""Nothing that changes cost is silently ignored: config fields that are not modelled are refused
with one line naming the field (ConfigError in Python, exit code 2 in the CLI), and every
bundled zoo config still loads."""

from __future__ import annotations

import json

import pytest

from costmodel.errors import CostmodelError
from costmodel.loading.from_config import spec_from_config
from costmodel.loading.load import load_model, model_ids
from tests.helpers import ZOO_CONFIGS, config_refused, run, zoo_config

ZOO = ZOO_CONFIGS

# mistralai/Mixtral-8x7B-v0.1 config.json (architecture fields).
MIXTRAL = {"architectures": ["MixtralForCausalLM"], "hidden_act": "silu", "hidden_size": 4096,
           "intermediate_size": 14336, "max_position_embeddings": 32768, "model_type": "mixtral",
           "num_attention_heads": 32, "num_experts_per_tok": 2, "num_hidden_layers": 32,
           "num_key_value_heads": 8, "num_local_experts": 8, "rope_theta": 1e6,
           "sliding_window": None, "tie_word_embeddings": False, "vocab_size": 32000}
# mistralai/Mistral-7B-v0.1 config.json (architecture fields): a 4096-token window.
MISTRAL_V01 = {"architectures": ["MistralForCausalLM"], "hidden_act": "silu", "hidden_size": 4096,
               "intermediate_size": 14336, "max_position_embeddings": 32768,
               "model_type": "mistral", "num_attention_heads": 32, "num_hidden_layers": 32,
               "num_key_value_heads": 8, "sliding_window": 4096, "vocab_size": 32000}
QWEN2 = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 896,
         "intermediate_size": 4864, "num_attention_heads": 14, "num_hidden_layers": 24,
         "num_key_value_heads": 2, "max_window_layers": 21, "sliding_window": 32768,
         "use_sliding_window": False, "vocab_size": 151936, "tie_word_embeddings": True}


@pytest.mark.parametrize("mid", sorted(model_ids()))
def test_every_zoo_config_loads(mid):
    assert load_model(mid).param_counts()["total"] > 0


def test_every_zoo_json_file_passes_the_checks():
    files = sorted(ZOO.glob("*.json"))
    assert len(files) == len(model_ids())
    for f in files:
        spec_from_config(json.loads(f.read_text()), f.stem)


def test_mixtral_is_modelled_notconfig_refused():
    # 46,702,792,704 = the safetensors index total_size 93,405,585,408 / 2 (SOURCES.md), not
    # the dense 7.24B shape; its MoE refusals: tests/unit/loading/test_moe.py.
    assert spec_from_config(MIXTRAL).param_counts()["total"] == 46_702_792_704


@pytest.mark.parametrize(("update", "field"), [
    ({"model_type": "mistral"}, "num_local_experts = 8"),  # was a dense 7.24B model
    ({"model_type": "llama", "num_local_experts": None, "num_experts": 60}, "num_experts = 60"),
    ({"model_type": "qwen2", "num_local_experts": 0, "num_experts_per_tok": None,
      "n_routed_experts": 64}, "n_routed_experts = 64"),
    ({"model_type": "qwen2", "num_local_experts": None, "num_experts_per_tok": None,
      "moe_intermediate_size": 1408}, "moe_intermediate_size = 1408"),
])
def test_mixture_of_expertsconfig_refused(update, field):
    msg = config_refused({**MIXTRAL, **update})
    assert msg == (f"config.json: {field}: mixture-of-experts layers are modelled for "
                   "model_type mixtral, qwen3_moe and qwen2_moe only (this config would be "
                   "costed as dense)")


def test_experts_in_a_vlm_text_configconfig_refused():
    cfg = zoo_config("llava-1.5-7b")
    cfg["text_config"]["num_local_experts"] = 8
    assert config_refused(cfg).startswith("config.json: text_config.num_local_experts = 8: ")


def test_mistral_sliding_window_modelled():
    """Mistral-7B-v0.1: a 4096-token window on every layer (it used to be refused)."""
    llm = spec_from_config(MISTRAL_V01).llm
    assert llm.attn_runs(0, 32) == [(0, 32, 4096)] and llm.num_params() == 7_241_732_096
    absent = {k: v for k, v in MISTRAL_V01.items() if k != "sliding_window"}  # default 4096
    assert spec_from_config(absent).llm.sliding_window == 4096
    spec = spec_from_config({**MISTRAL_V01, "sliding_window": None})  # v0.2+: no window
    assert spec.llm.layer_types == () and spec.llm.num_params() == 7_241_732_096


def test_qwen2_sliding_window_only_when_used():
    assert spec_from_config(QWEN2).llm.layer_types == ()  # use_sliding_window false: not used
    llm = spec_from_config({**QWEN2, "use_sliding_window": True}).llm
    # transformers: layers >= max_window_layers (21) slide.
    assert llm.attn_runs(0, 24) == [(0, 21, None), (21, 24, 32768)]
    assert spec_from_config({**QWEN2, "use_sliding_window": True,
                             "max_window_layers": 24}).llm.layer_types == ()


def test_qwen2_vl_sliding_window_uses_its_own_default():
    cfg = zoo_config("qwen2-vl-2b")
    cfg.update(use_sliding_window=True)  # max_window_layers 28 = all 28 layers: no window
    assert spec_from_config(cfg).llm.layer_types == ()
    del cfg["max_window_layers"]  # Qwen2VLConfig default 80 >= 28: still none
    assert spec_from_config(cfg).llm.layer_types == ()
    cfg["max_window_layers"] = 14
    assert spec_from_config(cfg).llm.attn_runs(0, 28) == [(0, 14, None), (14, 28, 32768)]


@pytest.mark.parametrize("kind", ["chunked_attention", "linear_attention"])
def test_non_full_layer_typesconfig_refused(kind):
    types = ["full_attention"] * 23 + [kind]
    assert config_refused({**QWEN2, "layer_types": types}) == (
        f"config.json: layer_types has '{kind}' layers: not modelled for qwen2 (full_attention, "
        "and sliding_attention in qwen2 and gemma3, are); use a config whose layers are all "
        "full_attention")
    assert spec_from_config({**QWEN2, "layer_types": ["full_attention"] * 24})


def test_qwen2_layer_types_slide_only_with_a_window():
    types = ["full_attention"] * 22 + ["sliding_attention"] * 2
    assert spec_from_config({**QWEN2, "layer_types": types}).llm.layer_types == ()  # no window
    llm = spec_from_config({**QWEN2, "layer_types": types, "use_sliding_window": True}).llm
    assert llm.attn_runs(20, 24) == [(20, 22, None), (22, 24, 32768)]
    msg = config_refused({**MISTRAL_V01, "layer_types": ["sliding_attention"] * 32})
    assert msg.startswith("config.json: layer_types has 'sliding_attention' layers: not modelled "
                          "for mistral")


def test_unknown_architectureconfig_refused():
    orig = json.loads((ZOO / "original" / "liuhaotian-llava-v1.5-7b.json").read_text())
    assert config_refused(orig) == (
        "config.json: architectures ['LlavaLlamaForCausalLM'] is not modelled for model_type "
        "'llava'; use a transformers config.json whose architectures is LlavaForConditionalGeneration")
    msg = config_refused({**QWEN2, "architectures": ["Qwen2ForSequenceClassification"]})
    assert "architectures ['Qwen2ForSequenceClassification']" in msg
    cfg = zoo_config("llava-1.5-7b")
    cfg["text_config"]["architectures"] = ["MistralForCausalLM"]
    assert config_refused(cfg).startswith("config.json: text_config.architectures ['MistralForCausalLM']")


def test_unknown_model_typeconfig_refused():
    assert config_refused({"model_type": "qwen3_next"}).startswith(
        "config.json: model_type 'qwen3_next' is not supported")


def test_mlp_not_builtconfig_refused():
    assert config_refused({**QWEN2, "hidden_act": "gelu"}) == (
        "config.json: hidden_act 'gelu' is not modelled (qwen2 MLPs are costed as SwiGLU); "
        "use a config with hidden_act silu")
    assert "mlp_bias = true" in config_refused({**MISTRAL_V01, "sliding_window": None, "mlp_bias": True})


def test_cli_refusal_is_one_line_exit_2(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps({**MIXTRAL, "model_type": "mistral",
                                                      "architectures": ["MistralForCausalLM"]}))
    code, _, err = run(["estimate", str(tmp_path / "config.json"), "-H", "a100-80gb"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "num_local_experts = 8: mixture-of-experts" in err


def test_load_model_raises_costmodel_error(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({**QWEN2, "layer_types": ["linear_attention"] * 24}))
    with pytest.raises(CostmodelError, match="layer_types"):
        load_model(str(tmp_path / "config.json"))
