"""Kernel figures for the profiles without measured kernel tables, derived from the nearest
measured architecture, with the derivation as each figure's source.

    python benchmarks/derive_kernel_figures.py            # print what each profile would get
    python benchmarks/derive_kernel_figures.py --write    # ... and write it into the YAMLs

Measured kernel tables exist for the A100 SXM4 and the H100 SXM only (../shared/measurements,
aiconfigurator); their figures are fitted (benchmarks/kernel_crossdevice.py,
fit_decode_kernels.py, fit_attention_kernels.py) and copied to the same silicon (a100-40gb,
a100-80gb-pcie, h100-pcie, h200: their own sources). Every other GPU here runs the kernels of
the SM80 class (mma.sync tensor cores, cp.async, FlashAttention-2, TensorRT-LLM's SM80-class
XQA / masked-MHA decode kernels; FlashAttention-3's wgmma / TMA kernels are Hopper only), so
it takes the a100-80gb figures (BASIS) with three device-specific inputs:

  gemm_fraction  MAMF / datasheet peak of the nearest measured part by form factor
                 (stas00/ml-engineering 744d01e, "Maximum Achievable Matmul FLOPS"): SXM
                 modules A100 SXM 271.2 / 312; PCIe cards and edge modules, whose power cap
                 lowers the sustained clock, A100 PCIe 252.9 / 312. No MAMF row exists for
                 these devices.
  flop_per_exp   dense tensor FLOPs per clock per SM at the profile's listed bf16 (else fp16)
                 peak / 16 exponentials (exp2f) per clock per SM, the SFU rate of compute
                 capability 7.x-9.0 (CUDA C++ Programming Guide, Arithmetic Instructions,
                 throughput table). Tensor FLOPs per clock per SM from each profile's
                 peak_tflops source (tensor cores per SM x FLOPs per tensor core per clock).
  everything else the a100-80gb's: fractions of this device's own datasheet peak and
                 bandwidth, per-kernel and per-wave costs in microseconds, the per-engine
                 decode and prefill sets (vllm: FlashAttention-2; trtllm: XQA / masked MHA).

The expected error of such a transfer is what fitting one measured device and predicting the
other shows (docs/validation.md, "Kernel efficiency from measured tables": A100 -> H100, held
out). Turing and Volta (t4, v100) have no FlashAttention-2 kernels (FlashAttention-2 supports
Ampere, Ada and Hopper); their attention figures are still the A100's, an optimistic stand-in.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "hardware_profiles"
BASIS = "a100-80gb"
KEYS = ("flop_per_exp", "kernel_efficiency", "decode_kernel_by_engine",
        "attention_kernel_by_engine")
MAMF = {"sxm": (271.2, "A100 SXM"), "pcie": (252.9, "A100 PCIe")}  # bf16 TFLOP/s, of 312
A100_BF16_TFLOPS = 312.0
SFU_EXP_PER_CLK_SM = 16.0


@dataclass(frozen=True)
class Family:
    """One device's architecture facts (from its profile's peak_tflops source)."""

    arch: str  # die and compute capability
    tensor_flop_per_clk_sm: float  # dense FP16 tensor FLOPs per clock per SM at the listed peak
    how: str  # where that rate comes from
    form: str  # "sxm" | "pcie" (PCIe cards and power-capped edge modules)
    note: str = ""


AMPERE_GA10X = "4 tensor cores per SM x 256 dense FP16 FLOP/clk (its peak_tflops check)"
ADA = ("4 tensor cores per SM x 256 dense FP16 FLOP/clk (NVIDIA Ada GPU Architecture "
       "whitepaper v2.01: RTX 4090 330.3 dense FP16 TFLOPS = 512 tensor cores x 256 x 2.52 GHz)")
ORIN = ("4 tensor cores per SM x 512 dense FP16 FLOP/clk, the GA100 rate (its profile notes: "
        "dense INT8 1024 ops per tensor core per clock, FP16 half of it)")
NO_FA2 = (" No FlashAttention-2 on this architecture (FlashAttention-2 supports Ampere, Ada and "
          "Hopper): the attention figures are the A100's FlashAttention-2 ones, an optimistic "
          "stand-in.")
LPDDR = (" LPDDR5 shared with the CPU, not HBM: the bandwidth fractions are the A100's, not "
         "measured on this module.")
DEVICES: dict[str, Family] = {
    "a10": Family("GA102 (SM86)", 1024.0, AMPERE_GA10X, "pcie"),
    "rtx-a6000": Family("GA102 (SM86)", 1024.0, AMPERE_GA10X, "pcie"),
    "l4": Family("AD104 (SM89)", 1024.0, ADA, "pcie"),
    "l40s": Family("AD102 (SM89)", 1024.0, ADA, "pcie"),
    "rtx-4090": Family("AD102 (SM89)", 512.0, ADA + "; the listed bf16 peak is the GeForce "
                       "FP32-accumulate rate, half of it: 512", "pcie"),
    "t4": Family("TU104 (SM75)", 1024.0, "8 tensor cores per SM x 128 dense FP16 FLOP/clk "
                 "(its peak_tflops source: 320 tensor cores, 65 TFLOPS at 1.59 GHz)", "pcie",
                 NO_FA2),
    "v100": Family("GV100 (SM70)", 1024.0, "8 tensor cores per SM x 128 dense FP16 FLOP/clk "
                   "(its peak_tflops check: 640 x 128 x 1.53 GHz)", "sxm", NO_FA2),
    "jetson-agx-orin-64gb": Family("GA10B (SM87)", 2048.0, ORIN, "pcie", LPDDR),
    "jetson-orin-nx-16gb": Family("GA10B (SM87)", 2048.0, ORIN, "pcie", LPDDR),
    "jetson-orin-nano-8gb": Family("GA10B (SM87)", 2048.0, ORIN, "pcie", LPDDR),
}


def top_blocks(text: str) -> dict[str, str]:
    """Top-level YAML keys -> their text (the key line and its indented lines)."""
    out: dict[str, str] = {}
    for m in re.finditer(r"^([a-z_0-9]+):.*\n(?:(?:[ #].*)?\n)*", text, flags=re.M):
        out[m.group(1)] = m.group(0)
    return out


def basis_blocks() -> str:
    """The basis profile's kernel-figure blocks, verbatim (flop_per_exp excluded)."""
    blocks = top_blocks((ROOT / f"{BASIS}.yaml").read_text())
    return "".join(blocks[k] for k in KEYS[1:])


