"""The family (config.json `model_type`) of a zoo model, for `costmodel models list`."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from costmodel.loading.zoo import ZOO

_ZOO_DIR = Path(__file__).resolve().parents[1] / "zoo_configs"


@cache
def zoo_family(mid: str) -> str:
    """`model_type` of the zoo model's shipped config.json (llava, qwen2_vl, llama, ...)."""
    cfg = json.loads((_ZOO_DIR / ZOO[mid].config_file).read_text(encoding="utf-8"))
    return str(cfg.get("model_type", "?"))
