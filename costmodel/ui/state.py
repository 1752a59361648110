"""The page's state: the query string <-> the command lines it stands for.

The whole view is a function of the query string (a link reproduces it). Each state becomes the
argv of `costmodel estimate` (the baseline) and `costmodel compare-compression` (the scenario),
which the API parses with the CLI's own commands: the page gets the CLI's checks, its defaults
and its one-line messages. Values are strings as typed; none is evaluated, and the model,
hardware and engine must be ids from the bundled lists (never paths: `check_ids`).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from costmodel.errors import CostmodelError, UnknownName
from costmodel.loading.load import engine_ids, hardware_ids, model_ids

UPLOAD_PREFIX = "upload:"  # a model uploaded as config.json: upload:<hash> (costmodel.ui.uploads)
MAX_VALUE = 100  # characters per query value

# state key -> the CLI option it sets (workload options shared by estimate and
# compare-compression), in command-line order.
WORKLOAD_OPTIONS = {
    "visual_tokens": "--visual-tokens", "images": "--images", "image_size": "--image-size",
    "video_frames": "--video-frames", "text_tokens": "--text-tokens",
    "output_tokens": "--output-tokens", "batch": "--batch",
    "dtype": "--dtype", "weight_dtype": "--weight-dtype", "kv_dtype": "--kv-dtype",
    "engine": "--engine", "ep": "--ep",
}
COMPRESSION_OPTIONS = {"keep": "--keep", "at": "--at", "method": "--method"}
# what-if device: state key -> the `--set` key it multiplies (costmodel.loading.whatif)
WHATIF = {"bw": "memory_bandwidth_GBps", "compute": "peak_tflops", "mem": "memory_GB"}

# The page's defaults. The CLI's own defaults are left out of the command lines
# (CLI_DEFAULTS); a key present with an empty value means "not given" (keep= : no compression).
DEFAULTS = {
    "model": "llava-1.5-7b", "hardware": "a100-80gb", "bw": "1", "compute": "1", "mem": "1",
    "visual_tokens": "", "images": "1", "image_size": "", "video_frames": "", "text_tokens": "64",
    "output_tokens": "128", "batch": "1", "dtype": "bf16", "weight_dtype": "", "kv_dtype": "",
    "engine": "", "ep": "1", "keep": "0.25", "at": "projector", "method": "",
}
CLI_DEFAULTS = {"images": "1", "text_tokens": "64", "output_tokens": "128", "batch": "1",
                "dtype": "bf16", "at": "projector", "ep": "1"}


def normalize(query: Mapping[str, str]) -> dict[str, str]:
    """Every state key with its value (stripped; the default where the key is absent);
    unknown keys are dropped. A value longer than MAX_VALUE is refused."""
    state = {}
    for key, default in DEFAULTS.items():
        value = str(query.get(key, default)).strip()
        if len(value) > MAX_VALUE:
            raise CostmodelError(f"{key}: {len(value)} characters; at most {MAX_VALUE}")
        state[key] = value
    return state


def check_ids(state: Mapping[str, str], uploaded: bool) -> None:
    """Model, hardware and engine must be bundled ids (or an upload held by the server), with
    the CLI's message for an unknown one; nothing else reaches a loader."""
    for key, kind in (("model", "models"), ("hardware", "hardware"), ("engine", "engines")):
        if any(c in state[key] for c in "/\\") or state[key].endswith((".yaml", ".yml", ".json")):
            raise CostmodelError(f"{kind}: '{state[key][:40]}' looks like a path; the page takes "
                                 f"a bundled id (`costmodel {kind} list`), never a path")
    model = state["model"]
    if not (model.lower() in model_ids() or (uploaded and model.startswith(UPLOAD_PREFIX))):
        if model.startswith(UPLOAD_PREFIX):
            raise CostmodelError("config.json: this upload is no longer held by the server "
                                 "(it keeps the last few); upload the file again")
        raise UnknownName("models", model, model_ids())
    if state["hardware"] not in hardware_ids():
        raise UnknownName("hardware", state["hardware"], hardware_ids())
    if state["engine"] and state["engine"] not in engine_ids():
        raise UnknownName("engines", state["engine"], engine_ids())


def _options(state: Mapping[str, str], options: Mapping[str, str]) -> list[str]:
    argv = []
    for key, option in options.items():
        value = state[key]
        if value and value != CLI_DEFAULTS.get(key):
            argv += [option, value]
    return argv


def sets(state: Mapping[str, str]) -> list[str]:
    """The `--set KEY=xFACTOR` items of the what-if multipliers (1 or empty: unchanged)."""
    return [f"{target}=x{state[key]}" for key, target in WHATIF.items()
            if state[key] not in ("", "1", "1.0")]


def _common(state: Mapping[str, str], model_arg: str) -> list[str]:
    argv = [model_arg, "--hardware", state["hardware"]] + _options(state, WORKLOAD_OPTIONS)
    for item in sets(state):
        argv += ["--set", item]
    return argv


def model_arg(state: Mapping[str, str]) -> str:
    """The MODEL argument: the zoo id, or the uploaded file as the CLI would name it."""
    return "config.json" if state["model"].startswith(UPLOAD_PREFIX) else state["model"]


def estimate_argv(state: Mapping[str, str]) -> list[str]:
    """`costmodel estimate ...` for the baseline."""
    return ["estimate"] + _common(state, model_arg(state))


def compare_argv(state: Mapping[str, str]) -> list[str] | None:
    """`costmodel compare-compression ...` for the scenario (None without keep)."""
    if not state["keep"]:
        return None
    return (["compare-compression"] + _common(state, model_arg(state))
            + _options(state, COMPRESSION_OPTIONS))


def command_line(argv: list[str]) -> str:
    """The shell command a user can paste."""
    return " ".join(["costmodel"] + [shlex.quote(a) for a in argv])


# Where a message goes on the page: the first of these found in it (CLI option, library
# field or file), else at the top ('general').
_FIELD_OF = [(opt, key) for key, opt in {**WORKLOAD_OPTIONS, **COMPRESSION_OPTIONS}.items()]
_FIELD_OF += [(target, key) for key, target in WHATIF.items()]
_FIELD_OF += [("--hardware", "hardware"), ("hardware:", "hardware"), ("models:", "model"),
              ("engines:", "engine"), ("MODEL", "model"), ("config.json", "model")]


def field_of(message: str) -> str:
    """The state key a one-line message is about (to show it next to that field)."""
    hits = [(message.find(token), len(token), key) for token, key in _FIELD_OF if token in message]
    if not hits:
        return "bw" if "--set" in message else "general"  # the what-if group
    return min(hits, key=lambda h: (h[0], -h[1]))[2]
