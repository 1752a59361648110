"""Dump a broad set of outputs to JSON, to check that a change of the evaluation's code leaves
every number as it was (run it on the old and on the new code, then compare the two files).

Records: `estimate` (its JSON document and its per-operator table) over models x devices x
engines x compressions, with tensor / pipeline parallelism, one output token, serial overlap
and the LLM-Viewer convention; `compare-compression`'s savings rows; token sweeps over
several devices at once (the sweep's tidy table). Everything goes through the Python API
that the CLI commands call (estimate, compare_rows, sweep).

Run:  PYTHONPATH=. python benchmarks/output_dump.py dump OUT.json
      PYTHONPATH=. python benchmarks/output_dump.py compare OLD.json NEW.json [--rel 1e-12]
`compare` prints how many records are identical (same JSON text), the largest relative
difference of any number, and exits 1 when a number differs by more than --rel or a record's
keys or strings differ.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from typing import Any

import numpy as np

from costmodel.analysis.compression import compare_rows
from costmodel.analysis.estimate import estimate
from costmodel.analysis.sweep import sweep
from costmodel.loading.load import load_hardware, load_model
from costmodel.specs.compression import Compression
from costmodel.specs.workload import Parallelism, Workload

MODELS = ("llava-1.5-7b", "llava-next-vicuna-7b", "qwen2-vl-7b", "qwen2.5-vl-7b", "internvl3-2b",
          "llama-3.2-11b-vision", "gemma-3-4b", "qwen3-30b-a3b")
DEVICES = ("a100-80gb", "h100-sxm", "h200", "l4", "a10", "rtx-4090", "a100-80gb-vidur")
ENGINES = (None, "vllm", "trtllm", "ideal", "llama.cpp", "torch-compile")
COMPRESSIONS: dict[str, Compression | None] = {
    "none": None,
    "projector": Compression(where="projector", keep_ratio=0.25),
    "fastv": Compression(where="llm_layer", layer=2, keep_ratio=0.1, method="fastv"),
    "tome": Compression(where="vit", merge_per_layer=4),
    "pyramid": Compression(where="llm_layer", schedule=((2, 0.5), (8, 0.25), (16, 0.125))),
}
VARIANTS: dict[str, dict[str, Any]] = {
    "base": {},
    "batch8": {"batch": 8},
    "out1": {"output_tokens": 1},
    "serial": {"overlap": "serial"},
    "tp2pp2": {"parallel": Parallelism(tp=2, pp=2, microbatches=2), "batch": 2},
    "llmviewer": {"convention": "llm-viewer"},
    "int4": {"weight_dtype": "int4", "kv_dtype": "int8"},
    # an image whose patch grid is not whole windows (Qwen2.5-VL: 54 full + 9 bottom windows)
    # and unfused attention: the packed ViT's calls (core/packed.py) both ways
    "img1000x700": {"image_size": (1000, 700)},
    "noflash": {"image_size": (1000, 700), "flash_attention": False},
}


def _clean(x: Any) -> Any:
    """JSON-ready: numpy scalars as Python numbers, NaN/inf as strings."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (np.floating, float)):
        f = float(x)
        return f if math.isfinite(f) else repr(f)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def _one(model: str, hw: str, engine: str | None, comp: str, variant: str) -> dict[str, Any]:
    fields = {"images": 1, "text_tokens": 64, "output_tokens": 128, **VARIANTS[variant]}
    if engine is not None:
        fields["engine"] = engine
    key = f"{model}|{hw}|{engine}|{comp}|{variant}"
    try:
        w = Workload(**fields)
        e = estimate(load_model(model), load_hardware(hw), w)
        rec: dict[str, Any] = {"estimate": e.to_dict(),
                               "ops": e.to_frame().to_dict(orient="records")}
        c = COMPRESSIONS[comp]
        if c is not None:
            ec = estimate(e.model, e.hardware, w.model_copy(update={"compression": c}))
            rec["compressed"] = ec.to_dict()
            rec["savings"] = compare_rows(e, ec)
    except Exception as err:  # a refused combination is a record too (its message)
        rec = {"error": f"{type(err).__name__}: {str(err).splitlines()[0]}"}
    return {"key": key, **rec}


