"""Every table names what its numbers are of: the compression applied (estimate) and the
engine of the expected latencies, so a saved table can be read without its command line."""

from __future__ import annotations

from tests.helpers import run

BASE = ["llava-1.5-7b", "-H", "h100-sxm"]


def test_estimate_names_the_compression(capsys):
    code, out, _ = run(["estimate", *BASE, "--keep", "0.25"], capsys)
    assert code == 0 and "compression: select@projector keep 0.25 (" in out.splitlines()[4]
    code, out, _ = run(["estimate", *BASE, "--kv-keep", "0.25", "--kv-policy", "pyramid"], capsys)
    assert code == 0 and out.splitlines()[4].startswith("compression: kv pyramid keep 0.25")
    code, out, _ = run(["estimate", *BASE], capsys)  # no compression: no line
    assert code == 0 and "compression" not in out and out.splitlines()[4] == ""


def test_compare_compression_names_the_engine(capsys):
    code, out, _ = run(["compare-compression", *BASE, "--keep", "0.25", "--engine", "vllm"],
                       capsys)
    line = out.splitlines()[2]
    assert code == 0 and line.startswith("engine vllm (vLLM): latency_s, ttft_s, tpot_s")
    assert "bound_* the roofline" in line
    code, out, _ = run(["compare-compression", *BASE, "--keep", "0.25"], capsys)
    assert code == 0 and out.splitlines()[2].startswith("engine hf-eager (")


def _first(cmd: list[str], capsys) -> str:
    code, out, err = run(cmd, capsys)
    assert code == 0, err
    return out.splitlines()[0]


def test_fleet_tables_name_the_engine_and_the_compression(capsys):
    keep = ["--keep", "0.25", "--engine", "vllm"]
    for cmd in (["compare", *BASE], ["energy", *BASE], ["plan", *BASE, "--ttft", "0.05"],
                ["batching", *BASE, "--batch", "1,8"]):
        line = _first([*cmd, *keep], capsys)
        assert line.endswith(" | latencies expected on engine vllm | compression: "
                             "select@projector keep 0.25"), (cmd, line)
        assert _first(cmd, capsys).endswith(" | latencies expected on engine hf-eager"), cmd
    # capacity has a compression column: the engine only
    line = _first(["capacity", *BASE, *keep, "--max-batch", "8"], capsys)
    assert line.endswith(" | latencies expected on engine vllm"), line


def test_sweep_table_ends_with_the_engine_and_the_compression(capsys):
    code, out, _ = run(["sweep", *BASE, "--visual-tokens", "576", "--keep", "0.25",
                        "--engine", "vllm"], capsys)
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:2] == ["model", "hardware"] and lines[-2] == ""
    assert lines[-1].startswith("latency, TTFT, TPOT, e2e: expected on engine vllm (")
    assert lines[-1].endswith(" | compression: select@projector keep 0.25")
    code, out, _ = run(["sweep", *BASE, "--visual-tokens", "576"], capsys)
    assert code == 0 and out.splitlines()[-1].endswith("engine hf-eager (the roofline bound: "
                                                       "bound_* columns of -f csv/json) | "
                                                       "compression: none")


def test_estimate_csv_has_the_bound_and_the_engine(capsys):
    """The stage CSV carries what the JSON's stages do: the bound beside the expected latency,
    the device and launch times, and the engine the expected latency is on."""
    import csv
    import json

    code, out, _ = run(["estimate", *BASE, "--engine", "vllm", "-f", "csv"], capsys)
    rows = list(csv.DictReader(out.splitlines()))
    code2, doc, _ = run(["estimate", *BASE, "--engine", "vllm", "-f", "json"], capsys)
    stages = json.loads(doc)["stages"]
    assert code == code2 == 0 and [r["stage"] for r in rows] == list(stages)
    for r in rows:
        s = stages[r["stage"]]
        assert r["engine"] == "vllm" and r["host_bound"] == str(s["host_bound"])
        for key in ("latency_s", "device_s", "launch_s"):
            assert float(r[key]) == s[key]
    bound = json.loads(doc)["bound"]["stages"]
    assert [float(r["bound_latency_s"]) for r in rows] == [bound[s]["latency_s"] for s in stages]


def test_fleet_records_carry_the_engine_and_the_compression(capsys):
    """-f json / csv of compare, energy, plan, batching and capacity: every record says the
    engine and the compression its table's first line names (plan, batching and energy said
    neither, compare no compression); capacity keeps its per-scenario compression."""
    import json

    keep = ["--keep", "0.25", "--engine", "vllm", "-f", "json"]
    for cmd in (["compare"], ["energy"], ["plan", "--ttft", "1"], ["batching", "--batch", "1,2"]):
        code, out, err = run([cmd[0], *BASE, *cmd[1:], *keep], capsys)
        assert code == 0, err
        assert {(r["engine"], r["compression"]) for r in json.loads(out)} == {
            ("vllm", "select@projector keep 0.25")}, cmd
    code, out, _ = run(["capacity", *BASE, "--max-batch", "4", *keep], capsys)
    assert [(r["engine"], r["compression"]) for r in json.loads(out)] == [
        ("vllm", "none"), ("vllm", "select@projector keep 0.25")]
    code, out, _ = run(["plan", *BASE, "--ttft", "1", "-f", "csv"], capsys)
    head, row = out.splitlines()[:2]
    assert head.endswith(",engine,compression") and row.endswith(",hf-eager,none")
