"""`costmodel engines list|show`: the inference engines of the expected latency."""

from __future__ import annotations

from typing import Any

import typer
import yaml

from costmodel.cli.examples import epilog
from costmodel.cli.output import Format, dumps, records_csv, table
from costmodel.errors import UnknownName
from costmodel.loading.load import engine_ids, load_engine

# the 'packed vit' column: how the engine runs a packed ViT's attention (core/packed.py)
PACKED_VIT = {"varlen": "varlen", "per_sequence": "per call", "masked": "masked"}

engines_app = typer.Typer(no_args_is_help=True, help="Inference engines (costmodel/engines/).")


def _record(name: str) -> dict[str, Any]:
    e = load_engine(name)
    return {"id": e.id, "name": e.name, "kernels": e.kernels,
            "launch_per_kernel": e.launch_per_kernel,
            "host_overhead_per_kernel_us": e.host_overhead_per_kernel_s * 1e6,
            "host_overlap": e.host_overlap,
            "kv_append": e.kv_append, "gqa_expand": e.gqa_expand,
            "packed_attention": e.packed_attention, "vision_graph": e.vision_graph,
            "decode_cuda_graphs": e.decode_cuda_graphs,
            "fused_op_classes": " ".join(sorted(e.fused_op_classes)),
            "fused_gemms": " ".join(sorted(e.fused_gemms)),
            "int4_format": (f"g{e.int4_format.group} {e.int4_format.group_bytes:g} B"
                            if e.int4_format else ""),
            "prefill_chunk_tokens": e.prefill_chunk_tokens,
            "prefill_chunk_over_tokens": e.prefill_chunk_over_tokens,
            "step_overhead_us": e.step_overhead_s * 1e6,
            "prefill_overhead_us": e.prefill_overhead_s * 1e6}


def _chunks(r: dict[str, Any]) -> str:
    """'512 over 32768' where the engine chunks a long prefill (core/chunked.py), else '-'."""
    c = r["prefill_chunk_tokens"]
    return "-" if c is None else f"{c} over {r['prefill_chunk_over_tokens']}"


@engines_app.command("list", epilog=epilog("engines list"))
def engines_list(fmt: Format = typer.Option(Format.table, "--format", "-f")) -> None:
    """Every bundled engine with its launch, fusion, KV-traffic and host-time figures.

    Example: costmodel engines list; costmodel estimate llava-1.5-7b -H a100-80gb --engine vllm
    """
    recs = [_record(i) for i in engine_ids()]
    if fmt is Format.json:
        typer.echo(dumps(recs))
    elif fmt is Format.csv:
        typer.echo(records_csv(recs), nl=False)
    else:
        rows = [[r["id"], r["kernels"], "yes" if r["launch_per_kernel"] else "no",
                 f"{r['host_overhead_per_kernel_us']:g}", r["host_overlap"],
                 r["kv_append"], "yes" if r["gqa_expand"] else "no",
                 PACKED_VIT[r["packed_attention"]], r["vision_graph"].replace("_", " "),
                 "yes" if r["decode_cuda_graphs"] else "no", _chunks(r),
                 r["fused_op_classes"] or "-", r["fused_gemms"] or "-",
                 r["int4_format"] or "-", f"{r['step_overhead_us']:g}",
                 f"{r['prefill_overhead_us']:g}", r["name"]]
                for r in recs]
        head = ["id", "kernels", "launches", "host us/kernel", "host overlap", "kv append",
                "gqa copy", "packed vit", "vit graph", "decode graphs", "prefill chunks",
                "fused", "fused gemms", "int4 group", "step us", "prefill us", "name"]
        right = {head.index(c) for c in ("host us/kernel", "step us", "prefill us")}
        typer.echo(table(rows, head, right=right))


@engines_app.command("show", epilog=epilog("engines show"))
def engines_show(name: str, fmt: Format = typer.Option(Format.table, "--format", "-f")) -> None:
    """One engine's YAML with the source of every figure (an id or a YAML path)."""
    try:
        e = load_engine(name)
    except UnknownName as err:
        raise err.named("NAME") from None
    doc = e.source_file.model_dump(mode="json")
    if fmt is Format.json:
        typer.echo(dumps(doc))
    elif fmt is Format.csv:
        typer.echo(records_csv([_record(name)]), nl=False)
    else:
        typer.echo(yaml.safe_dump(doc, sort_keys=False).rstrip())
