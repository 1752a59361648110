"""Sliding windows of Llama-family configs (mistral, qwen2) -> LLMSpec.layer_types and
sliding_window (docs/methodology.md, "Sliding-window attention and Gemma 3").

transformers 5.23.0: MistralConfig `sliding_window` (default 4096; null = off) applies to
every layer (modeling_mistral passes config.sliding_window to each attention call, whatever
`layer_types` says). Qwen2Config: the window is `sliding_window` only with
`use_sliding_window` true (else None); `layer_types`, when absent, makes layer i sliding when
the window is set and i >= `max_window_layers`; a sliding layer with no window attends fully.
Llama has no window. Refused: layer types other than full / sliding (linear, chunked
attention), and non-full `layer_types` where the model would not apply them.
"""

from __future__ import annotations

from typing import Any, Literal

from costmodel.loading.config_fields import (
    MAX_WINDOW_LAYERS_DEFAULT,
    SLIDING_WINDOW_DEFAULT,
    ConfigError,
    _flag,
    _whole,
)

Cfg = dict[str, Any]
Kind = Literal["full", "sliding"]
_KINDS: dict[str, Kind] = {"full_attention": "full", "sliding_attention": "sliding"}


def _window(cfg: Cfg, kind: str, where: str) -> int | None:
    if kind == "qwen2" and not _flag(cfg, "use_sliding_window", False, where):
        return None
    if kind not in ("mistral", "qwen2"):
        return None
    w = cfg.get("sliding_window", SLIDING_WINDOW_DEFAULT)
    return None if w is None else _whole(w, f"{where}sliding_window")


def _layer_types(cfg: Cfg, where: str) -> list[str]:
    """layer_types: a list of layer-kind names (null / absent: [])."""
    given = cfg.get("layer_types") or []
    if not isinstance(given, list) or not all(isinstance(t, str) for t in given):
        raise ConfigError(f"config.json: {where}layer_types: {str(given)[:60]} is not a list of "
                          "layer kinds; write e.g. [\"full_attention\", \"sliding_attention\"]")
    return given


def llm_windows(cfg: Cfg, kind: str, layers: int, where: str = "") -> Cfg:
    """LLMSpec fields {layer_types, sliding_window} ({} = every layer full attention)."""
    given = _layer_types(cfg, where)
    bad = [t for t in given if t not in _KINDS]
    if not bad and kind != "qwen2":  # Llama / Mistral layers ignore layer_types
        bad = [t for t in given if t != "full_attention"]
    if bad:
        t = bad[0]
        raise ConfigError(f"config.json: {where}layer_types has '{t}' layers: not modelled for "
                          f"{kind} (full_attention, and sliding_attention in qwen2 and gemma3, "
                          "are); use a config whose layers are all full_attention")
    window = _window(cfg, kind, where)
    if window is None:
        return {}
    first = 0 if kind == "mistral" else _whole(
        cfg.get("max_window_layers", MAX_WINDOW_LAYERS_DEFAULT), f"{where}max_window_layers")
    names = given or ["sliding_attention" if i >= first else "full_attention"
                      for i in range(layers)]
    kinds: tuple[Kind, ...] = tuple(_KINDS[t] for t in names)
    if "sliding" not in kinds:
        return {}
    return {"layer_types": kinds, "sliding_window": window}
