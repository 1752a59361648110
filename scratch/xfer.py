"""Transfer-only variants (in-device figures are base's: 4.1% / 11.0%)."""
import numpy as np, sys
exec(open("scratch/resid.py").read().split("import pandas")[0])
def peak(d): return HW[d].peak_flops_by_dtype[kt.DType.bf16]
def bw(d): return HW[d].memory_bandwidth_Bps
def persm(d): return peak(d) / HW[d].sm_count
def rep(p, **kw): return eff.KernelParams(**{**vars(p), **kw})
def tile(ratio_fn):
    return lambda p, s, t: rep(p, attention_tile_s=p.attention_tile_s * ratio_fn(s) / ratio_fn(t))
def mem(rate_fn):  # per-byte term's achieved rate scales with rate_fn instead of bandwidth
    return lambda p, s, t: rep(p, attention_memory_fraction=p.attention_memory_fraction * bw(s) / bw(t) * rate_fn(t) / rate_fn(s))
def both(a, b): return lambda p, s, t: b(a(p, s, t), s, t)
ck = lambda d: clock_hz(d)
cksm = lambda d: clock_hz(d) * HW[d].sm_count
V = {"base": lambda p, s, t: p, "tile_clock": tile(ck), "tile_persm": tile(persm),
     "mem_peak": mem(peak), "mem_clocksm": mem(cksm),
     "tile_clock+mem_clocksm": both(tile(ck), mem(cksm)), "tile_persm+mem_peak": both(tile(persm), mem(peak)),
     "fixed_clock": lambda p, s, t: rep(p, attention_fixed_s=p.attention_fixed_s * ck(s) / ck(t))}
for name, tr in V.items():
    r = [med(FR[t], t, tr(PA[s], s, t)) for s, t in (("a100", "h100"), ("h100", "a100"))]
    print(f"{name:28s} a100->h100 {r[0]:.2%}  h100->a100 {r[1]:.2%}", flush=True)
