"""What every config.json loader shares: the error type and reading a field with the
transformers default of its config class. A leaf module (imports nothing of loading/), so
the family loaders and hf_config build on it without import cycles."""

from __future__ import annotations

from typing import Any

Cfg = dict[str, Any]

# Config-class defaults: MistralConfig / Qwen2Config sliding_window 4096; Qwen2Config
# max_window_layers 28 (Qwen2VLConfig: 80, set by the qwen2_vl loader).
SLIDING_WINDOW_DEFAULT = 4096
MAX_WINDOW_LAYERS_DEFAULT = 28


class ConfigError(ValueError):
    """A config.json this loader cannot turn into a spec (names the field)."""


def _get(cfg: Cfg, defaults: Cfg, key: str, where: str = "") -> Any:
    """cfg[key], else the transformers default; a whole-number field must hold a whole
    number (true, 32.5 or "32" are refused, naming the field)."""
    if key in cfg and cfg[key] is not None:
        value = cfg[key]
        if isinstance(defaults.get(key), int) and not isinstance(defaults.get(key), bool):
            return _whole(value, f"{where}{key}")
        return value
    if key in defaults:
        return defaults[key]
    raise ConfigError(f"config.json: missing field '{where}{key}'")


def _whole(value: Any, field: str) -> int:
    ok = isinstance(value, int) and not isinstance(value, bool)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not ok:
        raise ConfigError(f"config.json: {field}: {value!r} is not a whole number; write one, "
                          "e.g. 32")
    return value
