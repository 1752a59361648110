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
