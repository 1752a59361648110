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

    def of_file(self, name: str) -> str:
        """The message naming the file `name` once (the message itself says 'config.json: ';
        prefixed as it was, a config.json said 'config.json: config.json: ...')."""
        return f"{name}: {str(self).removeprefix('config.json: ')}"


def _get(cfg: Cfg, defaults: Cfg, key: str, where: str = "") -> Any:
    """cfg[key], else the transformers default; a whole-number field must hold a whole
    number (true, 32.5 or "32" are refused, naming the field), a true/false field true or
    false ("false", a string, is refused: Python would read it as true)."""
    if key in cfg and cfg[key] is not None:
        value = cfg[key]
        if isinstance(defaults.get(key), bool):
            return _flag_value(value, f"{where}{key}")
        if isinstance(defaults.get(key), int):
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


def _flag(cfg: Cfg, key: str, default: bool, where: str = "") -> bool:
    """A true/false field: cfg[key] (null or absent: `default`); anything but true / false is
    refused, naming the field."""
    value = cfg.get(key)
    return default if value is None else _flag_value(value, f"{where}{key}")


def _flag_value(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"config.json: {field}: {value!r} is not true or false; write true "
                          "or false (JSON, no quotes)")
    return value


_JSON = {dict: "an object", list: "an array", str: "a string", bool: "true / false",
         int: "a number", float: "a number"}


def check_shape(cfg: Cfg) -> None:
    """What every family loader relies on, checked once before any of them reads a field:
    text_config / vision_config are objects, model_type a string, architectures a list of
    strings (a config.json of the wrong shape is one line naming the field, not a traceback)."""
    sections = [("", cfg)]
    for key in ("text_config", "vision_config"):
        if cfg.get(key) is not None and not isinstance(cfg[key], dict):
            raise ConfigError(f"config.json: {key}: expected an object {{...}}, got "
                              f"{_JSON.get(type(cfg[key]), type(cfg[key]).__name__)}; fix the file")
        sections.append((f"{key}.", cfg.get(key) or {}))
    for where, section in sections:
        kind = section.get("model_type")
        if kind is not None and not isinstance(kind, str):
            raise ConfigError(f"config.json: {where}model_type: {str(kind)[:40]} is not a string; "
                              "write the transformers model_type, e.g. \"llava\"")
        archs = section.get("architectures")
        if archs is not None and not (isinstance(archs, list)
                                      and all(isinstance(a, str) for a in archs)):
            raise ConfigError(f"config.json: {where}architectures: {str(archs)[:60]} is not a "
                              "list of class names; write e.g. [\"LlavaForConditionalGeneration\"]")
