"""Reading models and hardware profiles from the bundle or from user files (the I/O edge).

Every failure is a CostmodelError with one line naming the file or field and the fix.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from stat import S_ISREG
from typing import Any, get_args

import yaml
from pydantic import ValidationError

from costmodel.errors import CostmodelError, UnknownName, one_line
from costmodel.loading import hf_cache, whatif
from costmodel.loading.config_fields import ConfigError
from costmodel.loading.from_config import spec_from_config
from costmodel.loading.zoo import ZOO
from costmodel.specs.engine import ENGINE_SOURCED, Engine, EngineFile
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
    """A bundled engine id (`vllm`, any case, as hardware and model ids) or a path to an engine
    YAML (costmodel.specs.engine). Cached like load_hardware: every prepare asks for its engine
    (the Engine is frozen)."""
    if _looks_like_path(name):
        return _load_engine(name, _stamp(Path(name)))
    return _load_engine(name.lower(), None)


@lru_cache(maxsize=64)
def _load_engine(name: str, stamp: tuple[int, ...] | None) -> Engine:
    """load_engine, cached by the name and a YAML file's stamp (_stamp)."""
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
        raise CostmodelError(f"{path}: {one_line(e)}{_engine_fix(e)}") from None


def _engine_fix(e: ValidationError) -> str:
    """A missing engine field: where a complete engine shows one (a key it does not know: the
    nearest valid keys)."""
    err = e.errors()[0]
    if err["type"] == "missing":
        loc = ".".join(str(x) for x in err["loc"])
        sourced = loc in ENGINE_SOURCED  # a figure needs its source; id, name, sources do not
        return (f"; add {loc}:{' and its source under sources:' if sourced else ''} "
                "(`costmodel engines show vllm` prints a complete engine)")
    return extra_key_fix(e, EngineFile)


def _looks_like_path(name: str) -> bool:
    return any(c in name for c in "/\\") or name.endswith((".yaml", ".yml", ".json"))


def _is(path: Path, kind: str = "file") -> bool:
    """Path.is_file / is_dir that answer False for names the OS refuses (too long, ...)."""
    try:
        return path.is_file() if kind == "file" else path.is_dir()
    except (OSError, ValueError):
        return False


def read_text(path: Path, what: str = "") -> str:
    """A file's UTF-8 text; one line naming the file when it cannot be read or decoded."""
    label = f"{what}: {path}" if what else str(path)
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise CostmodelError(f"{label}: not UTF-8 text (byte {e.start}); give a text file"
                             ) from None
    except OSError as e:
        raise CostmodelError(f"{label}: cannot read ({e.strerror}); check the path") from None


