"""LLM-Viewer's counting conventions, reimplemented (pure: no I/O).

Source of every rule below: hahnyuan/LLM-Viewer (Yuan et al., "LLM Inference Unveiled: Survey and
Roofline Model Insights", arXiv 2402.16363), `model_analyzer.py` at commit 01b269d6 (`analyze`),
the Llama layer list of `configs/Llama.py` and its `post_process` lm_head, and
`hardwares/hardware_params.py` at commit f307ca5a. Term by term in docs/methodology.md,
section "LLM-Viewer convention". LLM-Viewer calls its counts "OPs"; here they are FLOPs.

Per decoder layer, B sequences of q new tokens over k keys, R = B*q rows, h hidden, H heads,
G KV heads, d = h/H, I MLP size, bytes per element w (weights), a (activations), c (KV cache):
- q, o: R x h -> h; k, v: R x h -> h*G/H (output to the KV cache); gate, up: h -> I; down: I -> h.
  FLOPs 2*R*in*out; weights in*out*w (no bias); reads R*in*a; writes R*out*a (or *c to the cache).
- qk: 2*B*H*d*q*k FLOPs; writes B*H*q*k*a; prefill reads 2*k*d*B*G*c (Q counted as a cache
  read) and no activations; decode reads q*d*B*H*a and k*d*B*G*c.
- softmax: 5*B*H*q*k FLOPs, reads and writes B*H*q*k*a.  sv: 2*B*H*d*q*k FLOPs, reads
  B*H*q*k*a + k*d*B*G*c, writes q*d*B*H*a.  The full q x k square in prefill (no causal half).
- FlashAttention: one op with the three FLOP counts; reads q*d*B*H*a and ceil(q/d)*k*d*B*H*c
  (H, not G); writes 2*q*k*B*H*a. LLM-Viewer's row block is min(ceil(buffer/(c*d)), d), which is
  d on every device in its table (buffer >= 20 MB), so the buffer figure is not needed.
- attn_norm, mlp_norm: 7*R*h FLOPs, reads and writes R*h*a, no weights.
- attn_add, mlp_add: R*h FLOPs, reads and writes R*h*a.  mlp_act: 2*R*h FLOPs (hidden size,
  not I), reads 2*R*h*a, writes R*h*a.
- lm_head, once per stage: B*h*V FLOPs (multiply-accumulates), weights h*V*w, reads h*a,
  writes V*a (one row, not B). No embedding, final norm, RoPE, vision encoder or projector.
All work is matmul FLOPs at one peak (LLM-Viewer has no separate vector rate).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from costmodel.core.inputs import Options, Points, Precision
from costmodel.core.metrics import Footprint
from costmodel.core.ops import Arr, Op, OpClass
from costmodel.core.roofline import Rates
from costmodel.core.stages import kv_groups, layer_groups
from costmodel.errors import CostmodelError
from costmodel.specs.compression import as_plan
from costmodel.specs.engine import Engine
from costmodel.specs.hardware import HardwareProfile
from costmodel.specs.model import LLMSpec, ModelSpec
from costmodel.specs.workload import Workload
from costmodel.units import DType

SOFTMAX_OPS = 5.0  # max, sub, exp, sum, div (LLM-Viewer's comment)
NORM_OPS = 7.0  # sum, sub, pow, sum, div, mul, add
ACT_OPS = 2.0
ADD_OPS = 1.0


def _op(name: str, stage: str, cls: OpClass, flops: Arr, weight: Arr | float = 0.0,
        act_read: Arr | float = 0.0, act_write: Arr | float = 0.0, kv_read: Arr | float = 0.0,
        kv_write: Arr | float = 0.0) -> Op:
    f = np.asarray(flops, dtype=float)
    z = np.zeros_like(f)
    return Op(name=name, stage=stage, op_class=cls, matmul_flops=f, vector_flops=z,
              useful_flops=f, weight_bytes=weight + z, act_read_bytes=act_read + z,
              act_write_bytes=act_write + z, kv_read_bytes=kv_read + z, kv_write_bytes=kv_write + z)


def linear_shapes(m: LLMSpec) -> dict[str, tuple[float, float]]:
    """(in, out) per linear of LLM-Viewer's Llama layer (q and o are h x h)."""
    h, i = m.hidden_size, m.intermediate_size
    kv = h * m.num_kv_heads / m.num_heads
    return {"q": (h, h), "k": (h, kv), "v": (h, kv), "o": (h, h),
            "gate": (h, i), "up": (h, i), "down": (i, h)}


