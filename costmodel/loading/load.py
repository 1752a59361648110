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
from costmodel.loading import whatif
from costmodel.loading.hf_config import ConfigError, spec_from_config
from costmodel.loading.zoo import ZOO
from costmodel.specs.engine import Engine, EngineFile
from costmodel.specs.hardware import HardwareFile, HardwareProfile
from costmodel.specs.model import ModelSpec

_PKG = Path(__file__).resolve().parents[1]  # the costmodel package


def _profiles_dir() -> Path:
    """An installed wheel carries hardware_profiles/ as costmodel/hardware_profiles (see
    pyproject); a source checkout has it beside the package."""
    installed = _PKG / "hardware_profiles"
    return installed if installed.is_dir() else _PKG.parent / "hardware_profiles"


def hardware_ids() -> list[str]:
    return sorted(p.stem for p in _profiles_dir().glob("*.yaml"))


def engine_ids() -> list[str]:
    """The bundled inference engines (costmodel/engines/*.yaml)."""
    return sorted(p.stem for p in (_PKG / "engines").glob("*.yaml"))


def load_engine(name: str) -> Engine:
    """A bundled engine id (`vllm`) or a path to an engine YAML (costmodel.specs.engine)."""
    path = Path(name) if _looks_like_path(name) else _PKG / "engines" / f"{name}.yaml"
    if not path.is_file():
        if _looks_like_path(name):
            raise CostmodelError(f"--engine: no file '{name[:80]}'; check the path")
        raise UnknownName("engines", name[:40], engine_ids())
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise CostmodelError(f"{path}: expected a mapping of engine fields")
    try:
        return Engine.from_file(EngineFile.model_validate(data))
    except ValidationError as e:
        raise CostmodelError(f"{path}: {one_line(e)}") from None


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


def _hardware_path(name: str, near: Path | None = None) -> Path:
    """A bundled id or a YAML path (relative paths in a `base:` key are relative to the
    file that names them)."""
    if _looks_like_path(name) or Path(name).is_file():
        path = Path(name)
        if near is not None and not path.is_absolute() and not path.is_file():
            path = near.parent / path
        if not path.is_file():
            raise CostmodelError(f"--hardware: no file {name}; give a bundled id or a YAML path")
        return path
    path = _profiles_dir() / f"{name.lower()}.yaml"
    if not path.is_file():
        raise UnknownName("hardware", name, hardware_ids())
    return path


def hardware_data(name: str, near: Path | None = None,
                  seen: tuple[Path, ...] = ()) -> tuple[dict[str, Any], str, HardwareFile | None]:
    """(profile mapping with `base:` resolved, where it came from, the validated base or None)."""
    path = _hardware_path(name, near)
    where = path.name if path.parent == _profiles_dir() else str(path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise CostmodelError(f"{where}: expected a mapping of hardware fields")
    if "base" not in data:
        return data, where, None
    if path.resolve() in seen:
        raise CostmodelError(f"{where}: base: inheritance loops back to {path.name}; "
                             "break the cycle")
    base_data, base_where, _ = hardware_data(str(data["base"]), path, seen + (path.resolve(),))
    base = hardware_file(base_data, base_where)
    child = {k: v for k, v in data.items() if k != "base"}
    merged = whatif.merge(base_data, child)
    merged["id"] = whatif.derived_id(base.id, child)
    return merged, where, base


@lru_cache(maxsize=64)
def load_hardware(name: str, sets: tuple[str, ...] = ()) -> HardwareProfile:
    """A bundled id (`a100-80gb`) or a path to a YAML profile (which may inherit with
    `base: <id or path>`), with what-if overrides `sets` (KEY=VALUE, see costmodel.loading.whatif)."""
    data, where, base = hardware_data(name)
    if sets:
        base = base or hardware_file(data, where)
        data = whatif.apply_overrides(data, sets)
        data["id"] = whatif.derived_id(base.id, {}) if data["id"] == base.id else data["id"]
        where = f"{where} with --set"
    f = hardware_file(data, where)
    if base is None:
        return HardwareProfile.from_file(f)
    return HardwareProfile.from_file(f, whatif.changes(base, f))


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