class _Loader(yaml.SafeLoader):
    """Safe YAML that also refuses a key written twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise _Duplicate(f"line {key_node.start_mark.line + 1}: key '{key}' is given "
                                 "twice; keep one")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class _Duplicate(Exception):
    pass


def read_yaml(path: Path) -> Any:
    text = read_text(path)
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except _Duplicate as e:
        raise CostmodelError(f"{path}: {e}") from None
    except RecursionError:
        raise CostmodelError(f"{path}: nested too deeply to read as YAML; fix the file") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = str(getattr(e, "problem", "") or "")
        if isinstance(e, yaml.constructor.ConstructorError) and "tag" in problem:
            tag = problem.split("tag", 1)[1].strip(" '")
            raise CostmodelError(f"{path}:{where}: tag '{tag[:60]}' not allowed; write plain "
                                 "YAML values") from None
        raise CostmodelError(f"{path}:{where} is not valid YAML; fix the syntax") from None


def hardware_file(data: Any, where: str) -> HardwareFile:
    if not isinstance(data, dict):
        raise CostmodelError(f"{where}: expected a mapping of hardware fields")
    try:
        return HardwareFile.model_validate(data)
    except ValidationError as e:
        key = _near_base(e)
        if key is not None:  # every field then reads as missing: name the key instead
            raise CostmodelError(f"{where}: {key}: Extra inputs are not permitted; did you mean "
                                 "base? (`base: ID` inherits every field from a bundled id or "
                                 "a YAML path)") from None
        raise CostmodelError(f"{where}: {one_line(e)}{_hardware_fix(e)}") from None


def _near_base(e: ValidationError) -> str | None:
    """An unknown top-level key that reads as a misspelt `base:` (Base, bsae, bases)."""
    for err in e.errors():
        loc = err["loc"]
        if err["type"] == "extra_forbidden" and len(loc) == 1 and difflib.get_close_matches(
                str(loc[0]).lower(), ["base"], n=1, cutoff=0.7):
            return str(loc[0])
    return None


def _hardware_fix(e: ValidationError) -> str:
    """The fix pydantic's message lacks: a key the profile does not know gets its nearest valid
    keys (or all of them); a missing figure, where a complete profile shows one."""
    err = e.errors()[0]
    loc = [str(x) for x in err["loc"]]
    if err["type"] == "missing":
        add = ("a sources: mapping, a line per figure saying where it comes from"
               if loc == ["sources"] else f"{loc[0]}:" if loc[0] in _UNSOURCED
               else f"{loc[0]}: and its source under sources:"
               if len(loc) == 1 else f"{'.'.join(loc)}")
        return f"; add {add} (`costmodel hardware show h100-sxm` prints a complete profile)"
    if loc == ["interconnect", "kind"]:
        return ("; the kind sets only the default link latency: another GPU-to-GPU link (AMD "
                "Infinity Fabric, ...) is nvlink with its own bandwidth_GBps and latency_us")
    return extra_key_fix(e, HardwareFile, ("base",))


_UNSOURCED = ("id", "name", "category")  # required keys that are not figures: no source


def extra_key_fix(e: ValidationError, root: Any, top: tuple[str, ...] = ()) -> str:
    """'; did you mean ...?' for a key the schema (`root`, a pydantic model: a file's, or the
    Workload given from Python) does not know: its nearest valid keys (as written, else in any
    case), or all of them (with `top`, keys read before validation, at the top level).
    pydantic's tags of a validator or a union member in the location are skipped (a union:
    its first model)."""
    err = e.errors()[0]
    loc = [str(x) for x in err["loc"] if not (isinstance(x, str) and "[" in x)]
    if err["type"] != "extra_forbidden":
        return ""
    model: Any = root
    for part in loc[:-1]:  # a nested group: peak_tflops, efficiency, interconnect, ...
        ann = model.model_fields[part].annotation if part in model.model_fields else None
        model = next((a for a in (ann, *get_args(ann)) if hasattr(a, "model_fields")), None)
        if model is None:
            return ""
    keys = [*model.model_fields, *(top if len(loc) == 1 else ())]
    lower = {k.lower(): k for k in keys}  # in any case where none is near as written ('TP')
    near = difflib.get_close_matches(loc[-1], keys, n=3, cutoff=0.6) or [
        lower[k] for k in difflib.get_close_matches(loc[-1].lower(), lower, n=3, cutoff=0.6)]
    return (f"; did you mean {', '.join(near)}?" if near else
            f"; valid keys here: {', '.join(keys)}")


def _hardware_path(name: str, near: Path | None = None, option: str = "--hardware") -> Path:
    """A bundled id or a YAML path (relative paths in a `base:` key are relative to the
    file that names them)."""
    if _looks_like_path(name) or _is(Path(name)):
        path = Path(name)
        if near is not None and not path.is_absolute() and not _is(path):
            path = near.parent / path
        if not _is(path):
            raise CostmodelError(f"{option}: no file {_short(name)}; give a bundled id or a "
                                 "YAML path")
        return path
    path = _profiles_dir() / f"{name.lower()}.yaml"
    if not _is(path):  # under base: the file and key that name it (option = 'FILE: base');
        # the default option is left to the CLI, which reads the field 'hardware' as it
        raise UnknownName("hardware", name, hardware_ids(),
                          option if near or option != "--hardware" else "")
    return path


def _short(name: str) -> str:
    return name if len(name) <= 80 else name[:80] + "..."


def hardware_data(name: str, near: Path | None = None, seen: tuple[Path, ...] = (),
                  option: str = "--hardware") -> tuple[dict[str, Any], str, HardwareFile | None]:
    """(profile mapping with `base:` resolved, where it came from, the validated base or None)."""
    path = _hardware_path(name, near, option)
    if near is not None:  # remembered so that load_hardware's stamp covers the base file too
        _INHERITS[near.resolve()] = path.resolve()
    where = path.name if path.parent == _profiles_dir() else str(path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise CostmodelError(f"{where}: expected a mapping of hardware fields")
    if "base" not in data:
        return data, where, None
    if path.resolve() in seen:
        raise CostmodelError(f"{where}: base: inheritance loops back to {path.name}; "
                             "break the cycle")
    base_data, base_where, _ = hardware_data(str(data["base"]), path, seen + (path.resolve(),),
                                             f"{where}: base")
    base = hardware_file(base_data, base_where)
    child = {k: v for k, v in data.items() if k != "base"}
    merged = whatif.source_overrides(whatif.merge(base_data, child), child,
                                     f"set in {where} over base {base.id}")
    merged["id"] = whatif.derived_id(base.id, child)
    return merged, where, base


def load_hardware(name: str | os.PathLike[str] | HardwareProfile, sets: str | Iterable[str] = (),
                  option: str = "--hardware") -> HardwareProfile:
    """A bundled id (`a100-80gb`), a path to a YAML profile (which may inherit with
    `base: <id or path>`) or a HardwareProfile already loaded, with what-if overrides `sets`
    (KEY=VALUE, see costmodel.loading.whatif; one string or several, e.g.
    ["memory_bandwidth_GBps=x1.5", "peak_tflops.bf16=x2"]). `option` names the command-line
    option in error messages."""
    items = (sets,) if isinstance(sets, str) else tuple(sets)
    if isinstance(name, HardwareProfile):
        return _derive(name, items)
    if not isinstance(name, str | os.PathLike):
        raise CostmodelError(f"hardware: got {type(name).__name__}; give a bundled id such as "
                             "'a100-80gb', a YAML path or a HardwareProfile")
    return _load_hardware(os.fspath(name), items, option, _chain_stamp(Path(os.fspath(name))))


def _derive(profile: HardwareProfile, sets: tuple[str, ...]) -> HardwareProfile:
    """A loaded profile with what-if overrides applied to the file it was built from (its
    `source_file`, so a what-if of a what-if); its changes listed after the profile's own."""
    if not sets:
        return profile
    base = profile.source_file
    f = _with_sets(base.model_dump(exclude_none=True), sets, profile.id)
    return HardwareProfile.from_file(f, profile.changes + whatif.changes(base, f))


