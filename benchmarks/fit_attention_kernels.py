"""Prefill (context) attention: the device's figures and each engine's, fitted and held out.

    python benchmarks/fit_attention_kernels.py [--tables ../shared/measurements/aiconfigurator]

For A100 SXM and H100 SXM (aiconfigurator tables, vLLM and TensorRT-LLM), fits the prefill
attention figures of costmodel/core/efficiency.py (attention_fraction, _tile, _fixed,
_memory_fraction, _overlap and attention_exp_overlap: the softmax exponentials on the SFU at the
profile's `flop_per_exp`) on the even-hash half of the context-attention rows
(kernel_tables.held_out is False) and reports |predicted - measured| / measured on the odd
half over rows whose bound is >= 10 us, per engine, and the H100 ViT (encoder) rows, which no
fit sees:
  device   one set for both frameworks: the profile's `kernel_efficiency` attention figures
  engine   one set per framework: the profile's `attention_kernel_by_engine.<engine>`
  shipped  what the profiles now give (`validate --kernels` does the same per row)
Prints the fitted blocks in the profiles' YAML units; every other figure stays as shipped.
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


def medians(frame, hw, p, by_engine=None) -> dict[str, float]:  # noqa: ANN001
    pred, bound = kt.predict(frame, hw, p, by_engine)
    err = np.abs(pred - frame["measured_s"].to_numpy()) / frame["measured_s"].to_numpy()
    big = bound >= kt.SMALL_S
    ctx = (frame["kind"] == "context_attention").to_numpy()
    out = {"context": float(np.median(err[big & ctx]))}
    for e in sorted(set(kt.engine_of(frame[ctx]))):
        out[e] = float(np.median(err[big & ctx & (kt.engine_of(frame) == e)]))
    enc = (frame["kind"] == "encoder_attention").to_numpy()
    if enc.any():
        out["encoder"] = float(np.median(err[big & enc]))
    return out


def block(p: eff.KernelParams, indent: str) -> str:
    lines = []
    for name in kt.GROUPS["attention"][1]:
        v = getattr(p, name)
        key = name[:-2] + "_us" if name.endswith("_s") else name
        lines.append(f"{indent}{key}: {v * 1e6 if name.endswith('_s') else v:.4g}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", type=Path, default=DEFAULT)
    root = ap.parse_args().tables
    np.seterr(all="ignore")
    for d, (folder, hw_id) in DEVICES.items():
        hw = load_hardware(hw_id)
        files = sorted((root / folder).glob("*attention/*/*/c*_attention_perf.csv.gz"))
        files += sorted((root / folder).glob("encoder_attention/*/*/*_perf.csv.gz"))
        frame = kt.read_tables(files)
        held = kt.held_out(frame)
        base = eff.params_of(hw.kernel_params)
        device = kt.fit_attention(frame[~held], hw, base)
        engines = {e: kt.fit_attention(frame[~held & (kt.engine_of(frame) == e)], hw, base)
                   for e in ("vllm", "trtllm")}
        test = frame[held]
        print(f"\n## {d}: prefill attention, held-out median |error| (bound >= 10 us)")
        shipped = {e: eff.params_of(k) for e, k in hw.kernel_params_by_engine.items()}
        for label, p, by in (("device", device, None), ("engine", device, engines),
                             ("shipped", base, shipped)):
            m = medians(test, hw, p, by)
            print(f"  {label:8s} " + "  ".join(f"{k} {v:.1%}" for k, v in m.items()))
        print(f"\n{hw_id} kernel_efficiency attention figures (device set):")
        print(block(device, "  "))
        print(f"{hw_id} attention_kernel_by_engine:")
        for e, p in engines.items():
            print(f"  {e}:\n{block(p, '    ')}")


if __name__ == "__main__":
    main()
