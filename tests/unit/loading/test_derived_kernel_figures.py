"""Profiles without measured kernel tables carry kernel figures derived from the A100 SXM4's
(benchmarks/derive_kernel_figures.py): the basis's figures, the form factor's MAMF
gemm_fraction and the architecture's flop_per_exp; and the YAMLs are what the script writes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from costmodel.loading.load import hardware_ids, load_hardware

ROOT = Path(__file__).resolve().parents[3]
spec = importlib.util.spec_from_file_location("derive", ROOT / "benchmarks" /
                                              "derive_kernel_figures.py")
derive = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
sys.modules["derive"] = derive  # dataclasses look their module up
spec.loader.exec_module(derive)  # type: ignore[union-attr]

BASIS = load_hardware("a100-80gb")


@pytest.mark.parametrize("dev", sorted(derive.DEVICES))
def test_derived_profiles_are_the_basis_but_three_inputs(dev):
    h = load_hardware(dev)
    fam = derive.DEVICES[dev]
    assert h.kernel_params is not None and h.sm_count

    def but_gemm(d: dict) -> dict:
        return {k: v for k, v in d.items() if k != "gemm_fraction"}

    assert but_gemm(h.kernel_params) == but_gemm(BASIS.kernel_params)
    assert h.kernel_params_by_engine.keys() == BASIS.kernel_params_by_engine.keys()
    for e, p in h.kernel_params_by_engine.items():  # each engine's set holds the device's
        assert but_gemm(p) == but_gemm(BASIS.kernel_params_by_engine[e])
        assert p["gemm_fraction"] == h.kernel_params["gemm_fraction"]
    # gemm_fraction: MAMF A100 SXM (271.2 / 312) for SXM, A100 PCIe (252.9 / 312) otherwise
    want = 271.2 / 312 if fam.form == "sxm" else 252.9 / 312
    assert h.kernel_params["gemm_fraction"] == pytest.approx(want, abs=5e-5)
    # SFU: 16 exp2 per clock per SM; the tensor rate per SM of the listed peak
    peak = h.peak_flops_per_s_by_dtype.get(next(d for d in h.peak_flops_per_s_by_dtype
                                          if d.value in ("bf16", "fp16")))
    assert h.exp_per_s == pytest.approx(peak / (fam.tensor_flop_per_clk_sm / 16))


def test_the_yamls_are_what_the_script_writes():
    for dev, fam in derive.DEVICES.items():
        text = (derive.ROOT / f"{dev}.yaml").read_text()
        yaml, src = derive.derive(dev, fam)
        assert derive.rewrite(text, yaml, src) == text, dev


def test_every_gpu_profile_carries_an_efficiency_model():
    """Every profile has kernel figures, efficiency curves (the Vidur copies) or is one of
    LLM-Viewer's convention profiles (the bare bound by design)."""
    for i in hardware_ids():
        h = load_hardware(i)
        ok = h.kernel_params is not None or bool(h.efficiency_curves) or i.startswith(
            "llm-viewer-")
        assert ok, i


def test_validation_doc_what_it_changes():
    """docs/validation.md, "Devices without measured tables": today's expected TTFT and TPOT
    of llava-1.5-7b on vllm (the right of each arrow) and the L40S's bound."""
    import costmodel
    from costmodel.units import seconds
    from tests.helpers import DOCS

    text = " ".join((DOCS / "validation.md").read_text().split())
    line = text.split("- what it changes (llava-1.5-7b, batch 1, defaults, `--engine vllm`):", 1)[1]
    line = line.split(" - ", 1)[0]
    for name, hw in (("L40S", "l40s"), ("RTX 4090", "rtx-4090"),
                     ("Jetson AGX Orin", "jetson-agx-orin-64gb"), ("L4", "l4")):
        e = costmodel.estimate("llava-1.5-7b", hw, engine="vllm")
        ttft, tpot = (seconds(x).split() for x in (e.ttft_s, e.tpot_s))
        part = line.split(f"{name} ", 1)[1].split(";", 1)[0]
        assert f"-> {ttft[0]} ms" in part and f"-> {tpot[0]} ms" in part, (name, part)
        if hw == "l40s":
            bound = (seconds(x).split()[0] for x in (e.bound.ttft_s, e.bound.tpot_s))
            assert "(bound {} / {})".format(*bound) in part
