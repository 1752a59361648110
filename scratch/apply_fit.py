"""Apply fit_attention_kernels.py output blocks to the profiles (and copy to derived ones)."""
import re, sys
out = open(sys.argv[1]).read()
def blocks(hw):
    sec = out.split(f"{hw} kernel_efficiency attention figures (device set):\n")[1]
    vals = re.findall(r"^\s+(attention_\w+): (\S+)$", sec, re.M)[:18]
    return vals  # device 6, vllm 6, trtllm 6 in order
def apply(path, vals):
    lines = open(path).read().split("\n")
    seen = {}
    for n, l in enumerate(lines):
        m = re.match(r"^(\s*)(attention_(?:fraction|tile_us|fixed_us|io_flop_per_byte|overlap|exp_overlap)): (\S+)$", l)
        if m:
            k = m.group(2); i = seen.get(k, 0); seen[k] = i + 1
            cand = [v for kk, v in vals if kk == k]
            lines[n] = f"{m.group(1)}{k}: {cand[i]}"
    assert all(v == 3 for v in seen.values()), (path, seen)
    open(path, "w").write("\n".join(lines))
for src, derived in (("a100-80gb", ("a100-40gb", "a100-80gb-pcie")), ("h100-sxm", ("h100-pcie", "h200"))):
    v = blocks(src)
    for p in (src,) + derived:
        apply(f"hardware_profiles/{p}.yaml", v)
