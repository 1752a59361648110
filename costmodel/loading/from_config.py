"""config.json (parsed) -> ModelSpec: one dispatch over the model families. Families with
their own module are tried first; the rest are hf_config's (builtin_spec). No network, no I/O.
To add a family: a module loading/<family>.py with a `<family>(cfg, name) -> ModelSpec` built on
hf_config's helpers, and one entry in FAMILIES (docs/methodology.md sections per family)."""

from __future__ import annotations

from collections.abc import Callable

from costmodel.loading.config_fields import Cfg, ConfigError, check_shape
from costmodel.loading.gemma3 import gemma3_spec
from costmodel.loading.hf_config import builtin_spec
from costmodel.loading.idefics3 import idefics3
from costmodel.loading.internvl import internvl
from costmodel.loading.mllama import mllama_from_config
from costmodel.loading.moe import moe_spec_from_config
from costmodel.loading.quantization import quantization_config
from costmodel.loading.qwen3_vl_moe import qwen3_vl_moe_from_config
from costmodel.loading.qwen_vl import qwen_vl_from_config
from costmodel.specs.model import ModelSpec

FAMILIES: dict[str, Callable[[Cfg, str], ModelSpec]] = {
    "mixtral": moe_spec_from_config, "qwen3_moe": moe_spec_from_config,
    "qwen2_moe": moe_spec_from_config,
    "qwen2_5_vl": qwen_vl_from_config, "qwen3_vl": qwen_vl_from_config,
    "qwen3_vl_moe": qwen3_vl_moe_from_config,
    "internvl": internvl,
    "mllama": mllama_from_config,
    "gemma3": gemma3_spec, "gemma3_text": gemma3_spec,
    "idefics3": idefics3,
}


def spec_from_config(cfg: Cfg, name: str = "model") -> ModelSpec:
    """Turn a parsed config.json into a ModelSpec (ConfigError if unsupported)."""
    if not isinstance(cfg, dict):
        raise ConfigError("config.json: expected a JSON object at the top level")
    check_shape(cfg)
    family = FAMILIES.get(str(cfg.get("model_type")))
    spec = family(cfg, name) if family else builtin_spec(cfg, name)
    quant = quantization_config(cfg)
    return spec if quant is None else spec.model_copy(update={"quantization": quant})
