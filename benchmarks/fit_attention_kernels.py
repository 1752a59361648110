"""Prefill (context) attention: the device's figures and each engine's, fitted and held out.

    python benchmarks/fit_attention_kernels.py [--tables ../shared/measurements/aiconfigurator]
                                               [--no-exp]

For A100 SXM and H100 SXM (aiconfigurator tables, vLLM and TensorRT-LLM), fits the prefill
attention figures of costmodel/core/efficiency.py (attention_fraction, _tile, _fixed,
_io_flop_per_byte, _overlap and attention_exp_overlap: the softmax exponentials on the SFU at the
profile's `flop_per_exp`) on the even-hash half of the context-attention rows
(kernel_tables.held_out is False, over all the device's tables read together, as
`validate --kernels` with the documented file list) and reports |predicted - measured| / measured on the odd
half over rows whose bound is >= 10 us, per engine, and the H100 ViT (encoder) rows, which no
fit sees:
  device   one set for both frameworks: the profile's `kernel_efficiency` attention figures
  engine   one set per framework: the profile's `attention_kernel_by_engine.<engine>`
  shipped  what the profiles now give (`validate --kernels` does the same per row)
Prints the fitted blocks in the profiles' YAML units; every other figure stays as shipped.
Also prints, from the tables and the shipped figures: the median achieved TFLOP/s of large
context calls per engine, head_dim, window and dtypes; the ViT rows' time above the model in
whole ~0.75 ms quanta (pauses), and the held-out ViT error with and without them; the ViT rows
of equal work split differently between batch and heads, and the (head_dim 64, heads 2) block,
which has no pauses; vLLM's long context rows' median residual (no such pauses there).
--no-exp fits and reports without the exponential term (the profile's flop_per_exp dropped),
the comparison in docs/validation.md, "Prefill attention".
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


def throughput(frame) -> None:  # noqa: ANN001
    """Median achieved TFLOP/s (useful FLOPs / measured time) of the context calls of more
    than 0.5 TFLOP, per engine, head_dim, window and dtypes."""
    f = frame[frame["kind"] == "context_attention"]
    win = f["window_size"].fillna(0.0) if "window_size" in f else 0.0 * f["isl"]
    flops = eff.attention_flops(f["batch_size"], f["isl"], f["isl"], f["num_heads"],
                                f["head_dim"], True, win)
    g = f.assign(tflops=flops / f["measured_s"] / 1e12, window=win)[flops > 5e11]
    keys = ["framework", "head_dim", "window", "attn_dtype", "kv_cache_dtype"]
    print("  median TFLOP/s of context calls > 0.5 TFLOP (rows):")
    for k, t in g.groupby(keys)["tflops"]:
        print(f"    {' '.join(str(x) for x in k)}: {t.median():.0f} ({t.size})")


def vit_pauses(frame, hw, p, by, quantum_s: float = 0.75e-3) -> None:  # noqa: ANN001
    """The ViT rows' time above the model in whole quanta (docs/validation.md)."""
    f = frame[frame["kind"] == "encoder_attention"]
    if not len(f):
        return
    pred, bound = kt.predict(f, hw, p, by)
    meas = f["measured_s"].to_numpy()
    q = np.round((meas - pred) / quantum_s)
    k = (q >= 1) & (q <= 12)
    per = (meas - pred)[k] / q[k]
    kern = pred[k] / q[k]
    print(f"  ViT: (measured - predicted) / quanta: median {np.median(per) * 1e3:.2f} ms "
          f"(quartiles {np.quantile(per, 0.25) * 1e3:.2f}-{np.quantile(per, 0.75) * 1e3:.2f}); "
          f"predicted ms per quantum: median {np.median(kern) * 1e3:.2f} (quartiles "
          f"{np.quantile(kern, 0.25) * 1e3:.2f}-{np.quantile(kern, 0.75) * 1e3:.2f})")
    err = np.abs(pred - meas) / meas
    held = kt.held_out(f) if "held" not in f else f["held"].to_numpy()
    for label, m in (("no quantum", q <= 0), ("one or more", q >= 1)):
        m = m & (bound >= kt.SMALL_S) & held
        print(f"  ViT held-out rows (bound >= 10 us) with {label}: {int(m.sum())}, median "
              f"|error| {np.median(err[m]):.1%}, signed {np.median(((pred - meas) / meas)[m]):+.1%}")
    print(f"  ViT: smallest predicted time of a row with a quantum {pred[q >= 1].min() * 1e3:.2f} ms")
    vit_equal_work(f, pred, err, (bound >= kt.SMALL_S) & held)


