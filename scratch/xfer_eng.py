import numpy as np, sys
exec(open("scratch/xfer.py").read().split("for name, tr in V.items()")[0])
def fit(frame, d, fixed):
    fx = {k: v for k, v in vars(BASE[d]).items() if k not in kt.GROUPS["attention"][1]}
    return kt.fit(frame, HW[d], fixed=fx, start=BASE[d])
for _ in ():
    pass
V["mem_fp32"] = mem(lambda d: HW[d].peak_flops_by_dtype[kt.DType.fp32])
V["mem_peak+tile_clock"] = both(mem(peak), tile(ck))
for name in ():
    r = [med(FR[t], t, V[name](PA[s], s, t)) for s, t in (("a100", "h100"), ("h100", "a100"))]
    print(f"{name:28s} a100->h100 {r[0]:.2%}  h100->a100 {r[1]:.2%}", flush=True)
E = {d: {e: fit(FR[d][FR[d]["eng"] == e], d, {}) for e in ("vllm", "trtllm")} for d in DEV}
for name in ("base", "mem_peak", "tile_clock"):
    out = []
    for s, t in (("a100", "h100"), ("h100", "a100")):
        by = {e: V[name](E[s][e], s, t) for e in E[s]}
        out.append(f"{s}->{t} {med(FR[t], t, PA[s], by):.2%} " + " ".join(
            f"{e} {med(FR[t][FR[t]['eng'] == e], t, by[e]):.1%}" for e in by))
    print(f"per-engine {name:12s} " + "  ".join(out), flush=True)
