"""The options every command shares (one definition each, so names, defaults, bounds and help
agree across commands), the option name of each Workload field for messages, and the one
function that builds a Workload from them (`workload_from_options`)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable, Mapping
from typing import Any

import typer
from pydantic import ValidationError

from costmodel.cli.output import Format
from costmodel.cli.parsing import parse_image_size
from costmodel.conventions import CONVENTIONS
from costmodel.errors import CostmodelError, one_line
from costmodel.specs.workload import (
    MAX_BATCH,
    MAX_FRAMES,
    MAX_GPUS,
    MAX_IMAGES,
    MAX_TOKENS,
)
from costmodel.units import MAX_GROUP_BYTES, MAX_WEIGHT_GROUP, DType

# Options shared by the commands that describe one workload (estimate, compare-compression,
# sweep, ...): one definition each, so their names, defaults and help agree everywhere.
VISUAL_TOKENS = typer.Option(None, min=0, max=MAX_TOKENS, help="Visual tokens into the LLM.")


IMAGES = typer.Option(1, min=0, max=MAX_IMAGES, help="Images per request (when tokens not "
                      "given; with tokens, only dynamic-resolution models split them).")


IMAGE_SIZE = typer.Option(None, help="Image WIDTHxHEIGHT, e.g. 672x672.")
# MODEL arguments: resolved by loading.load.load_model in this order (docs/methodology.md)
MODEL_HELP = ("Zoo id (costmodel models list), config.json path, or Hugging Face id org/name "
              "(read from the local HF cache).")


VIDEO_FRAMES = typer.Option(None, "--video-frames", min=1, max=MAX_FRAMES,
                            help="One video of N frames per request (frames of --image-size; "
                            "default the model's size) instead of images.")


FPS = typer.Option(None, "--fps", help="Video sampled at F frames per second (with --seconds; "
                   "frames = what the model's video processor samples, costmodel/core/video.py).")


SECONDS = typer.Option(None, "--seconds", help="Video length in seconds (with --fps).")


TEXT_TOKENS = typer.Option(64, min=0, max=MAX_TOKENS, help="Text tokens in the prompt.")


OUTPUT_TOKENS = typer.Option(128, min=1, max=MAX_TOKENS, help="Tokens generated.")


BATCH = typer.Option(1, min=1, max=MAX_BATCH, help="Requests run together.")


DTYPE = typer.Option(DType.bf16, help="Activation (math) dtype; weights too by default.")


WEIGHT_DTYPE = typer.Option(None, help="Weight dtype (weight-only quant; default the "
                            "activation dtype, or what a quantised config.json stores).")


WEIGHT_PARTS = typer.Option(None, "--weight-parts", help="Weights --weight-dtype applies to, "
                            "comma-separated: vision (encoder + projector), layers (the LLM's "
                            "decoder layers), lm_head, embed; the rest stay in --dtype (default: "
                            "all, or what a quantised config.json quantises: AWQ/GPTQ 'layers').")


WEIGHT_GROUP = typer.Option(None, "--weight-group", min=1, max=MAX_WEIGHT_GROUP,
                            help="int4 weights per quantisation group (default: the engine's int4 "
                            "format, else 128; with "
                            "--weight-dtype int4 only), e.g. gpt-fast int4: --weight-group 32 "
                            "--weight-group-bytes 4.")


WEIGHT_GROUP_BYTES = typer.Option(None, "--weight-group-bytes", min=0.0, max=MAX_GROUP_BYTES,
                                  help="Bytes of scale (+ zero) stored per int4 group (default: "
                                  "the engine's, else 2: one fp16 scale; gpt-fast: 4, bf16 "
                                  "scale + bf16 zero).")


KV_DTYPE = typer.Option(None, help="KV-cache dtype.")


FLASH = typer.Option(None, "--flash-attention/--no-flash-attention",
                     help="FlashAttention I/O (else eager scores). Default: on; off under "
                     "--convention llm-viewer (LLM-Viewer's default).")


CHOICES = {"overlap": ("--overlap", ("roofline", "serial")), "logits": ("--logits", ("last", "all"))}


def one_of(choices: Iterable[str]) -> str:
    """The help's metavar of a str option with fixed choices, as typer shows an enum's."""
    return "<" + "|".join(choices) + ">"


OVERLAP = typer.Option("roofline", metavar=one_of(CHOICES["overlap"][1]),
                       help="roofline = max(compute, memory); serial = sum.")


FORMAT = typer.Option(Format.table, "--format", "-f", help="table, json or csv.")


LOGITS = typer.Option("last", metavar=one_of(CHOICES["logits"][1]),
                      help="lm_head over the 'last' prompt token or 'all'.")


CONVENTION = typer.Option("costmodel", metavar=one_of(CONVENTIONS),
                          help="costmodel or llm-viewer (LLM-Viewer's count).")


ENGINE = typer.Option(None, "--engine", help="Inference engine of the expected latency: ideal, "
                      "hf-eager (default), hf-fa2, torch-compile, vllm, vllm-0.6, sglang, trtllm, "
                      "trtllm-0.6, llama.cpp, mlc, torch-eager, torch-cuda-graph (`costmodel "
                      "engines list`) or a YAML path; "
                      "the roofline bound is shown beside it.")


TP = typer.Option(1, "--tp", min=1, max=MAX_GPUS,
                 help="Tensor-parallel GPUs (all-reduce per layer).")


PP = typer.Option(1, "--pp", min=1, max=MAX_GPUS, help="Pipeline stages (layers split).")


EP = typer.Option(1, "--ep", min=1, max=MAX_GPUS,
                  help="Expert-parallel GPUs (MoE: experts split, all-to-all per layer).")


MICROBATCHES = typer.Option(None, min=1, max=MAX_BATCH,
                            help="Prefill microbatches for --pp (divide batch).")


MAX_TIMED_CALLS = 10_000  # --warmup / --repeats of profile: beyond it a run does not end in a day


def check_threads(threads: int | None) -> None:
    """--threads of profile and calibrate: at most this machine's CPUs, before any work (torch
    takes more, and crashed at 100000 and overflowed at 10**30; more threads than CPUs time
    their contention, not the kernels)."""
    cpus = os.cpu_count() or 1
    if threads is not None and threads > cpus:
        raise CostmodelError(f"--threads: {threads} is more than this machine's "
                             f"{cpus} CPUs; give 1..{cpus} (or leave it out: torch's default)")


QUIET = typer.Option(False, "--quiet", "-q", help="No 'wrote FILE' line and no progress bar "
                     "on stderr (the bar shows only on a terminal anyway).")


# Workload fields (as pydantic and the library name them) -> the option a user typed.
OPTION_OF = {
    "batch": "--batch", "visual_tokens": "--visual-tokens", "images": "--images",
    "image_size": "--image-size", "image_sizes": "--image-size", "text_tokens": "--text-tokens",
    "output_tokens": "--output-tokens", "act_dtype": "--dtype", "weight_dtype": "--weight-dtype",
    "weight_parts": "--weight-parts", "weight_group": "--weight-group",
    "weight_group_bytes": "--weight-group-bytes",
    "kv_dtype": "--kv-dtype", "overlap": "--overlap", "logits": "--logits",
    "convention": "--convention", "engine": "--engine", "parallel.tp": "--tp",
    "parallel.pp": "--pp", "parallel.ep": "--ep", "parallel.microbatches": "--microbatches",
    "microbatches": "--microbatches", "keep_ratio": "--keep",
    "keep_tokens": "--keep", "merge_per_layer": "--merge-per-layer", "layer": "--at",
    "schedule": "--schedule",
    "where": "--at", "method": "--method", "cluster_iters": "--cluster-iters",
    "flash_attention": "--flash-attention", "video_frames": "--video-frames",
    "video_fps": "--fps", "video_seconds": "--seconds", "kv": "--kv-keep",
    "kv.policy": "--kv-policy", "sparse_decode": "--sparse-decode",
    # the Python API's arguments (an unknown id: errors.UnknownName)
    "model": "MODEL", "hardware": "--hardware",
}


def available_bytes() -> float | None:
    """The host memory a new allocation can take now (Linux MemAvailable; None where it
    cannot be read): what sweep's table and profile's model are checked against."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            kib = next(int(ln.split()[1]) for ln in f if ln.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    return kib * 1024.0