def _cases() -> list[tuple[str, str, str | None, str, str]]:
    out = []
    for m in MODELS:
        for hw in DEVICES:
            for comp in ("none", "projector", "fastv"):
                out.append((m, hw, None, comp, "base"))
        for eng in ENGINES:
            for comp in COMPRESSIONS:
                out.append((m, "h100-sxm", eng, comp, "base"))
        for variant in VARIANTS:
            for eng in (None, "vllm"):
                out.append((m, "a100-80gb", eng, "projector", variant))
    return out


def _sweeps() -> list[dict[str, Any]]:
    out = []
    devices = [load_hardware(h) for h in DEVICES]
    for m in MODELS:
        for comp in ("none", "projector", "fastv"):
            for eng in (None, "vllm"):
                key = f"sweep|{m}|{comp}|{eng}"
                try:
                    w = Workload(text_tokens=64, output_tokens=128, compression=COMPRESSIONS[comp],
                                 **({"engine": eng} if eng else {}))
                    df = sweep(load_model(m), devices, np.arange(0, 2881, 96), (1, 8), workload=w)
                    rec: dict[str, Any] = {"rows": json.loads(df.to_json(orient="split",
                                                                         double_precision=15))}
                    rec["exact"] = [repr(float(x)) for x in df["ttft_s"]] + [
                        repr(float(x)) for x in df["latency_s"]]
                except Exception as err:
                    rec = {"error": f"{type(err).__name__}: {str(err).splitlines()[0]}"}
                out.append({"key": key, **rec})
    return out


def dump(path: str) -> None:
    warnings.simplefilter("ignore")
    records = [_one(*c) for c in _cases()] + _sweeps()
    with open(path, "w") as f:
        for r in records:
            f.write(json.dumps(_clean(r), sort_keys=True) + "\n")
    errors = sum("error" in r for r in records)
    print(f"wrote {path}: {len(records)} records ({errors} refused combinations)")


def _diff(a: Any, b: Any, where: str, worst: list[Any], bad: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            bad.append(f"{where}: keys differ")
            return
        for k in a:
            _diff(a[k], b[k], f"{where}.{k}", worst, bad)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            bad.append(f"{where}: lengths differ")
            return
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _diff(x, y, f"{where}[{i}]", worst, bad)
    elif isinstance(a, str) and isinstance(b, str) and a != b:
        try:
            x, y = float(a), float(b)  # exact reprs of floats
        except ValueError:
            bad.append(f"{where}: {a!r} != {b!r}")
            return
        _diff(x, y, where, worst, bad)
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        if a != b:
            rel = abs(a - b) / max(abs(a), abs(b))
            if rel > worst[0]:
                worst[:] = [rel, where]
    elif a != b:
        bad.append(f"{where}: {a!r} != {b!r}")


def compare(old: str, new: str, rel: float) -> int:
    with open(old) as f:
        a = f.read().splitlines()
    with open(new) as f:
        b = f.read().splitlines()
    if len(a) != len(b):
        print(f"{len(a)} records against {len(b)}")
        return 1
    same = sum(x == y for x, y in zip(a, b, strict=True))
    worst: list[Any] = [0.0, ""]
    bad: list[str] = []
    for x, y in zip(a, b, strict=True):
        if x != y:
            _diff(json.loads(x), json.loads(y), json.loads(x)["key"], worst, bad)
    print(f"{len(a)} records, {same} identical (same JSON text); largest relative difference "
          f"{worst[0]:.3g}{' at ' + worst[1] if worst[1] else ''}; {len(bad)} other differences")
    for line in bad[:20]:
        print("  " + line)
    return 1 if bad or worst[0] > rel else 0


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("out")
    c = sub.add_parser("compare")
    c.add_argument("old")
    c.add_argument("new")
    c.add_argument("--rel", type=float, default=1e-12)
    args = ap.parse_args()
    if args.cmd == "dump":
        dump(args.out)
    else:
        sys.exit(compare(args.old, args.new, args.rel))


if __name__ == "__main__":
    main()
