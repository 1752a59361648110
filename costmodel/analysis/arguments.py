"""The Python API's arguments: a model or device given as a spec, an id or a path (str or
pathlib.Path), and workload keyword fields, each refused in one line naming the argument or
field and the fix (a CostmodelError, as the CLI's), never a traceback from inside the core.

The CLI's option names differ from the Workload's fields where an option sets a nested field;
`CLI_NAMES` maps those option names to the keyword that does the same from Python.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from costmodel.errors import CostmodelError, one_line
from costmodel.loading.load import load_hardware, load_model
from costmodel.specs.hardware import HardwareProfile
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import Workload

ModelArg = ModelSpec | str | os.PathLike[str]
HardwareArg = HardwareProfile | str | os.PathLike[str]

# CLI option (as a keyword) -> what sets it from Python.
_KEEP = "compression=Compression(where='projector', keep_ratio=0.1)"
CLI_NAMES = {
    "tp": "parallel={'tp': 2}", "pp": "parallel={'pp': 2}", "ep": "parallel={'ep': 2}",
    "microbatches": "parallel={'pp': 2, 'microbatches': 2}", "dtype": "act_dtype='bf16'",
    "keep": _KEEP, "at": "compression=Compression(where='llm_layer', layer=2, keep_ratio=0.5)",
    "method": "compression=Compression(where='projector', method='visionzip', keep_tokens=64)",
    "schedule": "compression=Compression(where='llm_layer', schedule=((0, 576), (8, 288)))",
    "kv_keep": "compression=CompressionPlan(kv=KVCompression(keep_ratio=0.25))",
    "kv_policy": "compression=CompressionPlan(kv=KVCompression(keep_ratio=0.25, "
                 "policy='pyramid'))",
    "fps": "video_fps=2", "seconds": "video_seconds=10",
    "no_flash_attention": "flash_attention=False",
    "hardware": "the second argument (estimate(model, hardware, ...))",
}


def model_arg(model: Any) -> ModelSpec:
    """A ModelSpec as given, or one loaded from a zoo id, config.json path or Hub id."""
    if isinstance(model, ModelSpec):
        return model
    if isinstance(model, str | os.PathLike):
        return load_model(os.fspath(model))
    raise CostmodelError(f"model: got {type(model).__name__}; give a zoo id such as "
                         "'llava-1.5-7b', a config.json path or costmodel.load_model(...)")


def hardware_arg(hardware: Any) -> HardwareProfile:
    """A HardwareProfile as given, or one loaded from a bundled id or a YAML path."""
    if isinstance(hardware, HardwareProfile):
        return hardware
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


def _unknown_field(name: str) -> str:
    """'name: not a Workload field; ...' with the keyword that does what the CLI option does,
    or the nearest field names."""
    if name in CLI_NAMES:
        return f"{name}: not a Workload field; from Python use {CLI_NAMES[name]}"
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
    except ValidationError as e:
        raise CostmodelError(one_line(e)) from None
