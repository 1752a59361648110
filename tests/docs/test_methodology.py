"""The worked example in docs/methodology.md matches what the code computes."""

from __future__ import annotations

import re

import numpy as np
import pytest

import costmodel
from tests.helpers import DOCS, run, shown_commands

DOC = DOCS / "methodology.md"


def _rows() -> dict[str, str]:
    text = DOC.read_text().split("## Worked example", 1)[1].split("\n## ", 1)[0]
    return {m.group(1): m.group(2).strip() for m in
            re.finditer(r"^\| ([a-z0-9_]+) \|[^|]*\| ([^|]+) \|$", text, re.M)}


@pytest.fixture(scope="module")
def est():
    return costmodel.estimate("llava-1.5-7b", "a100-80gb", engine="ideal")


def _sum(df, stage, cls, col="matmul"):
    return sum(
        float(c.op.count * np.ravel(c.op.matmul_flops if col == "matmul" else c.op.vector_flops)[0])
        for c in df.evaluation.op_costs if c.op.stage == stage and c.op.op_class == cls
    )


def test_worked_example(est):
    rows = _rows()
    rows.pop("key")  # the header row
    assert len(rows) == 10
    exact = {
        "prefill_linear_flops": _sum(est, "prefill", "linear"),
        "prefill_attention_matmul_flops": _sum(est, "prefill", "attention"),
        "prefill_softmax_flops": _sum(est, "prefill", "attention", "vector"),
        "prefill_lm_head_flops": _sum(est, "prefill", "lm_head"),
        "weights_bytes": est.memory.weights_bytes,
        "kv_cache_bytes": est.memory.kv_cache_bytes,
        "vision_flops": est.stages["vision"].flops,
    }
    for key, value in exact.items():
        assert float(rows[key]) == value, key
    for key, value in {"ttft_ms": est.ttft_s, "tpot_ms": est.tpot_s,
                       "e2e_ms": est.e2e_latency_s}.items():
        shown = rows[key].removesuffix(" ms")
        digits = len(shown.split(".")[1])
        assert float(shown) == round(value * 1e3, digits), key


def test_methodology_example_is_what_the_cli_prints(capsys):
    """docs/methodology.md shows one command and its LLM-Viewer line; both must be current."""
    doc = (DOCS / "methodology.md").read_text()
    block = doc.split("### Reproducing published LLM-Viewer tables")[1].split("```")[1]
    cmd = next(ln for ln in block.splitlines() if ln.startswith("costmodel estimate"))
    shown = next(ln for ln in block.splitlines() if ln.startswith("LLM-Viewer prefill:"))
    code, out, _ = run(cmd.split()[1:], capsys)
    assert code == 0 and shown in out.splitlines()


@pytest.mark.parametrize(("command", "shown"), shown_commands(DOC),
                         ids=[c for c, _ in shown_commands(DOC)])
def test_shown_output_is_what_the_command_prints(command, shown):
    """Every `$ costmodel ...` block shows today's output (benchmarks/refresh_doc_outputs.py
    rewrites them)."""
    code, out, err = run(command.split()[1:])
    assert code == 0, err
    assert out.rstrip() == shown