def _with_sets(data: dict[str, Any], sets: tuple[str, ...], where: str) -> HardwareFile:
    """A profile file's mapping with the what-if overrides applied and its id starred (a
    YAML's own id too: b200 -> b200*), checked as '<where> with --set'."""
    data = whatif.apply_overrides(data, sets)
    data["id"] = whatif.derived_id(str(data["id"]), {})
    return hardware_file(data, f"{where} with --set")


# A YAML profile's resolved path -> the `base:` file it inherited from when last read.
_INHERITS: dict[Path, Path] = {}


def _chain_stamp(path: Path) -> tuple[tuple[int, ...] | None, ...]:
    """The stamps (_stamp) of a profile file and of the `base:` files it inherited from when
    last read: an edit to any of them reads the profile again. A new base can only be named
    by editing a file already in the chain, whose stamp then changes."""
    stamps, seen = [_stamp(path)], set()
    link = _INHERITS.get(path.resolve()) if stamps[0] is not None else None
    while link is not None and link not in seen:
        seen.add(link)
        stamps.append(_stamp(link))
        link = _INHERITS.get(link)
    return tuple(stamps)


@lru_cache(maxsize=64)
def _load_hardware(name: str, sets: tuple[str, ...], option: str,
                   stamp: tuple[tuple[int, ...] | None, ...]) -> HardwareProfile:
    """load_hardware, cached by its (hashable) arguments and the stamps of a YAML file and its
    `base:` files (_chain_stamp)."""
    data, where, base = hardware_data(name, option=option)
    if sets:
        base = base or hardware_file(data, where)
        f = _with_sets(data, sets, where)
    else:
        f = hardware_file(data, where)
    if base is None:
        return HardwareProfile.from_file(f)
    return HardwareProfile.from_file(f, whatif.changes(base, f))


