import numpy as np, sys
sys.argv=[sys.argv[0]]
exec(open("scratch/xdev_variants.py").read().split("# --- variants")[0])
PA = {"a100": eff.KernelParams(**{**vars(BASE["a100"]), "attention_fraction":0.6275,"attention_tile_s":1.21e-6,"attention_fixed_s":10.28e-6,"attention_memory_fraction":0.3873,"attention_overlap":1.156,"attention_exp_overlap":0.7753}),
      "h100": eff.KernelParams(**{**vars(BASE["h100"]), "attention_fraction":1.0,"attention_tile_s":2.098e-6,"attention_fixed_s":11.41e-6,"attention_memory_fraction":0.5452,"attention_overlap":1.504,"attention_exp_overlap":0.8193})}
import pandas as pd
for s,t in (("a100","h100"),("h100","a100"),("a100","a100"),("h100","h100")):
    f = FR[t]
    e, big = errs(f, t, PA[s])
    g = f.assign(err=e)[big]
    g = g.assign(bh=g.batch_size*g.num_heads, sbin=pd.cut(g.isl,[0,512,2048,8192,1e9]), bhbin=pd.cut(g.batch_size*g.num_heads,[0,32,128,512,1e9]))
    print(f"## {s} params -> {t} rows: median signed {g.err.median():+.1%} |.| {g.err.abs().median():.1%}")
    for k in ["eng","head_dim","sbin","bhbin","attn_dtype","kv_cache_dtype"] + (["window_size"] if "window_size" in g else []):
        if k not in g: continue
        print("  ", k, " ".join(f"{a}:{v.median():+.0%}({len(v)})" for a,v in g.groupby(k, observed=True)["err"]))