def need_torch(command: str) -> None:
    """Refuse, before any work, a command that runs torch where torch is not installed (a
    plain `pip install costmodel` leaves it out: it is the validate extra)."""
    if importlib.util.find_spec("torch") is None:
        raise CostmodelError(f"{command}: needs torch, which is not installed; pip install "
                             "torch==2.13.0 'costmodel[validate]' (pin torch: an unpinned one "
                             "pulls GBs of CUDA packages)")


def as_option(message: str) -> str:
    """'compression.keep_ratio: ...' -> '--keep: ...': a library field name at the head of a
    message replaced by the option that sets it (messages naming an option pass unchanged)."""
    head, sep, rest = message.partition(": ")
    if head in ("compression", "parallel", "workload") and sep:
        return as_option(rest)  # 'parallel: microbatches: ...' -> '--microbatches: ...'
    field = head.removeprefix("compression.").removeprefix("workload.")
    if sep and field in OPTION_OF:
        return f"{OPTION_OF[field]}: {rest}"
    return message


def choice(value: str, field: str) -> str:
    """A fixed-set option's value, or one line listing its choices."""
    option, choices = CHOICES[field]
    if value not in choices:
        raise CostmodelError(f"{option}: '{value[:40]}' is not one of {', '.join(choices)}")
    return value


