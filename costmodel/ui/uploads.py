"""Uploaded config.json files: size-limited, parsed in memory with the loader's validators
(`spec_from_config`, as `costmodel estimate ./config.json` does), held by content hash.

The page's state names an upload as `upload:<hash>`, so a link works while this server holds
it (the last MAX_HELD uploads); nothing is written to disk and no client path is read.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from pathlib import PurePath

from pydantic import ValidationError

from costmodel.errors import CostmodelError, one_line
from costmodel.loading.config_fields import ConfigError
from costmodel.loading.from_config import spec_from_config
from costmodel.specs.model import ModelSpec
from costmodel.ui.state import UPLOAD_PREFIX

MAX_UPLOAD_BYTES = 256 * 1024  # the largest bundled config.json is under 3 kB
MAX_HELD = 16

_held: OrderedDict[str, ModelSpec] = OrderedDict()
_lock = threading.Lock()


def _model_name(filename: str) -> str:
    """As the CLI names a file: the folder of a config.json, else the file's stem."""
    p = PurePath(filename.replace("\\", "/"))
    name = p.parent.name if p.name == "config.json" else p.stem
    return (name or "uploaded")[:60]


def parse(raw: bytes, filename: str = "config.json") -> ModelSpec:
    """A ModelSpec from the bytes of a config.json; one-line CostmodelError otherwise."""
    label = PurePath(filename.replace("\\", "/")).name[:60] or "config.json"
    if len(raw) > MAX_UPLOAD_BYTES:
        raise CostmodelError(f"{label}: {len(raw)} bytes; a config.json is at most "
                             f"{MAX_UPLOAD_BYTES // 1024} KiB")
    try:
        cfg = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise CostmodelError(f"{label}: not UTF-8 text (byte {e.start}); give a text file"
                             ) from None
    except json.JSONDecodeError as e:
        raise CostmodelError(f"{label}: not valid JSON (line {e.lineno}); fix the file") from None
    try:
        spec = spec_from_config(cfg, name=_model_name(filename))
    except ConfigError as e:
        raise CostmodelError(e.of_file(label)) from None
    except ValidationError as e:
        raise CostmodelError(f"{label}: {one_line(e)}") from None
    return spec.model_copy(update={"source": f"uploaded {label}"})


def add(raw: bytes, filename: str = "config.json") -> tuple[str, ModelSpec]:
    """Parse and hold an upload; returns its model id (`upload:<hash>`) and spec."""
    spec = parse(raw, filename)
    key = UPLOAD_PREFIX + hashlib.sha256(raw).hexdigest()[:16]
    with _lock:
        _held[key] = spec
        _held.move_to_end(key)
        while len(_held) > MAX_HELD:
            _held.popitem(last=False)
    return key, spec


def get(model_id: str) -> ModelSpec | None:
    with _lock:
        return _held.get(model_id)
