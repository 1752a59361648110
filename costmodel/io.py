"""Reading models and hardware profiles from the bundle or from user files (the I/O edge).

Every failure is a CostmodelError with one line naming the file or field and the fix.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from costmodel.errors import CostmodelError, UnknownName, one_line
from costmodel.hf import ConfigError, spec_from_config
from costmodel.specs.hardware import HardwareFile, HardwareProfile
from costmodel.specs.model import ModelSpec
from costmodel.zoo import ZOO

_PKG = Path(__file__).resolve().parent


def _profiles_dir() -> Path:
    """An installed wheel carries hardware_profiles/ as costmodel/hardware_profiles (see
    pyproject); a source checkout has it beside the package."""
    installed = _PKG / "hardware_profiles"
    return installed if installed.is_dir() else _PKG.parent / "hardware_profiles"


def hardware_ids() -> list[str]:
    return sorted(p.stem for p in _profiles_dir().glob("*.yaml"))


def _looks_like_path(name: str) -> bool:
    return any(c in name for c in "/\\") or name.endswith((".yaml", ".yml", ".json"))


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text()
    except OSError as e:
        raise CostmodelError(f"{path}: cannot read ({e.strerror}); check the path") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise CostmodelError(f"{path}:{where} is not valid YAML; fix the syntax") from None


def hardware_file(data: Any, where: str) -> HardwareFile:
    if not isinstance(data, dict):
        raise CostmodelError(f"{where}: expected a mapping of hardware fields")
    try:
        return HardwareFile.model_validate(data)
    except ValidationError as e:
        raise CostmodelError(f"{where}: {one_line(e)}") from None


@lru_cache(maxsize=64)
def load_hardware(name: str) -> HardwareProfile:
    """A bundled id (`a100-80gb`) or a path to a YAML profile."""
    if _looks_like_path(name) or Path(name).is_file():
        path = Path(name)
        if not path.is_file():
            raise CostmodelError(f"--hardware: no file {name}; give a bundled id or a YAML path")
        return HardwareProfile.from_file(hardware_file(read_yaml(path), str(path)))
    key = name.lower()
    path = _profiles_dir() / f"{key}.yaml"
    if not path.is_file():
        raise UnknownName("hardware", name, hardware_ids())
    return HardwareProfile.from_file(hardware_file(read_yaml(path), path.name))


def model_ids() -> list[str]:
    return list(ZOO)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except OSError as e:
        raise CostmodelError(f"{path}: cannot read ({e.strerror}); check the path") from None
    except json.JSONDecodeError as e:
        raise CostmodelError(f"{path}: not valid JSON (line {e.lineno}); fix the file") from None


def spec_from_file(path: Path, name: str, source: str = "") -> ModelSpec:
    try:
        spec = spec_from_config(_read_json(path), name=name)
    except ConfigError as e:
        raise CostmodelError(f"{path.name}: {e}") from None
    except ValidationError as e:
        raise CostmodelError(f"{path.name}: {one_line(e)}") from None
    return spec.model_copy(update={"source": source or str(path)})


@lru_cache(maxsize=64)
def load_model(name: str) -> ModelSpec:
    """A zoo id (`llava-1.5-7b`) or a path to a Hugging Face config.json (file or folder)."""
    if name.lower() in ZOO:
        entry = ZOO[name.lower()]
        path = _PKG / "zoo_configs" / entry.config_file
        return spec_from_file(path, name.lower(), f"https://huggingface.co/{entry.source}")
    path = Path(name)
    if path.is_dir():
        path = path / "config.json"
    if path.is_file():
        return spec_from_file(path, path.parent.name if path.name == "config.json" else path.stem)
    if _looks_like_path(name):
        raise CostmodelError(f"MODEL: no file {name}; give a zoo id or a config.json path")
    raise UnknownName("models", name, model_ids())