# The Workload options as commands name their parameters (workload_from_options' keywords).
WORKLOAD_OPTIONS = ("batch", "visual_tokens", "images", "image_size", "text_tokens",
                    "output_tokens", "dtype", "weight_dtype", "weight_parts", "weight_group",
                    "weight_group_bytes", "kv_dtype", "flash_attention",
                    "overlap", "logits", "convention", "engine", "tp", "pp", "ep", "microbatches",
                    "video_frames", "video_fps", "video_seconds")


def workload_from_values(values: Mapping[str, Any], **override: Any) -> Any:
    """workload_from_options on the WORKLOAD_OPTIONS a command has among `values` (its
    `locals()` at the call); `override` replaces or adds one (a sweep's batch, a compression)."""
    v = {k: values[k] for k in WORKLOAD_OPTIONS if k in values}
    return workload_from_options(**{**v, **override})


def workload_from_options(*, dtype: DType | None = None, image_size: str | None = None,
                          tp: int = 1, pp: int = 1, ep: int = 1,
                          microbatches: int | None = None,
                          **fields: Any) -> Any:
    """The Workload every command builds from the shared options (names as the options:
    --dtype is act_dtype, --tp/--pp/--ep/--microbatches the parallel layout, --fps/--seconds
    video_fps/video_seconds); None = default."""
    from costmodel.specs.workload import Workload

    kw = {k: v for k, v in fields.items() if v is not None}
    kw.update({f: choice(kw[f], f) for f in CHOICES if f in kw})
    kw.update(act_dtype=dtype or DType.bf16, image_size=parse_image_size(image_size),
              parallel={"tp": tp, "pp": pp, "ep": ep, "microbatches": microbatches})
    return checked(Workload, **{k: v for k, v in kw.items() if v is not None})


def checked(build: Any, *args: Any, where: str = "", **kwargs: Any) -> Any:
    """Call a pydantic constructor; turn a ValidationError into a one-line CostmodelError."""
    try:
        return build(*args, **kwargs)
    except ValidationError as e:
        raise CostmodelError(as_option(one_line(e, where))) from None