def model_ids() -> list[str]:
    return list(ZOO)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise CostmodelError(f"{path}: not valid JSON (line {e.lineno}); fix the file") from None
    except RecursionError:
        raise CostmodelError(f"{path}: nested too deeply to read as JSON; fix the file") from None


def spec_from_file(path: Path, name: str, source: str = "") -> ModelSpec:
    try:
        spec = spec_from_config(_read_json(path), name=name)
    except ConfigError as e:
        raise CostmodelError(e.of_file(path.name)) from None
    except ValidationError as e:
        raise CostmodelError(f"{path.name}: {one_line(e)}") from None
    return spec.model_copy(update={"source": source or str(path)})


def load_model(name: str | os.PathLike[str]) -> ModelSpec:
    """A zoo id (`llava-1.5-7b`), a path to a Hugging Face config.json (file or folder, str or
    pathlib.Path), or a Hub id `org/name` read from the local Hugging Face cache
    (costmodel.loading.hf_cache). Resolution order: zoo id, then an existing local path, then
    a Hub id (docs/methodology.md). Cached by the name and, for a local file, its stamp
    (_stamp): a config.json edited in a notebook session is read again."""
    if not isinstance(name, str | os.PathLike):
        raise CostmodelError(f"model: got {type(name).__name__}; give a zoo id such as "
                             "'llava-1.5-7b', a config.json path or a Hub id")
    if isinstance(name, str) and not name.strip():  # Path('') is the working folder
        raise CostmodelError("model: empty; give a zoo id such as 'llava-1.5-7b', a "
                             "config.json path or a Hub id")
    name = os.fspath(name)
    path = Path(name) / "config.json" if _is(Path(name), "dir") else Path(name)
    return _load_model(name, _stamp(path))


def _stamp(path: Path) -> tuple[int, ...] | None:
    """(modification time, status change time (ns), size, inode) of a local file, None if
    there is none. The change time and inode catch an edit that keeps the size and the
    modification time (a copy or an archive restoring it: os.utime sets the change time; a
    file replaced by rename is a new inode)."""
    try:
        st = path.stat()
    except (OSError, ValueError):
        return None
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino) if S_ISREG(st.st_mode) else None


@lru_cache(maxsize=64)
def _load_model(name: str, stamp: tuple[int, ...] | None) -> ModelSpec:
    """load_model, cached by the name and the file's stamp."""
    if name.lower() in ZOO:
        entry = ZOO[name.lower()]
        path = _PKG / "zoo_configs" / entry.config_file
        return spec_from_file(path, name.lower(), f"https://huggingface.co/{entry.source}")
    path = Path(name)
    if _is(path, "dir"):
        path = path / "config.json"
    if _is(path):
        return spec_from_file(path, path.parent.name if path.name == "config.json" else path.stem)
    folder = (f"MODEL: the folder {_short(name)} holds no config.json; give a zoo id, a "
              "config.json path or a model folder with one")
    if hf_cache.is_repo_id(name):
        zoo_id = next((k for k, e in ZOO.items() if e.source.lower() == name.lower()), "")
        try:
            cfg = hf_cache.cached_config(name, zoo_id=zoo_id)
        except CostmodelError:
            if _is(Path(name), "dir"):  # a local folder named like a Hub id: what it lacks
                raise CostmodelError(folder) from None
            raise
        return spec_from_file(cfg, name, f"https://huggingface.co/{name}/blob/"
                              f"{hf_cache.commit_of(cfg)}/config.json")
    if _is(Path(name), "dir"):
        raise CostmodelError(folder)
    if _looks_like_path(name):
        raise CostmodelError(f"MODEL: no file {_short(name)}; give a zoo id or a config.json path")
    raise UnknownName("models", name, model_ids())
