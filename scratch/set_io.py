"""Replace the three attention_memory_fraction / attention_io_flop_per_byte lines of a profile
(kernel_efficiency, vllm, trtllm in file order) with the given io figures."""
import re, sys
path, vals = sys.argv[1], sys.argv[2:]
lines = open(path).read().split("\n")
i = 0
for n, l in enumerate(lines):
    m = re.match(r"^(\s*)attention_(memory_fraction|io_flop_per_byte): .*$", l)
    if m:
        lines[n] = f"{m.group(1)}attention_io_flop_per_byte: {float(vals[i]):.4g}"
        i += 1
assert i == 3, i
open(path, "w").write("\n".join(lines))
