"""`costmodel capacity`: serving capacity with and without token / KV compression."""

from __future__ import annotations

from typing import Any

import typer

from costmodel.analysis.plan import capacity
from costmodel.analysis.serving import capacity_records
from costmodel.cli import captions
from costmodel.cli import fleet_common as fc
from costmodel.cli.output import Format, table
from costmodel.units import DType, seconds


def _rate(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f}"


def _batch(b: int, max_batch: int) -> str:
    return "0" if not b else f">= {b}" if b == max_batch else str(b)


def _row(r: dict[str, Any], max_batch: int) -> list[str]:
    return [r["hardware"], r["compression"], _batch(r["max_batch_in_memory"], max_batch),
            _rate(r["decode_tokens_per_s_at_max_batch"]),
            _batch(r["max_load_batch"], max_batch), _rate(r["output_tokens_per_s_at_max_load"]),
            str(r["largest_batch_meeting_slo"]), f"{r['requests_per_s_per_gpu']:.2f}",
            "-" if r["batch_at_requests_per_s"] is None else str(r["batch_at_requests_per_s"]),
            "-" if r["ttft_s"] is None else seconds(r["ttft_s"]),
            "-" if r["tpot_s"] is None else seconds(r["tpot_s"])]


def capacity_command(
    model: str = fc.MODEL, hardware: str | None = fc.HARDWARE,
    ttft: float | None = typer.Option(None, help="TTFT SLO in seconds, e.g. 0.5."),
    tpot: float | None = typer.Option(None, help="TPOT SLO in seconds, e.g. 0.05."),
    visual_tokens: int | None = fc.VISUAL, images: int = fc.IMAGES,
    image_size: str | None = fc.IMAGE_SIZE,
    video_frames: int | None = fc.VIDEO_FRAMES, video_fps: float | None = fc.FPS,
    video_seconds: float | None = fc.SECONDS, text_tokens: int = fc.TEXT,
    output_tokens: int = fc.OUTPUT,
    max_batch: int = typer.Option(1024, min=1, max=65536, help="Largest batch searched: the "
                                  "engine's cap on requests in flight (trtllm-bench: 4096)."),
    dtype: DType | None = fc.DTYPE, weight_dtype: DType | None = fc.WDTYPE,
    weight_group: int | None = fc.WGROUP, weight_group_bytes: float | None = fc.WGROUP_BYTES,
    weight_parts: str | None = fc.WPARTS,
    kv_dtype: DType | None = fc.KVDTYPE, sets: list[str] = fc.SETS, fmt: Format = fc.FMT,
    flash_attention: bool | None = fc.FLASH, overlap: str = fc.OVERLAP, logits: str = fc.LOGITS,
    convention: str = fc.CONVENTION, engine: str | None = fc.ENGINE, tp: int = fc.TP,
    pp: int = fc.PP, ep: int = fc.EP, keep: str | None = fc.KEEP,
    at: str | None = fc.AT, method: str | None = fc.METHOD, schedule: str | None = fc.SCHEDULE,
    kv_keep: str | None = fc.KV_KEEP, kv_policy: str | None = fc.KV_POLICY,
    sparse_decode: str | None = fc.SPARSE_DECODE,
) -> None:
    """Largest batch that fits (KV cache of every request), decode throughput there, and
    requests/s per GPU meeting the SLO: without and with the compression (static batching)."""
    slo = fc.slo_from_options(ttft, tpot, output_tokens, required=False)
    spec, profiles, w = fc.setup(locals(), batch=1)
    res = capacity(spec, profiles, w, slo, max_batch=max_batch, auto_dtype=dtype is None)
    recs = capacity_records(res, w)
    head = (f"{spec.name}: {captions.request_text(spec, w)}; serving capacity, static "
            f"batching; {fc.slo_text(slo)}; "
            f"batch searched 1..{max_batch}"
            f"{fc.run_text(res['baseline'].fleet.engine, w, compression=False)}")
    t = table([_row(r, max_batch) for r in recs],
              ["device", "compression", "max batch (memory)", "decode tok/s there",
               "max-load batch", "output tok/s there", "SLO batch", "req/s/GPU", "at batch",
               "TTFT", "TPOT"], right={2, 3, 4, 5, 6, 7, 8, 9, 10})
    note = ("max-load batch: requests in flight when they queue without end (weights + KV "
            "cache of every whole sequence + one request's activations fit); output tok/s "
            "there: that batch x output tokens / its end-to-end latency (in-flight batching "
            f"priced as a static batch); both tok/s for {fc.replica_text(w.parallel.gpus)}"
            "\nreq/s/GPU: max over batches b meeting the SLO of b / end-to-end latency(b) / "
            "GPUs, per GPU; 'at batch' is that b (TTFT, TPOT at it)")
    fc.emit(recs, fmt, "\n".join([head, "", t, "", note, *fc.changed_lines(profiles)]),
            res["baseline"].fleet.engine, w, [res["baseline"].fleet.host_note])
