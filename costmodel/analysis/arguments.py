"""The Python API's arguments: a model or device given as a spec, an id or a path (str or
pathlib.Path), and workload keyword fields, each refused in one line naming the argument or
field and the fix (a CostmodelError, as the CLI's), never a traceback from inside the core.

The CLI's option names differ from the Workload's fields where an option sets a nested field;
`CLI_NAMES` maps those option names to the keyword that does the same from Python.
"""

from __future__ import annotations

import difflib
import math
import numbers
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import ValidationError

from costmodel.errors import CostmodelError, one_line
from costmodel.loading.load import extra_key_fix, load_hardware, load_model
from costmodel.specs.hardware import HardwareProfile
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import MAX_TOKENS, Workload

ModelArg = ModelSpec | str | os.PathLike[str]
HardwareArg = HardwareProfile | str | os.PathLike[str]

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # costmodel/


def user_level() -> int:
    """The `stacklevel` that a `warnings.warn` in the function calling this one needs to point
    at the first frame outside the costmodel package: the user's line (a notebook cell, a
    script), not a line of the library that is the same for every call. A fixed stacklevel
    pointed inside the package (analysis/estimate.py) wherever the call came from."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


# CLI option (as a keyword) -> what sets it from Python.
_KEEP = "compression=Compression(where='projector', keep_ratio=0.1)"
CLI_NAMES = {
    "tp": "parallel={'tp': 2}", "pp": "parallel={'pp': 2}", "ep": "parallel={'ep': 2}",
    "microbatches": "parallel={'pp': 2, 'microbatches': 2}", "dtype": "act_dtype='bf16'",
    "keep": _KEEP, "at": "compression=Compression(where='llm_layer', layer=2, keep_ratio=0.5)",
    "method": "compression=Compression(where='encoder', method='visionzip', keep_tokens=64)",
    "schedule": "compression=Compression(where='llm_layer', schedule=((0, 576), (8, 288)))",
    "kv_keep": "compression=CompressionPlan(kv=KVCompression(keep_ratio=0.25))",
    "kv_policy": "compression=CompressionPlan(kv=KVCompression(keep_ratio=0.25, "
                 "policy='pyramid'))",
    "fps": "video_fps=2", "seconds": "video_seconds=10",
    "no_flash_attention": "flash_attention=False",
    "hardware": "the second argument (estimate(model, hardware, ...))",
}
# A key of the JSON report (Estimate.to_dict()'s workload) that is not the field that sets it.
REPORT_NAMES = {"frame_size": "image_size=(W, H): the frame size of a video"}


def checked(spec: Any, name: str) -> Any:
    """A ModelSpec or HardwareProfile given as an object, validated again: one edited with
    `model_copy(update=...)`, which pydantic does not validate, reached the core unchecked
    (num_kv_heads=5 of 32 heads priced; num_layers='16' a TypeError from numpy; a negative
    bandwidth a TPOT of 1e21 s). One line naming the field; else `spec` itself where the
    check changes nothing (the core's caches, keyed by the spec, then hold across calls: a new
    copy each call cost 2.4 ms an estimate), the validated copy where it does (a number given
    as text, num_layers='16', then an int)."""
    try:
        valid = type(spec).model_validate(spec.model_dump(by_alias=True, warnings=False))
    except ValidationError as e:
        raise CostmodelError(f"{one_line(e, name)} (model_copy(update=...) does not check "
                             "the fields: fix the value)") from None
    return spec if valid == spec else valid


def model_arg(model: Any) -> ModelSpec:
    """A ModelSpec as given (checked), or one loaded from a zoo id, config.json path or Hub
    id."""
    if isinstance(model, ModelSpec):
        return checked(model, "model")
    if isinstance(model, str | os.PathLike):
        return load_model(os.fspath(model))
    raise CostmodelError(f"model: got {type(model).__name__}; give a zoo id such as "
                         "'llava-1.5-7b', a config.json path or costmodel.load_model(...)")


def hardware_arg(hardware: Any) -> HardwareProfile:
    """A HardwareProfile as given (checked), or one loaded from a bundled id or a YAML path."""
    if isinstance(hardware, HardwareProfile):
        return checked(hardware, "hardware")
    if isinstance(hardware, str | os.PathLike):
        return load_hardware(os.fspath(hardware))
    raise CostmodelError(f"hardware: got {type(hardware).__name__}; give a bundled id such as "
                         "'a100-80gb', a YAML path or costmodel.load_hardware(...)")


def listed(items: Any) -> list[Any]:
    """One item (a spec, an id or a path) as a list of one; a sequence as a list."""
    if isinstance(items, str | os.PathLike | ModelSpec | HardwareProfile):
        return [items]
    if isinstance(items, Sequence):
        return list(items)
    return [items]


def grid_values(name: str, values: Any) -> np.ndarray:
    """A sweep axis (visual_tokens, video_frames, batch): one whole number or a non-empty
    sequence / array of them, as floats [K] (the bounds are the Workload's, checked there);
    an empty list, NaN, a fraction or text is refused in one line naming the argument."""
    items = [values] if isinstance(values, numbers.Real) else values
    items = items.tolist() if hasattr(items, "tolist") else items  # numpy, pandas
    ok = isinstance(items, Sequence) and not isinstance(items, str) and len(items) > 0 and all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
        and float(v).is_integer() for v in items)
    if not ok:
        shown = repr(values) if isinstance(values, str) else str(values)  # '8', not 8
        example = _GRID_EXAMPLES.get(name.lstrip("-").replace("-", "_"),
                                     "[64, 576] or range(0, 2881, 64)")
        raise CostmodelError(f"{name}: {shown[:40]} is not a whole number or a non-empty "
                             f"list of them, e.g. {example}")
    return np.asarray(items, dtype=float).reshape(-1)


# grid_values' example per axis (the visual tokens' otherwise); a CLI name read as the field
_GRID_EXAMPLES = {"batch": "8, [1, 8] or range(1, 65)", "batches": "[1, 8] or range(1, 257)",
                  "images": "[1, 2, 4]", "video_frames": "[8, 16, 32]"}


def nonempty(name: str, items: list[Any]) -> list[Any]:
    """A list of models or devices with at least one entry."""
    if not items:
        raise CostmodelError(f"{name}: an empty list; give at least one, e.g. "
                             + ("'llava-1.5-7b'" if name == "model" else "'a100-80gb'"))
    return items


def once(name: str, ids: Sequence[str], what: str) -> None:
    """One line for an id listed twice ('hardware: l4 appears twice; give each device once'):
    its rows would come twice (a sweep's columns clash); `what`: 'device', 'engine'. A what-if
    id ('h100-sxm*') may come twice from two profiles, each given once: the line says so."""
    twice = [i for n, i in enumerate(ids) if i in ids[:n]]
    if twice and twice[0].endswith("*"):
        raise CostmodelError(f"{name}: {twice[0]} comes twice: a device listed twice, or two "
                             "profiles deriving that id (a `base:` YAML without an `id:`, or "
                             "--set over a device and a YAML based on it); give each device "
                             "once and each YAML its own `id:`")
    if twice:
        raise CostmodelError(f"{name}: {twice[0]} appears twice; give each {what} once")


def _unknown_field(name: str) -> str:
    """'name: not a Workload field; ...' with the keyword that does what the CLI option does,
    or the nearest field names."""
    if name in CLI_NAMES:
        return f"{name}: not a Workload field; from Python use {CLI_NAMES[name]}"
    if name in REPORT_NAMES:
        return f"{name}: not a Workload field; use {REPORT_NAMES[name]}"
    near = difflib.get_close_matches(name, list(Workload.model_fields), n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(near)}?" if near else \
        f"the fields are {', '.join(Workload.model_fields)}"
    return f"{name}: not a Workload field; {hint}"


def workload_arg(workload: Workload | None, fields: dict[str, Any]) -> Workload:
    """The workload, or one built from keyword fields, or `workload` with those fields
    replaced; a bad field or value is one CostmodelError line."""
    if workload is not None and not isinstance(workload, Workload):
        raise CostmodelError(f"workload: got {type(workload).__name__}; give a "
                             "costmodel.Workload or keyword fields (batch=8, ...)")
    for name in fields:
        if name not in Workload.model_fields:
            raise CostmodelError(_unknown_field(name))
    try:
        if workload is None:
            return Workload(**fields)
        return Workload.model_validate({**workload.model_dump(), **fields}) if fields else workload
    except ValidationError as e:  # a nested key it does not know: parallel={'TP': 2}
        raise CostmodelError(one_line(e) + extra_key_fix(e, Workload)) from None


def _text(name: str, value: Any, example: str) -> str | None:
    """A compression option given from Python as the CLI's text: a str as given, a number
    written as Python writes it (64 -> '64', 0.1 -> '0.1'); anything else refused."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return str(int(value)) if isinstance(value, numbers.Integral) else repr(float(value))
    raise CostmodelError(f"{name}: got {type(value).__name__}; give {example}")


def _listed_text(name: str, value: Any, example: str) -> str | None:
    """keep= (or a schedule's pairs): one value, or a list of them joined by commas."""
    if hasattr(value, "tolist") and not isinstance(value, numbers.Real):  # a numpy array
        value = value.tolist()
    if value is None or isinstance(value, str) or not isinstance(value, Sequence):
        return _text(name, value, example)
    if len(value) == 0:
        raise CostmodelError(f"{name}: an empty list; give {example}")
    return ",".join(str(_text(name, v, example)) for v in value)


def _schedule_text(schedule: Any) -> str | None:
    """schedule= as 'LAYER:TOKENS,...' or [(layer, tokens), ...] -> the CLI's text."""
    example = "'0:576,8:288' or [(0, 576), (8, 288)] (tokens a count or a ratio 0..1)"
    if schedule is None or isinstance(schedule, str):
        return schedule
    if not isinstance(schedule, Sequence) or not schedule or not all(
            isinstance(p, Sequence) and not isinstance(p, str) and len(p) == 2 for p in schedule):
        raise CostmodelError(f"schedule: got {type(schedule).__name__}; give {example}")
    return ",".join(f"{_text('schedule', a, example)}:{_text('schedule', b, example)}"
                    for a, b in schedule)


def whole(name: str, value: Any, lo: int, hi: int) -> int | None:
    """An integer option in lo..hi (the CLI's typer range), or None."""
    if value is None:
        return None
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or \
            not lo <= int(value) <= hi:
        raise CostmodelError(f"{name}: {value!r} is not a whole number in {lo}..{hi}")
    return int(value)


def _keyword_for(name: str, value: Any) -> str | None:
    """The compare_compression keyword (the CLI's option) for a Compression / KVCompression
    field name given to it, with the value given; None for any other name."""
    if name in ("keep_ratio", "keep_tokens"):
        return f"keep={value!r} (kv_keep= for the KV cache)"
    if name == "where":
        return "at='llm-layer:K'" if value == "llm_layer" else f"at={value!r}"
    if name == "layer":
        return f"at='llm-layer:{value}'"
    if name == "policy":
        return f"kv_policy={value!r}"
    if name == "temporal_merge":
        return f"method='tempmerge:{value}'"
    if name == "during_decode":
        return "kv_policy='sink_window:rolling'"
    return None


def refuse_compression_fields(fields: dict[str, Any]) -> None:
    """compare_compression given a Compression or KVCompression field (keep_ratio=, where=,
    layer=, policy=, ...): one line naming its keyword, as the CLI spells the option; such a
    name was read as a Workload field, or with keep= missing as no keep at all."""
    for name, value in fields.items():
        keyword = _keyword_for(name, value)
        if keyword is not None:
            raise CostmodelError(f"{name}: not a compare_compression keyword; use {keyword}")


def compression_keywords(*, keep: Any, at: Any, method: Any, schedule: Any, kv_keep: Any,
                         kv_policy: Any, sparse_decode: Any, cluster_iters: Any,
                         merge_per_layer: Any, overhead: Any) -> dict[str, Any]:
    """compare_compression's compression keywords as the CLI's option values (text), to go
    through the CLI's own parsing and checks (analysis/compression_options.py); a value of the
    wrong type is refused here in one line naming the keyword."""
    number = "a ratio 0..1 or a count, e.g. 0.25 or 64"
    if not isinstance(overhead, bool):
        raise CostmodelError(f"overhead: got {type(overhead).__name__}; give True or False")
    for name, value in (("at", at), ("method", method), ("kv_policy", kv_policy)):
        if value is not None and not isinstance(value, str):
            raise CostmodelError(f"{name}: got {type(value).__name__}; give text, e.g. "
                                 + {"at": "'llm-layer:2'", "method": "'fastv'",
                                    "kv_policy": "'pyramid'"}[name])
    return {"keep": _listed_text("keep", keep, f"{number}, or a list, e.g. [0.1, 0.25, 0.5]"),
            "at": at, "method": method, "schedule": _schedule_text(schedule),
            "kv_keep": _text("kv_keep", kv_keep, number), "kv_policy": kv_policy,
            "sparse_decode": _text("sparse_decode", sparse_decode, "K or 'K:LAYERS', e.g. 2048 "
                                   "or '2048:2,16'"),
            "cluster_iters": whole("cluster_iters", cluster_iters, 1, 1000),
            "merge_per_layer": whole("merge_per_layer", merge_per_layer, 0, MAX_TOKENS),
            "overhead": overhead}
