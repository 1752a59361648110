"""`costmodel hardware list -f csv`."""

from __future__ import annotations

import json

from tests.helpers import run


def test_hardware_list_csv_is_the_json_through_the_csv_writer(capsys):
    """`hardware list -f csv` was joined by hand (no quoting; 24000000000.0): it now goes
    through the one CSV writer, so it reads back to the JSON's records."""
    import csv
    import io

    code, out, _ = run(["hardware", "list", "-f", "csv"], capsys)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    code, js, _ = run(["hardware", "list", "-f", "json"], capsys)
    recs = json.loads(js)
    assert [r["id"] for r in rows] == [r["id"] for r in recs]
    a10 = rows[[r["id"] for r in rows].index("a10")]
    assert a10["memory_bytes"] == "24000000000"
    for row, rec in zip(rows, recs, strict=True):
        assert float(row["memory_bytes"]) == rec["memory_bytes"] and row["name"] == rec["name"]


def test_csv_writers_agree_on_non_finite_and_whole_counts():
    """frame_csv (sweep, --per-op) wrote inf as 'inf' where records_csv (compare, plan, ...)
    writes an empty cell, as JSON writes null: both write it empty now."""
    import pandas as pd

    from costmodel.cli.output import frame_csv, records_csv

    recs = [{"flops": 1e9, "latency_s": float("inf")}, {"flops": 2.5, "latency_s": float("nan")}]
    text = "flops,latency_s\n1000000000,\n2.5,\n"
    assert records_csv(recs) == text
    assert frame_csv(pd.DataFrame(recs)) == text


def test_hardware_list_rates_are_named_per_second(capsys):
    """`peak_flops` (125000000000000, a rate named like a count, so the CSV writer wrote it
    as one) and `memory_bandwidth_Bps` are `peak_flops_per_s` and `memory_bytes_per_s`, the
    base-unit names of every other JSON / CSV (and of HardwareProfile)."""
    code, js, _ = run(["hardware", "list", "-f", "json"], capsys)
    a10 = next(r for r in json.loads(js) if r["id"] == "a10")
    assert list(a10) == ["id", "name", "memory_bytes", "memory_bytes_per_s", "peak_flops_per_s",
                         "peak_dtype", "ridge_flops_per_byte"]
    assert (a10["memory_bytes_per_s"], a10["peak_flops_per_s"]) == (600e9, 125e12)
    code, out, _ = run(["hardware", "list", "-f", "csv"], capsys)
    assert "\na10,NVIDIA A10,24000000000,600000000000.0,125000000000000.0,bf16," in out
