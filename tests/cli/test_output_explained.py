"""Text tables say what their JSON says, and their notes apply: batching's TTFT column, plan's
tokens/s and capacity's req/s explained, energy's power-mode note only where it applies, a
--set that removes the bf16 peak named as the cause, sweep's capped keep counts labelled."""

from __future__ import annotations

import json

from costmodel.units import seconds
from tests.helpers import LLAVA_7B_DIR as MODEL
from tests.helpers import run


def test_batching_table_shows_ttft_and_microbatches_change_it(capsys):
    """TTFT is among batching's outputs (methodology): the text table shows it as JSON does,
    so --microbatches under --pp (which changes only TTFT) shows in the table."""
    args = ["batching", MODEL, "-H", "h100-sxm", "--batch", "8", "--pp", "2",
            "--visual-tokens", "576"]
    code, out, _ = run(args, capsys)
    assert code == 0
    header = next(x for x in out.splitlines() if x.startswith("batch"))
    assert "TTFT" in header.split()
    _, js, _ = run(args + ["-f", "json"], capsys)
    ttft = seconds(json.loads(js)[0]["ttft_s"])
    assert ttft in out
    code, out4, _ = run(args + ["--microbatches", "4"], capsys)
    assert code == 0 and out4 != out