def _linears(m: LLMSpec, pre: str, stage: str, rows: Arr, p: Precision) -> list[Op]:
    ops = []
    for n, (d_in, d_out) in linear_shapes(m).items():
        to_cache = n in ("k", "v")
        ops.append(_op(f"{pre}/{n}", stage, "linear", 2.0 * rows * d_in * d_out,
                       d_in * d_out * p.weight_bytes_per_element, rows * d_in * p.act_bytes_per_element,
                       0.0 if to_cache else rows * d_out * p.act_bytes_per_element,
                       kv_write=rows * d_out * p.kv_bytes_per_element if to_cache else 0.0))
    return ops


def _attention(m: LLMSpec, pre: str, stage: str, b: Arr, q: Arr, k: Arr, p: Precision,
               flash: bool) -> list[Op]:
    H, G = m.num_heads, m.num_kv_heads
    d = m.hidden_size // H
    mm = 2.0 * b * H * d * q * k  # each of QK^T and SV: the full q x k rectangle
    scores = b * H * q * k * p.act_bytes_per_element
    sm = SOFTMAX_OPS * b * H * q * k
    if flash:
        blocks = np.ceil(np.asarray(q, dtype=float) / d)  # row block = d (module docstring)
        return [_op(f"{pre}/fused_attention", stage, "attention", 2.0 * mm + sm,
                    act_read=q * d * b * H * p.act_bytes_per_element, act_write=2.0 * scores,
                    kv_read=blocks * k * d * b * H * p.kv_bytes_per_element)]
    cache = k * d * b * G * p.kv_bytes_per_element
    if stage == "prefill":
        qk = _op(f"{pre}/qk_matmul", stage, "attention", mm, act_write=scores, kv_read=2.0 * cache)
    else:
        qk = _op(f"{pre}/qk_matmul", stage, "attention", mm, act_read=q * d * b * H * p.act_bytes_per_element,
                 act_write=scores, kv_read=cache)
    return [
        qk,
        _op(f"{pre}/softmax", stage, "attention", sm, act_read=scores, act_write=scores),
        _op(f"{pre}/sv_matmul", stage, "attention", mm, act_read=scores,
            act_write=q * d * b * H * p.act_bytes_per_element, kv_read=cache),
    ]


def layer_ops(m: LLMSpec, stage: str, b: Arr, q: Arr, k: Arr, p: Precision, flash: bool,
              layers: tuple[int, int]) -> list[Op]:
    """One decoder layer (count = layers in the group) under LLM-Viewer's conventions."""
    lo, hi = layers
    pre = f"llm/L{lo}" if hi - lo == 1 else f"llm/L{lo}-{hi - 1}"
    rows, h = b * q, m.hidden_size
    vec = rows * h * p.act_bytes_per_element
    ops = _linears(m, pre, stage, rows, p) + _attention(m, pre, stage, b, q, k, p, flash)
    for n in ("attn_norm", "mlp_norm"):
        ops.append(_op(f"{pre}/{n}", stage, "norm", NORM_OPS * rows * h, act_read=vec, act_write=vec))
    for n in ("attn_add", "mlp_add"):
        ops.append(_op(f"{pre}/{n}", stage, "elementwise", ADD_OPS * rows * h, act_read=vec,
                       act_write=vec))
    ops.append(_op(f"{pre}/mlp_act", stage, "activation", ACT_OPS * rows * h,
                   act_read=2.0 * vec, act_write=vec))
    return [Op(**{**o.__dict__, "count": hi - lo, "first_layer": lo}) for o in ops]


def lm_head(m: LLMSpec, stage: str, b: Arr, p: Precision) -> Op:
    h, v = m.hidden_size, m.vocab_size
    return _op("llm/lm_head", stage, "lm_head", b * h * v, h * v * p.weight_bytes_per_element,
               h * p.act_bytes_per_element, v * p.act_bytes_per_element)


def prefill_ops(spec: ModelSpec, pts: Points, p: Precision, flash: bool) -> list[Op]:
    m, b = spec.llm, pts.batch
    ops = [o for lo, hi, s in layer_groups(m, pts)
           for o in layer_ops(m, "prefill", b, s, s, p, flash, (lo, hi))]
    return ops + [lm_head(m, "prefill", b, p)]


def decode_ops(spec: ModelSpec, pts: Points, step: Arr | float, p: Precision,
               flash: bool) -> list[Op]:
    """Decode step `step` (0-based) at LLM-Viewer's decode `seqlen` = prompt + step keys, so
    output N (N - 1 steps) equals LLM-Viewer's analyze_generate_task(prompt, gen_len=N - 1)."""
    m, b = spec.llm, pts.batch
    ops = [o for lo, hi, s in kv_groups(m, pts)  # KV-cache compression: the kept tokens
           for o in layer_ops(m, "decode", b, s * 0 + 1.0, s + step, p, flash, (lo, hi))]
    return ops + [lm_head(m, "decode", b, p)]


