"""Decode (generation) attention: the device's figures and each engine's, fitted and held out.

    python benchmarks/fit_decode_kernels.py [--tables ../shared/measurements/aiconfigurator]

For A100 SXM and H100 SXM (aiconfigurator tables, vLLM and TensorRT-LLM), fits the decode
figures of costmodel/core/decode_kernel.py on the even-hash half of the generation-attention rows
(kernel_tables.held_out is False) and reports |predicted - measured| / measured on the odd
half, over rows whose bound is >= 10 us:
  device   one set for both frameworks, generic rules (split always, no group limit): the
           profile's `kernel_efficiency` decode figures
  engine   one set per framework under its kernel rules (RULES below): the profile's
           `decode_kernel_by_engine.<engine>`
  shipped  what the profiles now give (`validate --kernels` does the same per row)
Prints the fitted blocks in the profiles' YAML units. Every other kernel figure stays as
shipped (fit_decode moves only the decode group).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from costmodel.calibration import kernel_tables as kt
from costmodel.core import efficiency as eff
from costmodel.loading.load import load_hardware

DEVICES = {"a100": ("a100_sxm", "a100-80gb"), "h100": ("h100_sxm", "h100-sxm")}
DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "measurements" / "aiconfigurator"
# Kernel rules (given, not fitted). vLLM 0.14 on A100 runs FlashAttention-2's varlen kernel,
# which splits the KV only when it packs a KV group's query heads (seen in the table: b=1,
# h=kvh=1 streams 22 GB/s at 131072 keys); vLLM 0.19 on H100 splits for h = kvh too (49 us
# there). TensorRT-LLM dispatches between its XQA kernel (groups of 2-32 query heads per KV
# head, enough CTAs) and its masked-MHA kernel, each with its own KV split, read from its
# source (core/decode_kernel.py, decode_xqa); the masked-MHA CTAs get their own per-wave cost.
# On H100 (SM90) an fp8 cache runs XQA's GMMA kernel, 3 or 2 CTAs per SM (decode_xqa_sm90).
TRTLLM = {"decode_max_group": 32.0, "decode_xqa": 1.0}
RULES = {("a100", "vllm"): {"decode_split_mha": 0.0}, ("h100", "vllm"): {},
         ("a100", "trtllm"): TRTLLM, ("h100", "trtllm"): {**TRTLLM, "decode_xqa_sm90": 1.0}}


def medians(frame, hw, p, by_engine=None) -> dict[str, float]:  # noqa: ANN001
    pred, bound = kt.predict(frame, hw, p, by_engine)
    err = np.abs(pred - frame["measured_s"].to_numpy()) / frame["measured_s"].to_numpy()
    big = bound >= kt.SMALL_S
    out = {"all": float(np.median(err[big]))}
    for e in sorted(set(kt.engine_of(frame))):
        out[e] = float(np.median(err[big & (kt.engine_of(frame) == e)]))
    return out


def _flag(v: float) -> str:
    return "true" if v > 0 else "false"


def block(p: eff.KernelParams, rules: dict[str, float]) -> str:
    lines = []
    for name in kt.GROUPS["decode"][1] + kt.DECODE_RULES:
        v = getattr(p, name)
        if name in kt.DECODE_RULES:
            if name in rules:
                lines.append(f"    {name}: {int(v) if name == 'decode_max_group' else _flag(v)}")
            continue
        if name in kt.ONLY_WITH and not rules.get(kt.ONLY_WITH[name]):
            continue
        lines.append(kt.yaml_line(name, v, "    "))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", type=Path, default=DEFAULT)
    root = ap.parse_args().tables
    np.seterr(all="ignore")
    for d, (folder, hw_id) in DEVICES.items():
        hw = load_hardware(hw_id)
        files = sorted((root / folder / "attention").glob("*/*/generation_attention_perf.csv.gz"))
        frame = kt.read_tables(files)
        held = kt.held_out(frame)
        base = eff.params_of(hw.kernel_params)
        device = kt.fit_decode(frame[~held], hw, base)
        engines = {}
        for e in ("vllm", "trtllm"):
            rows = frame[~held & (kt.engine_of(frame) == e)]
            engines[e] = kt.fit_decode(rows, hw, base, RULES[(d, e)])
        test = frame[held]
        print(f"\n## {d}: generation_attention, held-out median |error| (bound >= 10 us)")
        for label, p, by in (("device", device, None), ("engine", device, engines),
                             ("shipped", base, {e: eff.params_of(k) for e, k in
                                                hw.kernel_params_by_engine.items()})):
            m = medians(test, hw, p, by)
            print(f"  {label:8s} " + "  ".join(f"{k} {v:.1%}" for k, v in m.items()))
        print(f"\n{hw_id} kernel_efficiency decode figures (device set):")
        print(block(device, {}).replace("    ", "  "))
        print(f"{hw_id} decode_kernel_by_engine:")
        for e, p in engines.items():
            print(f"  {e}:\n{block(p, RULES[(d, e)])}")


if __name__ == "__main__":
    main()
