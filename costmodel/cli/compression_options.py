"""The compression options every workload command shares (--keep, --at, --method, --schedule,
--kv-keep, --kv-policy, --sparse-decode): their typer definitions. What turns them into a
Compression or a CompressionPlan, and refuses bad input in one line naming the option (exit 2),
is analysis/compression_options.py (`compression_from_options`), shared with the Python API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import typer

from costmodel.analysis.compression_options import (
    KV_POLICIES,
    check_kept_count,
    compression_from_options,
    parse_keep,
    refuse_count_above,
)
from costmodel.specs.compression import AnyCompression
from costmodel.specs.compression_methods import METHODS
from costmodel.specs.workload import MAX_TOKENS

__all__ = ["AT", "CLUSTER_ITERS", "KEEP", "KV_KEEP", "KV_POLICIES", "KV_POLICY", "MERGE_PER_LAYER",
           "METHOD", "OVERHEAD", "SCHEDULE", "SPARSE_DECODE", "check_kept_count",
           "compression_from_options", "compression_from_values", "parse_keep",
           "refuse_count_above"]

KEEP = typer.Option(None, help="Token compression: kept ratio 0..1 or a count (of the "
                    "request's visual tokens, all images together).")
AT = typer.Option(None, help="With --keep: projector | encoder | llm-layer:K | vit "
                  "(default: the method's place, else projector).")
METHOD = typer.Option(None, help="Named method: " + "|".join(METHODS) + " (video methods "
                      "take the share merged across frames: tempmerge:0.5; --keep is then the "
                      "per-frame keep ratio).")
SCHEDULE = typer.Option(None, help="LLM layer schedule LAYER:TOKENS,... e.g. "
                        "0:576,8:288,16:144,24:72 (tokens a count or a ratio 0..1).")
KV_KEEP = typer.Option(None, help="KV-cache compression after prefill: kept ratio 0..1 or a "
                       "per-layer token budget.")
KV_POLICY = typer.Option(None, help="With --kv-keep: uniform | pyramid | sink_window[:rolling] "
                         "(rolling: the budget also caps the cache while decoding) | "
                         "retrieval_heads[:SHARE] (RazorAttention; SHARE of KV heads kept whole, "
                         "default 0.15).")
SPARSE_DECODE = typer.Option(None, help="TidalDecode sparse decode attention K[:LAYERS]: layers "
                             "other than 0-1 and the selection LAYERS (default 2,13) read the "
                             "top-K keys, e.g. 2048 or 2048:2,16.")

CLUSTER_ITERS = typer.Option(None, min=1, max=1000, help="k-means iterations of --method "
                             "cluster (default 10).")
MERGE_PER_LAYER = typer.Option(None, min=0, max=MAX_TOKENS, help="ToMe r (with --at vit).")
OVERHEAD = typer.Option(True, help="Count the method's own cost (scores, clustering).")


def compression_from_values(values: Mapping[str, Any]) -> AnyCompression | None:
    """compression_from_options on the compression options a command has among `values` (its
    `locals()`, or a plot command's keywords); absent ones are None (overhead: counted)."""
    return compression_from_options(values.get("keep"), values.get("at"), values.get("method"),
                                    values.get("schedule"), values.get("kv_keep"),
                                    values.get("kv_policy"), values.get("cluster_iters"),
                                    values.get("merge_per_layer"), values.get("overhead", True),
                                    sparse_decode=values.get("sparse_decode"))