def stage_ops(spec: ModelSpec, pts: Points, p: Precision, flash: bool) -> dict[str, list[Op]]:
    """LLM-Viewer analyses the language model only: vision and projector stages are empty."""
    if spec.llm.moe is not None:  # its Llama layer list has one dense MLP of intermediate_size
        raise CostmodelError("convention: llm-viewer counts dense decoders only; this model has "
                             "mixture-of-experts layers (use --convention costmodel)")
    return {"vision": [], "projector": [], "prefill": prefill_ops(spec, pts, p, flash)}


def memory_bytes(spec: ModelSpec, pts: Points, p: Precision, flash: bool) -> tuple[Arr, Arr, Arr]:
    """LLM-Viewer's prefill memory footprint: (weights, KV cache, temporary activations).

    weights = layers x linear weights (no embedding, lm_head or norms); KV cache = the prefill's
    cache writes (prompt tokens only); activations = the sum of one layer's prefill outputs."""
    m = spec.llm
    per_layer = sum(i * o for i, o in linear_shapes(m).values()) * p.weight_bytes_per_element
    weights = m.num_layers * per_layer + 0.0 * pts.batch
    layers = [layer_ops(m, "prefill", pts.batch, s, s, p, flash, (lo, hi))
              for lo, hi, s in layer_groups(m, pts)]
    kv = np.asarray(sum(o.count * o.kv_write_bytes for ops in layers for o in ops))
    act = np.maximum.reduce([np.asarray(sum(o.act_write_bytes for o in ops)) for ops in layers])
    return weights, kv, act


def math_peak(h: HardwareProfile, dtypes: Sequence[DType]) -> float:
    """LLM-Viewer's peak: its INT8 figure when weights, activations and KV are all <= 8 bits,
    else its FP16 figure (bf16 where a profile has no fp16)."""
    if all(d.bytes_per_element <= 1.0 for d in dtypes):
        return h.peak_flops_per_s(DType.int8)
    return h.peak_flops_per_s(DType.fp16 if h.supports(DType.fp16) else DType.bf16)


def bare_rates(profiles: Sequence[HardwareProfile], dtypes: Sequence[DType]) -> Rates:
    """LLM-Viewer's roofline: time = OPs / min(peak, intensity * bandwidth) = max(OPs / peak,
    bytes / bandwidth) per op; no efficiency factors, no launch overhead, one peak for all ops."""
    peak = np.array([math_peak(h, dtypes) for h in profiles])
    bw = np.array([h.memory_bytes_per_s for h in profiles])
    return Rates(peak, peak, peak, bw, np.zeros_like(bw))


def _at(x: Arr | float, i: int) -> float:
    a = np.asarray(x, dtype=float).reshape(-1)
    return float(a[0] if a.size == 1 else a[i])


def prefill_traffic(costs: Sequence[Any], i: int = 0) -> dict[str, float]:
    """LLM-Viewer's split of the prefill traffic for point i, under its names with base units:
    every layer (x count) plus the lm_head. Their sum is the stage's bytes (LLM-Viewer's
    memory_access, printed by papers as 'Total Memory'); store_act is their 'Storing
    Activation' (docs/methodology.md)."""
    pre = [c.op for c in costs if c.op.stage == "prefill"]

    def total(field: str) -> float:
        return sum(o.count * _at(getattr(o, field), i) for o in pre)

    return {"load_weight_bytes": total("weight_bytes"), "load_act_bytes": total("act_read_bytes"),
            "store_act_bytes": total("act_write_bytes"), "load_kv_cache_bytes": total("kv_read_bytes"),
            "store_kv_cache_bytes": total("kv_write_bytes")}


