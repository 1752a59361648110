"""docs/validation.md's `validate --kernels` blocks, its targets table and the held-out medians
quoted in hardware_profiles/{a100-80gb,h100-sxm}.yaml are what the command gives today.

They need the full aiconfigurator tables, which the repository does not ship (tests/data/kernels
holds a subsample): `../shared/measurements/aiconfigurator` beside the checkout, or the folder
named by COSTMODEL_KERNEL_TABLES. Without them the tests skip (a few seconds with them).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import DOCS, ROOT, run

TABLES = Path(os.environ.get("COSTMODEL_KERNEL_TABLES",
                             ROOT.parent / "shared" / "measurements" / "aiconfigurator"))
DEVICES = {"a100-80gb": ("a100_sxm", ("gemm", "attention")),
           "h100-sxm": ("h100_sxm", ("gemm", "attention", "encoder_attention"))}

pytestmark = pytest.mark.skipif(not (TABLES / "h100_sxm").is_dir(),
                                reason=f"no aiconfigurator tables at {TABLES}")


def _files(hw: str) -> list[Path]:
    """The files of the documented `ls $M/<gpu>/{...}/*/*/*.csv.gz`."""
    gpu, kinds = DEVICES[hw]
    return sorted(p for k in kinds for p in (TABLES / gpu / k).glob("*/*/*.csv.gz"))


@pytest.fixture(scope="module")
def held_out() -> dict:
    """Per device: the held-out rows priced (kernels_cmd.evaluate) with their engine."""
    from costmodel.calibration import kernel_tables as kt
    from costmodel.cli.kernels_cmd import evaluate

    out = {}
    for hw in DEVICES:
        _, frame, _ = evaluate(_files(hw), hw, held_out_only=True)
        out[hw] = frame.assign(engine=kt.engine_of(frame))
    return out


def _median(frame, label: str, engine: str | None = None) -> str:
    rows = frame[(frame["label"] == label) & ((frame["engine"] == engine) if engine else True)]
    return f"{100 * np.median(rows['abs_error']):.1f}%"


@pytest.mark.parametrize("hw", list(DEVICES))
def test_validate_kernels_blocks(hw, capsys):
    """The two blocks under "Check any device's tables" are the command's output."""
    code, out, _ = run(["validate", "--kernels", *map(str, _files(hw)), "-H", hw, "--held-out"],
                       capsys)
    assert code == 0
    text = (DOCS / "validation.md").read_text()
    block = text.split(f"-H {hw} --held-out\n", 1)[1].split("```", 1)[0]
    assert block.rstrip() == out.rstrip()


def test_targets_table_and_profile_sources(held_out):
    """The per-engine held-out medians (bound >= 10 us) of the targets table and of the two
    profiles' `attention_kernel_by_engine` / `decode_kernel_by_engine` sources."""
    text = " ".join((DOCS / "validation.md").read_text().split())

    def med(hw: str, label: str, engine: str | None = None) -> str:
        return _median(held_out[hw], label, engine)

    assert f"| gemm (bf16) | {med('a100-80gb', 'gemm')} | {med('h100-sxm', 'gemm')} | yes, both |" \
        in text
    assert (f"| context_attention | {med('a100-80gb', 'context_attention')} (was 10.5%) | "
            f"{med('h100-sxm', 'context_attention')} (was 21.4%, then 11.0%; vLLM "
            f"{med('h100-sxm', 'context_attention', 'vllm')}, TRT-LLM "
            f"{med('h100-sxm', 'context_attention', 'trtllm')}) |") in text
    gen = [med("a100-80gb", "generation_attention", e) for e in (None, "vllm", "trtllm")]
    assert f"| generation_attention | {gen[0]} (was 11.5%, 14.6%; vLLM {gen[1]}, TRT-LLM {gen[2]}," \
        in text
    gen = [med("h100-sxm", "generation_attention", e) for e in (None, "vllm", "trtllm")]
    assert f"| {gen[0]} (was 11.3%; vLLM {gen[1]}, TRT-LLM {gen[2]}, was 12.5%) |" in text
    assert f"| encoder_attention | - | {med('h100-sxm', 'encoder_attention')} (was" in text
    for hw in DEVICES:
        src = {ln.split(":", 1)[0].strip(): ln for ln in
               (ROOT / "hardware_profiles" / f"{hw}.yaml").read_text().splitlines()
               if ln.startswith(("  attention_kernel_by_engine: \"", "  decode_kernel_by_engine: \""))}
        ctx = (med(hw, "context_attention", e) for e in (None, "vllm", "trtllm"))
        assert "each with its own set): {} (vLLM {}, TensorRT-LLM {})".format(*ctx) \
            in src["attention_kernel_by_engine"], hw
        dec = (med(hw, "generation_attention", e) for e in ("vllm", "trtllm"))
        assert "held-out medians (bound >= 10 us): vLLM {}, TensorRT-LLM {} (".format(*dec) \
            in src["decode_kernel_by_engine"], hw
        assert f"both {med(hw, 'generation_attention')} (" in src["decode_kernel_by_engine"], hw


def test_fp8_context_fmha_rule_figures(held_out, monkeypatch):
    """"Prefill attention": TensorRT-LLM's H100 context rows with bf16 attention and an fp8 KV
    cache, and all its context rows, held out (bound >= 10 us), without and with the rule."""
    from costmodel.calibration import kernel_tables as kt
    from costmodel.cli.kernels_cmd import evaluate

    def figures(frame) -> str:  # noqa: ANN001
        trt = frame[(frame["label"] == "context_attention") & (frame["engine"] == "trtllm")]
        mixed = trt[(trt["attn_dtype"] == "bfloat16") & (trt["kv_cache_dtype"] == "fp8")]
        return f"{100 * mixed['abs_error'].median():.1f}% / {100 * trt['abs_error'].median():.1f}%"

    with_rule = figures(held_out["h100-sxm"])
    monkeypatch.setattr(kt, "_in_kv_dtype", lambda engine: False)
    _, frame, _ = evaluate(_files("h100-sxm"), "h100-sxm", held_out_only=True)
    without = figures(frame.assign(engine=kt.engine_of(frame)))
    (a, b), (c, d) = without.split(" / "), with_rule.split(" / ")
    text = " ".join((DOCS / "validation.md").read_text().split())
    assert (f"TensorRT-LLM's bf16-attention / fp8-KV rows {a} -> {c} (") in text
    assert f"TensorRT-LLM {b} -> {d}, H100 context" in text
