"""compare-compression --keep with a comma list (costmodel/cli/compression_curve.py): each
scenario is the run of its one value, the other compression options apply to every scenario,
the text table shows each scenario's figures, CSV and JSON keep the one-value shapes, and bad
lists are refused in one line before any work."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from costmodel.units import seconds, si
from tests.helpers import run

BASE = ["compare-compression", "llava-1.5-7b", "-H", "a100-80gb"]
# (model, the list, the options every scenario shares)
CASES = [
    ("llava-1.5-7b", "0.1,0.25,0.5", []),
    ("llava-1.5-7b", "64,144,288", ["--engine", "vllm"]),
    ("llava-1.5-7b", "0.1,0.5", ["--method", "fastv", "--at", "llm-layer:2", "--kv-keep", "0.5"]),
    ("qwen2-vl-7b", "0.25,0.5", ["--method", "tempmerge:0.5", "--video-frames", "4"]),
]
TOTALS = ("ttft_s", "tpot_s", "e2e_latency_s", "bound_ttft_s", "bound_tpot_s",
          "bound_e2e_latency_s", "kv_cache_bytes", "total_memory_bytes")


def _json(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    code, out, err = run([*args, "-f", "json"], capsys)
    assert code == 0, err
    return json.loads(out)


def _close_rows(many: list[dict], one: list[dict]) -> None:
    """The savings frames agree row by row: same metric and stage, values to 1e-12."""
    assert [(r["metric"], r["stage"]) for r in many] == [(r["metric"], r["stage"]) for r in one]
    for a, b in zip(many, one, strict=True):
        assert a["baseline"] == pytest.approx(b["baseline"], rel=1e-12, abs=0)
        assert a["compressed"] == pytest.approx(b["compressed"], rel=1e-12, abs=0), a["metric"]


@pytest.mark.parametrize(("model", "keep", "extra"), CASES)
def test_each_scenario_is_its_one_value_run(model, keep, extra, capsys):
    args = ["compare-compression", model, "-H", "a100-80gb", *extra, "--keep"]
    doc = _json([*args, keep], capsys)
    values = keep.split(",")
    assert len(doc["scenarios"]) == len(values)
    for value, scenario in zip(values, doc["scenarios"], strict=True):
        one = _json([*args, value], capsys)
        assert set(scenario) == set(one)
        assert scenario["compression_spec"] == one["compression_spec"]
        assert scenario["compression"] == one["compression"]
        _close_rows(scenario["rows"], one["rows"])
        metrics = {r["metric"] for r in scenario["rows"] if r["stage"] == "total"}
        assert set(TOTALS) <= metrics and "flops" in {r["metric"] for r in scenario["rows"]}
    # the options every scenario shares reach every one of them
    if "--kv-keep" in extra:
        assert all(s["compression_spec"]["kv"]["keep_ratio"] == 0.5 for s in doc["scenarios"])
    labels = [s["compression"] for s in doc["scenarios"]]
    assert len(set(labels)) == len(labels)


def test_json_shape(capsys):
    doc = _json([*BASE, "--keep", "0.1,0.5", "--engine", "vllm"], capsys)
    assert list(doc) == ["model", "hardware", "engine", "scenarios"]
    assert (doc["model"], doc["hardware"], doc["engine"]) == ("llava-1.5-7b", "a100-80gb", "vllm")
    one = _json([*BASE, "--keep", "0.1", "--engine", "vllm"], capsys)
    assert list(doc["scenarios"][0]) == list(one)
    assert [s["compression_spec"]["keep_ratio"] for s in doc["scenarios"]] == [0.1, 0.5]


def _csv(args: list[str], capsys: pytest.CaptureFixture[str]) -> list[dict[str, str]]:
    code, out, err = run([*args, "-f", "csv"], capsys)
    assert code == 0, err
    return list(csv.DictReader(io.StringIO(out)))


def test_csv_is_the_one_value_rows_one_scenario_after_another(capsys):
    rows = _csv([*BASE, "--keep", "0.1,64"], capsys)
    singles = [_csv([*BASE, "--keep", v], capsys) for v in ("0.1", "64")]
    assert len(rows) == sum(len(s) for s in singles)
    assert list(rows[0]).index("keep") == list(rows[0]).index("compression") + 1
    assert list(rows[0]).index("keep_label") == list(rows[0]).index("keep") + 1
    n = len(singles[0])
    for value, part, one in zip(("0.1", "64"), (rows[:n], rows[n:]), singles, strict=True):
        assert {(r["keep"], r["keep_label"]) for r in part} == {(value, value)}
        assert part == one  # a run of one keep has the same columns, keep included
    assert rows[0]["compression"] != rows[n]["compression"]


def _table_rows(out: str) -> dict[str, list[str]]:
    """The text table's rows by their keep cell (columns are two or more spaces apart)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("keep "))
    cols = re.split(r"\s{2,}", lines[start].strip())
    body = []
    for line in lines[start + 2:]:
        if not line.strip():
            break
        body.append(re.split(r"\s{2,}", line.strip()))
    assert all(len(r) == len(cols) for r in body), body
    return {r[0]: dict(zip(cols, r, strict=True)) for r in body}  # type: ignore[misc]