class LLMViewerConvention:
    """LLM-Viewer's count (module docstring): the ideal roofline on its own device figures,
    LLM-only operators, its memory footprint; single GPU, roofline overlap, last-token logits."""

    name = "llm-viewer"
    default_engine = "ideal"  # LLM-Viewer computes the roofline bound
    default_flash: bool | None = False  # LLM-Viewer's `analyze` defaults to use_flashattention=False

    def check(self, w: Workload, engine: Engine) -> None:
        if w.overlap != "roofline":
            raise CostmodelError(f"overlap: llm-viewer uses the roofline max; drop "
                                 f"overlap='{w.overlap}' (or use --convention costmodel)")
        if w.logits != "last":
            raise CostmodelError(f"logits: llm-viewer computes last-token logits; drop "
                                 f"logits='{w.logits}' (or use --convention costmodel)")
        if w.parallel.gpus > 1:
            raise CostmodelError("convention: llm-viewer models one GPU; drop --tp/--pp/--ep "
                                 "(or use --convention costmodel)")
        plan = as_plan(w.compression)
        if plan is not None and plan.sparse_decode is not None:
            raise CostmodelError("compression.sparse_decode: llm-viewer has no sparse decode "
                                 "attention; drop it (or use --convention costmodel)")
        if plan is not None and plan.kv is not None and plan.kv.during_decode:
            raise CostmodelError("compression.kv.policy: llm-viewer has no rolling KV cache; "
                                 "drop ':rolling' (or use --convention costmodel)")
        if w.custom_weight_group:
            # set by --weight-group(-bytes) or by a quantised config.json (analysis/weights.py)
            raise CostmodelError("convention: llm-viewer counts w_bit / 8 bytes per weight, "
                                 "with no group scales; int4 groups (a quantised config.json's "
                                 "or --weight-group/--weight-group-bytes) need --convention "
                                 "costmodel, or drop the group options")
        if w.weights is not w.act_dtype and not {"layers", "lm_head"} <= set(w.parts):
            # the weights it counts (decoder linears, lm_head; no vision encoder, no embedding
            # table: memory_bytes, stage_ops) are all in its w_bit
            raise CostmodelError("weight_parts: llm-viewer counts the decoder layers and the "
                                 "lm_head in one w_bit; name layers and lm_head in "
                                 "--weight-parts (or use --convention costmodel)")
        if engine.kernels != "bound" or engine.launch_per_kernel or engine.step_overhead_s:
            raise CostmodelError(f"engine: llm-viewer computes the roofline bound ('ideal'), not "
                                 f"'{engine.id}'; drop --engine (or use --convention costmodel)")

    def precision(self, w: Workload, engine: Engine) -> Precision:
        """w_byte = w_bit / 8 and no dequantisation work."""
        return Precision(weight_bytes_per_element=w.weights.bytes_per_element,
                         act_bytes_per_element=w.act_dtype.bytes_per_element,
                         kv_bytes_per_element=w.kv.bytes_per_element)

    def rates(self, profiles: Sequence[HardwareProfile], dtypes: Sequence[DType],
              w: Workload, engine: Engine) -> Rates:
        return bare_rates(profiles, (w.weights, w.act_dtype, w.kv))

    def bound_rates(self, profiles: Sequence[HardwareProfile], dtypes: Sequence[DType],
                    w: Workload) -> Rates:
        return bare_rates(profiles, (w.weights, w.act_dtype, w.kv))

    def stage_ops(self, spec: ModelSpec, pts: Points, p: Precision,
                  o: Options) -> dict[str, list[Op]]:
        if spec.llm.cross_attention_layers:
            raise CostmodelError("convention: llm-viewer has no cross-attention layers "
                                 "(Llama-3.2-Vision); use --convention costmodel")
        return stage_ops(spec, pts, p, o.flash)

    def decode_ops(self, spec: ModelSpec, pts: Points, step: Arr | float, p: Precision,
                   o: Options) -> list[Op]:
        return decode_ops(spec, pts, step, p, o.flash)

    def decode_knees(self, spec: ModelSpec, pts: Points) -> list[Arr]:
        """None: its decode keys are prompt + step in every layer (affine; no caps)."""
        return []

    def footprint(self, spec: ModelSpec, gpu: ModelSpec, pts: Points, p: Precision, o: Options,
                  activation_bytes: Arr) -> Footprint:
        like = activation_bytes
        weights, kv, act = memory_bytes(spec, pts, p, o.flash)
        weights, kv, act = weights + 0 * like, kv + 0 * like, act + 0 * like
        return Footprint(weights, kv, act, weights, kv)  # one GPU: per GPU = whole

    def extras(self, stages: dict[str, Any], costs: Sequence[Any], i: int) -> dict[str, Any]:
        """LLM-Viewer's prefill totals under its field names (base units); OPs, memory access
        and time are the prefill stage's, the traffic split is per op (prefill_traffic)."""
        p = stages["prefill"]
        return {"llm_viewer": {"prefill": {
            "ops_flops": _at(p.flops, i), "memory_access_bytes": _at(p.bytes, i),
            **prefill_traffic(costs, i), "inference_time_s": _at(p.latency_s, i)}}}


LLM_VIEWER = LLMViewerConvention()