def derive(dev: str, fam: Family) -> tuple[str, dict[str, str]]:
    """(the YAML blocks, their source lines) for one device."""
    tflops, part = MAMF[fam.form]
    frac = tflops / A100_BF16_TFLOPS
    per_exp = fam.tensor_flop_per_clk_sm / SFU_EXP_PER_CLK_SM
    body = re.sub(r"(?m)^  gemm_fraction: .*$", f"  gemm_fraction: {frac:.4g}", basis_blocks())
    yaml = f"flop_per_exp: {per_exp:g}\n" + body
    derived = (f"Derived, not measured (benchmarks/derive_kernel_figures.py): the {BASIS} "
               f"figures, fitted on the A100 SXM4 tables (see that profile's sources), as the "
               f"nearest measured architecture: {fam.arch} runs the SM80-class kernels "
               "(mma.sync tensor cores, cp.async, FlashAttention-2, TensorRT-LLM's SM80-class "
               "decode kernels). Fractions apply to this device's own datasheet peak and "
               "bandwidth; per-kernel and per-wave costs are the A100's microseconds. "
               "Expected error: the cross-device transfer in docs/validation.md (A100 -> H100, "
               "held out).")
    src = {
        "flop_per_exp": (f"Derived from the architecture: dense tensor FLOPs per clock per SM / "
                         f"SFU exponentials per clock per SM = {fam.tensor_flop_per_clk_sm:g} / "
                         f"16 = {per_exp:g}. {fam.arch}: {fam.how}; 16 exp2f per clock per SM "
                         "on compute capability 7.x-9.0 (CUDA C++ Programming Guide, "
                         "Arithmetic Instructions, throughput table). Enters only the prefill / "
                         "ViT attention softmax (core/efficiency.py)"),
        "kernel_efficiency": (derived + f" gemm_fraction = MAMF {part} / peak = {tflops} / 312 "
                              f"= {frac:.4f} (stas00/ml-engineering commit 744d01e, table "
                              "Maximum Achievable Matmul FLOPS; no row for this device; the "
                              f"{'SXM' if fam.form == 'sxm' else 'power-capped PCIe'} A100 "
                              "part as the nearest form factor)." + fam.note),
        "decode_kernel_by_engine": derived + fam.note,
        "attention_kernel_by_engine": derived + fam.note,
    }
    return yaml, src


def _yaml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rewrite(text: str, yaml: str, src: dict[str, str]) -> str:
    """The profile with its kernel-figure blocks and their sources replaced by the derived
    ones (inserted before `sources:`; idempotent)."""
    blocks = top_blocks(text)
    for k in KEYS:
        if k in blocks:
            text = text.replace(blocks[k], "")
    lines = [ln for ln in text.splitlines(keepends=True)
             if not any(ln.startswith(f"  {k}: ") for k in KEYS)]
    text = "".join(lines)
    head, sep, tail = text.partition("\nsources:\n")
    if not sep:
        raise SystemExit("error: a profile without a `sources:` block")
    src_lines = "".join(f"  {k}: {_yaml_str(v)}\n" for k, v in src.items())
    return head + "\n" + yaml.rstrip("\n") + "\nsources:\n" + src_lines + tail


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true", help="write the YAMLs")
    write = ap.parse_args().write
    for dev, fam in DEVICES.items():
        yaml, src = derive(dev, fam)
        path = ROOT / f"{dev}.yaml"
        new = rewrite(path.read_text(), yaml, src)
        first = yaml.splitlines()[:3]
        print(f"{dev:22s} {fam.arch:14s} " + " | ".join(s.strip() for s in first))
        if write:
            path.write_text(new)


if __name__ == "__main__":
    main()
