"""What-if hardware: derive a profile from a named one (the edge; plain dicts, no file I/O).

Two ways, both on the YAML-level mapping (human units in the keys, as in `HardwareFile`):
- overrides `KEY=VALUE` (`--set` on the command line). KEY is a YAML key or a dotted path
  (`memory_bandwidth_GBps`, `peak_tflops.bf16`, `efficiency.memory`, `power_modes_W.30W`);
  `peak_tflops` / `power_modes_W` alone address every figure in the group. VALUE is absolute
  (`6700`), a multiplier of the current value (`x1.5`, also `*1.5`), or `null` for an optional
  figure. An overridden sourced figure gets the source "what-if override (...)".
- inheritance: a YAML with `base: <id or path>` starts from that profile and lays its own keys
  over it (mappings such as peak_tflops, efficiency, sources, interconnect merge key by key).
The derived profile's id ends in `*` unless the YAML gives its own id, and `changes` lists
every figure that differs from the base as `key old -> new`.
"""

from __future__ import annotations

import copy
import difflib
import math
from typing import Any

from pydantic import BaseModel

from costmodel.errors import CostmodelError
from costmodel.specs.hardware import (
    DEFAULT_SOURCED,
    SOURCED_KEYS,
    EfficiencyFile,
    HardwareFile,
    Interconnect,
    PeakTflops,
)

# Mappings whose keys merge one by one under inheritance.
NESTED = ("peak_tflops", "efficiency", "sources", "interconnect", "power_modes_W")
# Fields that are descriptions, not figures: never reported as changes.
_NOT_FIGURES = ("id", "name", "sources", "notes", "base")
_GROUPS: dict[str, type[BaseModel]] = {"peak_tflops": PeakTflops, "efficiency": EfficiencyFile,
                                       "interconnect": Interconnect}
_SCALARS = ("memory_GB", "memory_bandwidth_GBps", "l2_cache_MB", "tdp_W",
            "kernel_launch_overhead_us", "sm_count", "category", "name")


def settable_keys(data: dict[str, Any]) -> list[str]:
    """Every KEY a `--set` accepts for this profile mapping."""
    keys = list(_SCALARS)
    for group, model in _GROUPS.items():
        keys += [group] if group == "peak_tflops" else []
        keys += [f"{group}.{k}" for k in model.model_fields]
    modes = data.get("power_modes_W") or {}
    keys += ["power_modes_W"] + [f"power_modes_W.{m}" for m in modes] if modes else []
    return keys


def merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """`child` laid over `base`; the NESTED mappings merge key by key (one level)."""
    out = copy.deepcopy(base)
    for k, v in child.items():
        if k in NESTED and isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = {**out[k], **v}
        else:
            out[k] = copy.deepcopy(v)
    return out


def source_overrides(merged: dict[str, Any], child: dict[str, Any], origin: str
                     ) -> dict[str, Any]:
    """`merged` with a source for each sourced figure `child` sets without giving one: the
    base's source no longer describes it (a `base:` child, as --set overrides are)."""
    own = child.get("sources") or {}
    keys = [k for k in child if k in SOURCED_KEYS + DEFAULT_SOURCED and k not in own]
    if keys:
        merged["sources"] = {**merged.get("sources", {}), **{k: origin for k in keys}}
    return merged


def _number(text: str, key: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise CostmodelError(
            f"--set {key}: '{text}' is not a number; give e.g. {key}=6700, {key}=x1.5 or "
            f"{key}=null") from None
    return _finite(x, text, key)


def _finite(x: float, text: str, key: str) -> float:
    if not math.isfinite(x):
        raise CostmodelError(f"--set {key}: '{text}' must be a finite number > 0")
    return x


def _new_value(key: str, old: Any, text: str) -> Any:
    """The value after applying `text` (absolute, xF multiplier or null) to `old`."""
    t = text.strip()
    if key in ("category", "name", "interconnect.kind"):
        return t
    if t.lower() in ("null", "none"):
        field = HardwareFile.model_fields.get(key)
        if field is not None and field.is_required():
            raise CostmodelError(f"--set {key}: null removes an optional figure, and every "
                                 f"profile needs {key}; give a value, e.g. {key}=x1.5")
        return None
    if t[:1].lower() in ("x", "*"):
        factor = _number(t[1:], key)
        if old is None:
            raise CostmodelError(f"--set {key}: the profile has no value to multiply; "
                                 "give an absolute value")
        if float(old) == 0.0:
            raise CostmodelError(f"--set {key}: the profile's value is 0, which a multiplier "
                                 f"leaves at 0; give an absolute value, e.g. {key}=5")
        return _finite(float(old) * factor, text, key)
    return _number(t, key)


def _default(top: str, sub: str | None) -> Any:
    """The value a figure the mapping leaves out takes (the schema's default: efficiency 1,
    a link's latency_us 0, ...), so `xF` scales the figure `hardware show` prints; None where
    the figure has no default."""
    group = _GROUPS.get(top)
    if sub is not None:
        field = group.model_fields.get(sub) if group is not None else None
    else:
        field = HardwareFile.model_fields.get(top)
    if field is None or field.is_required() or isinstance(field.default, BaseModel):
        return None
    return field.default


def _split(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise CostmodelError(f"--set: '{item}' is not KEY=VALUE, e.g. memory_bandwidth_GBps=6700 "
                             "or peak_tflops.bf16=x1.5")
    return key.strip(), value.strip()


def _targets(data: dict[str, Any], key: str) -> list[tuple[str, str | None]]:
    """(top-level key, sub-key or None) pairs a KEY addresses; error if KEY is unknown."""
    valid = settable_keys(data)
    if key not in valid:
        near = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
        hint = f"; did you mean {near[0]}?" if near else ""
        raise CostmodelError(f"--set: unknown key '{key[:40]}'; valid keys: "
                             f"{', '.join(valid)}{hint}")
    top, _, sub = key.partition(".")
    if sub:
        return [(top, sub)]
    if top in ("peak_tflops", "power_modes_W"):
        return [(top, k) for k, v in (data.get(top) or {}).items() if v is not None]
    return [(top, None)]


def apply_overrides(data: dict[str, Any], items: tuple[str, ...]) -> dict[str, Any]:
    """A copy of the profile mapping with every KEY=VALUE applied in order."""
    out = copy.deepcopy(data)
    for item in items:
        key, text = _split(item)
        for top, sub in _targets(out, key):
            if sub is None:
                out[top] = _new_value(key, out.get(top, _default(top, None)), text)
            else:
                group = dict(out.get(top) or {})
                group[sub] = _new_value(f"{top}.{sub}", group.get(sub, _default(top, sub)),
                                        text)
                out[top] = group
            if top in SOURCED_KEYS + DEFAULT_SOURCED:
                out["sources"] = {**out.get("sources", {}), top: f"what-if override ({item})"}
    return out


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        if not prefix and k in _NOT_FIGURES:
            continue
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _show(v: Any) -> str:
    return "null" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def changes(base: HardwareFile, new: HardwareFile) -> tuple[str, ...]:
    """`key old -> new` for every figure that differs (validated files, defaults filled)."""
    a, b = _flat(base.model_dump()), _flat(new.model_dump())
    return tuple(f"{k} {_show(a.get(k))} -> {_show(b.get(k))}"
                 for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))


def derived_id(base_id: str, child: dict[str, Any]) -> str:
    """The id of a derived profile: its own if it names one, else the base id with `*`."""
    own = child.get("id")
    return str(own) if own else base_id.rstrip("*") + "*"