def vit_equal_work(f, pred, err, test) -> None:  # noqa: ANN001
    """Rows of equal work at head_dim 64 (isl, batch * heads: the same FlashAttention tiles
    and FLOPs) split differently between batch and heads, against the heads = 2 row; and the
    (head_dim 64, heads 2) block, which carries no pauses (docs/validation.md)."""
    meas = f["measured_s"].to_numpy()
    d, h = f["head_dim"].to_numpy(), f["num_heads"].to_numpy()
    key = np.stack([f["isl"].to_numpy(), f["batch_size"].to_numpy() * h], axis=1)
    for lo, hi in ((0.6e-3, np.inf), (0.05e-3, 0.25e-3)):
        ratios, sel = [], (d == 64) & (pred > lo) & (pred < hi)
        for k in np.unique(key[sel], axis=0):
            m = (key == k).all(axis=1) & sel
            two = m & (h == 2)
            if two.sum() == 1 and m.sum() > 1:
                ratios.extend(meas[m & (h != 2)] / meas[two][0])
        r = np.array(ratios)
        print(f"  ViT equal work at head_dim 64, predicted {lo * 1e3:.2f}-{hi * 1e3:.2f} ms: "
              f"measured / measured at heads 2: median {np.median(r):.2f} (quartiles "
              f"{np.quantile(r, 0.25):.2f}-{np.quantile(r, 0.75):.2f}; {r.size} rows)")
    ex = (d == 64) & (key == (12288, 16)).all(axis=1)
    print("  ViT e.g. head_dim 64, isl 12288, batch * heads 16: " + ", ".join(
        f"heads {int(x)} {y * 1e3:.2f} ms" for x, y in sorted(zip(h[ex], meas[ex], strict=True))))
    blk = (d == 64) & (h == 2)
    for label, m in (("head_dim 64, heads 2", blk), ("all other blocks", ~blk)):
        long = m & (pred > 0.6e-3)
        print(f"  ViT {label}: predicted > 0.6 ms: median measured / predicted "
              f"{np.median(meas[long] / pred[long]):.2f} ({int(long.sum())} rows); held-out "
              f"(bound >= 10 us) median |error| {np.median(err[m & test]):.1%} "
              f"({int((m & test).sum())} rows)")


def block(p: eff.KernelParams, indent: str) -> str:
    return "\n".join(kt.yaml_line(n, getattr(p, n), indent) for n in kt.GROUPS["attention"][1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", type=Path, default=DEFAULT)
    ap.add_argument("--no-exp", action="store_true", help="no softmax exponential term")
    args = ap.parse_args()
    root = args.tables
    np.seterr(all="ignore")
    for d, (folder, hw_id) in DEVICES.items():
        hw = load_hardware(hw_id)
        if args.no_exp:
            hw = hw.model_copy(update={"exp_per_s": None})
        # every table of the device, as validate --kernels and kernel_crossdevice.py read them:
        # kt.held_out hashes the columns as the joined frame holds them (ints become floats
        # beside other kinds), so the halves are the same only for the same set of tables
        files = [f for f in sorted((root / folder).glob("*/*/*/*_perf.csv.gz"))
                 if "nccl" not in f.name]
        frame = kt.read_tables(files)
        held = kt.held_out(frame)
        frame, held = frame[frame["kind"] != "gemm"], held[(frame["kind"] != "gemm").to_numpy()]
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
        throughput(frame)
        vit_pauses(frame.assign(held=held), hw, base, shipped)
        ctx = frame[(frame["kind"] == "context_attention") & (kt.engine_of(frame) == "vllm")]
        pred, _ = kt.predict(ctx, hw, base, shipped)
        long = ctx["measured_s"].to_numpy() > 0.5e-3
        rel = (ctx["measured_s"].to_numpy() - pred) / ctx["measured_s"].to_numpy()
        print(f"  vLLM context rows > 0.5 ms: median (measured - predicted) / measured "
              f"{np.median(rel[long]):+.1%} ({int(long.sum())} rows)")
        print(f"\n{hw_id} kernel_efficiency attention figures (device set):")
        print(block(device, "  "))
        print(f"{hw_id} attention_kernel_by_engine:")
        for e, p in engines.items():
            print(f"  {e}:\n{block(p, '    ')}")


if __name__ == "__main__":
    main()
