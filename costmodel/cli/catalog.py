"""`costmodel models list|show` and `costmodel hardware list|show`."""

from __future__ import annotations

from typing import Any

import numpy as np
import typer
import yaml

from costmodel.analysis import token_rules
from costmodel.cli.examples import epilog
from costmodel.cli.output import Format, dumps, records_csv, table
from costmodel.cli.parsing import parse_image_size
from costmodel.core.video import video_text_rule
from costmodel.errors import CostmodelError, UnknownName
from costmodel.loading.families import zoo_family
from costmodel.loading.load import hardware_ids, load_hardware, load_model, model_ids
from costmodel.loading.zoo import ZOO
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import Workload
from costmodel.units import DType

models_app = typer.Typer(no_args_is_help=True, help="Bundled models.")
hardware_app = typer.Typer(no_args_is_help=True, help="Bundled hardware profiles.")


@models_app.command("list", epilog=epilog("models list"))
def models_list(fmt: Format = typer.Option(Format.table, "--format", "-f")) -> None:
    """Zoo ids by family (config.json model_type): parameters, active parameters and the token
    rule. JSON/CSV: one record per model, in the same order."""
    recs = [_model_record(mid) for mid in sorted(model_ids(), key=lambda m: (zoo_family(m), m))]
    if fmt is Format.json:
        typer.echo(dumps(recs))
        return
    if fmt is Format.csv:
        typer.echo(records_csv([{k: v for k, v in r.items() if k != "token_scheme"}
                                | {"token_kind": r["token_scheme"]["kind"],
                                   "token_rule": r["token_scheme"]["rule"]} for r in recs]), nl=False)
        return
    rows = [["" if i and recs[i - 1]["family"] == r["family"] else r["family"], r["id"],
             f"{r['params'] / 1e9:.3f} B", f"{r['active_params'] / 1e9:.3f} B",
             r["token_scheme"]["kind"], r["token_scheme"]["rule"]] for i, r in enumerate(recs)]
    typer.echo(table(rows, ["family", "id", "params", "active", "tokens", "rule"], right={2, 3}))


def _model_record(mid: str) -> dict[str, Any]:
    spec, entry = load_model(mid), ZOO[mid]
    counts = spec.param_counts()
    return {"id": mid, "family": zoo_family(mid), "kind": entry.kind, "params": counts["total"],
            # MoE specs add "active" (experts used per token); a dense model's is its total
            "active_params": counts.get("active", counts["total"]),
            "token_scheme": {"kind": spec.token_scheme.kind if spec.is_vlm else "none",
                             "rule": token_rules.rule(spec)},
            "source": entry.source, "note": entry.note}


@models_app.command("show", epilog=epilog("models show"))
def models_show(name: str, fmt: Format = typer.Option(Format.table, "--format", "-f"),
                image_size: str | None = typer.Option(
                    None, "--image-size", help="WIDTHxHEIGHT of the worked token example "
                    "(default: the image `estimate` assumes)")) -> None:
    """A model's spec (from its config.json), exact parameter counts and its token rule with a
    worked example computed by the token-plan code."""
    try:
        spec = load_model(name)
    except UnknownName as e:
        raise e.named("NAME") from None
    if image_size is not None and not spec.is_vlm:
        raise CostmodelError(f"--image-size: {spec.name} has no vision tower, so no token "
                             "example; drop --image-size")
    size = parse_image_size(image_size) or token_rules.example_size(spec)
    tokens: dict[str, Any] = {"rule": token_rules.rule(spec)}
    if spec.is_vlm:
        tokens["example"] = token_rules.worked_example(spec, *size)
    vtext = video_text_rule(spec) if spec.is_vlm else None
    if vtext:
        tokens["video_text_tokens"] = vtext
    config = {"config": _config_status(name.lower())} if name.lower() in ZOO else {}
    doc = {"name": spec.name, "source": spec.source, **config, "params": spec.param_counts(),
           "tokens": tokens, "kv_cache_per_token": _kv_per_token(spec),
           **spec.model_dump(exclude={"name", "source"}, by_alias=True)}
    _emit({str(k): _plain(v) for k, v in doc.items()}, fmt)


def _config_status(mid: str) -> str:
    """Whether a zoo model's config.json is the Hub file or reconstructed (ZooEntry.config)."""
    if ZOO[mid].config == "reconstructed":
        return ("RECONSTRUCTED, not a copy of the Hub file (costmodel/zoo_configs/SOURCES.md "
                "says which fields, from what)")
    return "verbatim copy of the Hub file (costmodel/zoo_configs/SOURCES.md)"


