"""Term-by-term effect of the llm-viewer convention on LLaVA-1.5-7B (docs/methodology.md).

    python3 -m benchmarks.llm_viewer_terms [MODEL] [HARDWARE]

Prefill of 576 visual + 64 text tokens, batch 1, fp16, eager attention, on LLM-Viewer's A100 80GB
figures. Without the zoo config it uses the Vicuna-7B LLM dimensions of llava-hf/llava-1.5-7b-hf.
"""

from __future__ import annotations

import sys

from costmodel.analysis.estimate import estimate
from costmodel.errors import CostmodelError
from costmodel.loading.load import load_model
from costmodel.specs.model import LLMSpec, ModelSpec

GROUPS = {  # term -> operator-name endings under (costmodel, llm-viewer)
    "linears (q k v o gate up down)": (("/q", "/k", "/v", "/o", "/gate", "/up", "/down"),) * 2,
    "attention QK, softmax, PV": (("/qk", "/softmax", "/pv", "/flash"),
                                  ("/qk_matmul", "/softmax", "/sv_matmul", "/fused_attention")),
    "norms": (("_norm",), ("_norm",)),
    "MLP activation": (("/act",), ("/mlp_act",)),
    "residual adds": (("/residual",), ("_add",)),
    "lm_head": (("lm_head",), ("lm_head",)),
    "embedding + RoPE": (("/embed", "/rope"), ("/embed", "/rope")),
}


def spec(name: str) -> ModelSpec:
    try:
        return load_model(name)
    except CostmodelError:
        return ModelSpec(name="vicuna-7b (llava-1.5-7b LLM)",
                         llm=LLMSpec(hidden_size=4096, num_layers=32, num_heads=32, num_kv_heads=32,
                                     intermediate_size=11008, vocab_size=32000))


def prefill_flops(est, ends: tuple[str, ...]) -> float:
    return sum(float(c.flops.reshape(-1)[0]) for c in est.evaluation.op_costs
               if c.op.stage == "prefill" and c.op.name.endswith(ends))


def main(model: str = "llava-1.5-7b", hw: str = "llm-viewer-a100-80gb") -> None:
    m = spec(model)
    kw = dict(visual_tokens=576, text_tokens=64, output_tokens=2, act_dtype="fp16",
              flash_attention=False)
    cm = estimate(m, hw, convention="costmodel", **kw)
    lv = estimate(m, hw, convention="llm-viewer", **kw)
    print(f"{m.name} on {hw}: prefill of 640 tokens, batch 1, fp16, eager attention")
    print(f"{'term':34s} {'costmodel GFLOP':>16s} {'llm-viewer GFLOP':>17s}")
    for term, (a, b) in GROUPS.items():
        print(f"{term:34s} {prefill_flops(cm, a) / 1e9:16.2f} {prefill_flops(lv, b) / 1e9:17.2f}")
    for label, e in (("costmodel", cm), ("llm-viewer", lv)):
        s, mem = e.stages["prefill"], e.memory
        print(f"{label:11s} prefill {s.flops / 1e12:.3f} TFLOP (useful {s.useful_flops / 1e12:.3f}), "
              f"{s.bytes / 1e9:.2f} GB, {s.latency_s * 1e3:.2f} ms; TTFT {e.ttft_s * 1e3:.2f} ms; "
              f"memory {mem.weights_bytes / 1e9:.2f} + {mem.kv_cache_bytes / 1e9:.3f} + "
              f"{mem.activation_bytes / 1e9:.3f} GB")


if __name__ == "__main__":
    main(*sys.argv[1:3])