def test_table_rows_show_each_scenario(capsys):
    code, out, err = run([*BASE, "--keep", "0.1,144", "--engine", "vllm"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("llava-1.5-7b on NVIDIA A100 80GB SXM4 (a100-80gb)")
    assert lines[1].startswith("batch 1 | 576 visual tokens + 64 text tokens")
    assert lines[2].startswith("engine vllm")
    rows = _table_rows(out)
    assert list(rows) == ["-", "0.1", "144"]
    for value in ("0.1", "144"):
        one = _json([*BASE, "--keep", value, "--engine", "vllm"], capsys)
        total = {r["metric"]: r for r in one["rows"] if r["stage"] == "total"}
        pre = next(r for r in one["rows"] if (r["metric"], r["stage"]) == ("flops", "prefill"))
        row, base = rows[value], rows["-"]
        assert row["compression"] == one["compression"]
        assert row["LLM visual"] == f"{one['paper_formulas'][0]['average_visual_tokens']:.1f}"
        assert row["prefill FLOPs"] == si(pre["compressed"], "FLOP")
        assert base["prefill FLOPs"] == si(pre["baseline"], "FLOP")
        for col, metric in (("TTFT", "ttft_s"), ("TPOT", "tpot_s"), ("e2e", "e2e_latency_s"),
                            ("TTFT bound", "bound_ttft_s")):
            assert row[col] == seconds(total[metric]["compressed"])
            assert base[col] == seconds(total[metric]["baseline"])
        assert row["KV cache"] == si(total["kv_cache_bytes"]["compressed"], "B")
        assert row["memory"] == si(total["total_memory_bytes"]["compressed"], "B")
        for col, metric in (("TTFT saved", "ttft_s"), ("KV saved", "kv_cache_bytes"),
                            ("e2e saved", "e2e_latency_s")):
            assert row[col] == f"{round(total[metric]['savings_pct'], 1) + 0.0:.1f}%"
            assert base[col] == "-"
    assert "expected on engine vllm" in out and "TTFT bound: the roofline" in out


def test_one_value_is_not_a_curve(capsys):
    code, out, _ = run([*BASE, "--keep", "0.1"], capsys)
    assert code == 0 and "a row each" not in out and out.splitlines()[4].startswith("quantity")


@pytest.mark.parametrize(("keep", "start"), [
    ("0.1,,0.5", "--keep: empty item in '0.1,,0.5'"),
    ("0.1,", "--keep: empty item in '0.1,'"),
    (",0.1", "--keep: empty item"),
    ("0.1,abc", "--keep: 'abc' is not a ratio (0..1) or a token count"),
    ("0.1,-0.5", "--keep: '-0.5' must be a ratio in 0..1 or a count >= 2"),
    ("0.1,64.5", "--keep: '64.5' is above 1, so it must be a whole token count"),
    ("0.5,0.50", "--keep: 0.50 repeats 0.5"),
    ("64,144,64.0", "--keep: 64.0 repeats 64"),
    ("0.1,1000", "--keep: 1000 tokens kept, but llava-1.5-7b has 576 visual tokens"),
])
def test_bad_lists_one_line(keep, start, capsys):
    code, out, err = run([*BASE, "--keep", keep], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"error: {start}"), err


def test_plot_refused_with_several_values_before_any_work(tmp_path, capsys, monkeypatch):
    import costmodel.analysis.compression as comparison

    def no_work(*_a, **_k):
        raise AssertionError("estimated before refusing --plot")

    monkeypatch.setattr(comparison, "point", no_work)
    png = tmp_path / "s.png"
    code, out, err = run([*BASE, "--keep", "0.1,0.5", "--plot", str(png)], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: --plot: draws one --keep at a time"), err
    assert "-f csv" in err and not png.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("extra", "start"), [
    (["--at", "vit", "--merge-per-layer", "4"], "--keep: --at vit takes --keep RATIO or "
                                                "--merge-per-layer R, not both"),
    (["--method", "pyramiddrop"], "--keep: pyramiddrop keeps a ratio lambda per stage"),
])
def test_options_one_scenario_would_refuse_are_refused(extra, start, capsys, monkeypatch):
    """What one value refuses, a list with that value refuses the same way, before any work."""
    import costmodel.cli.compression_cmd as cmd

    monkeypatch.setattr(cmd, "load_model", lambda *_: pytest.fail("loaded before refusing"))
    keep = "0.5,64" if "pyramiddrop" in extra else "0.25,0.5"
    code, out, err = run([*BASE, "--keep", keep, *extra], capsys)
    assert code == 2 and out == "" and err.startswith(f"error: {start}"), err


@pytest.mark.parametrize(("keep", "extra", "said"), [
    ("0.1,1000", [], "--keep: 1000 tokens kept"),
    ("0.1,0.5", ["--schedule", "0:400"], "--schedule: keeps 400 tokens, but 57")])
def test_counts_above_the_tokens_refused_before_any_work(keep, extra, said, capsys,
                                                         monkeypatch):
    import costmodel.analysis.compression as comparison

    monkeypatch.setattr(comparison, "point", lambda *_: pytest.fail("estimated before refusing"))
    code, out, err = run(["compare-compression", "llava-1.5-7b", "-H", "a100-80gb", "--keep",
                          keep, *extra], capsys)
    assert code == 2 and out == "" and said in err and len(err.strip().splitlines()) == 1