def _kv_per_token(spec: ModelSpec) -> dict[str, Any]:
    """KV-cache bytes one token adds (K and V in every layer), by the one KV formula
    (core.metrics.kv_cache_bytes on a one-token request), at 2 and 1 bytes per element."""
    from costmodel.analysis.prepare import points
    from costmodel.core.metrics import kv_cache_bytes

    w = Workload(visual_tokens=0 if spec.is_vlm else None, text_tokens=1, output_tokens=1)
    per_element = float(np.ravel(kv_cache_bytes(spec.llm, points(spec, w, {}, 1), 1.0))[0])
    return {"bf16_bytes": int(2 * per_element), "fp8_bytes": int(per_element),
            "note": "2 (K, V) x KV heads x head_dim x layers x bytes per element; a "
                    "sliding-window layer holds at most its window of tokens"}


def _plain(x: object) -> object:
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x.value if hasattr(x, "value") else x


@hardware_app.command("list", epilog=epilog("hardware list"))
def hardware_list(fmt: Format = typer.Option(Format.table, "--format", "-f")) -> None:
    """Bundled devices with memory, bandwidth, dense bf16/fp16 peak and ridge point."""
    recs: list[dict[str, Any]] = []
    for hid in hardware_ids():
        h = load_hardware(hid)
        dt = DType.bf16 if h.supports(DType.bf16) else DType.fp16
        recs.append({"id": hid, "name": h.name, "memory_bytes": h.memory_bytes,
                     "memory_bytes_per_s": h.memory_bytes_per_s,
                     "peak_flops_per_s": h.peak_flops_per_s(dt), "peak_dtype": dt.value,
                     "ridge_flops_per_byte": h.ridge_flops_per_byte})
    if fmt is Format.json:
        typer.echo(dumps(recs))
        return
    if fmt is Format.csv:  # the one CSV writer (quoting, whole counts without '.0')
        typer.echo(records_csv(recs), nl=False)
        return
    rows = [[r["id"], r["name"], f"{r['memory_bytes'] / 1e9:g} GB",
             f"{r['memory_bytes_per_s'] / 1e9:g} GB/s",
             f"{r['peak_flops_per_s'] / 1e12:g} TFLOP/s {r['peak_dtype']}",
             f"{r['ridge_flops_per_byte']:.0f}"] for r in recs]
    typer.echo(table(rows, ["id", "name", "memory", "bandwidth", "dense peak", "ridge FLOP/B"],
                     right={2, 3, 4, 5}))


@hardware_app.command("show", epilog=epilog("hardware show"))
def hardware_show(name: str, fmt: Format = typer.Option(Format.table, "--format", "-f"),
                  sets: list[str] = typer.Option([], "--set", help="What-if KEY=VALUE "
                                                 "(repeatable), as estimate's: the profile "
                                                 "shown with it applied.")) -> None:
    """A profile as written (units in the keys) with its sources; with --set, as estimate
    --set prices it; `derived.changes` lists what --set or a `base:` YAML changed."""
    h = load_hardware(name, tuple(sets), option="NAME")
    doc = h.source_file.model_dump(exclude_none=True)
    doc["derived"] = {"ridge_flops_per_byte": round(h.ridge_flops_per_byte, 1)}
    if h.changes:
        doc["derived"]["changes"] = "; ".join(h.changes)
    _emit(doc, fmt)


def _emit(doc: dict, fmt: Format) -> None:
    """A nested document as YAML (table), JSON, or CSV rows `key,value` (dotted keys)."""
    if fmt is Format.json:
        typer.echo(dumps(doc))
    elif fmt is Format.csv:
        typer.echo(records_csv([{"key": k, "value": v} for k, v in _flat(doc)]), nl=False)
    else:
        typer.echo(yaml.safe_dump(doc, sort_keys=False, width=100).rstrip())


def _flat(x: object, prefix: str = "") -> list[tuple[str, object]]:
    if isinstance(x, dict):
        return [kv for k, v in x.items() for kv in _flat(v, f"{prefix}{k}.")]
    if isinstance(x, list) and any(isinstance(v, (dict, list)) for v in x):
        return [kv for i, v in enumerate(x) for kv in _flat(v, f"{prefix}{i}.")]
    return [(prefix.rstrip("."), " ".join(map(str, x)) if isinstance(x, list) else x)]
