"""Fused GEMM groups (Engine.fused_gemms, core/ops.fuse_gemms, efficiency.fused_gemm_time_s):
an engine that runs q/k/v (or gate/up) as one GEMM pays one fixed cost, one tile/wave
quantisation and one launch for the group, split across the member operators by output
width; names, FLOPs and bytes stay the model's (docs/methodology.md, "Inference engines")."""

from __future__ import annotations

import json

import numpy as np
import pytest

from costmodel.analysis.estimate import estimate
from costmodel.core.efficiency import Device, KernelParams, fused_gemm_time_s, op_time_s
from costmodel.core.ops import fuse_gemms, linear
from costmodel.errors import CostmodelError
from costmodel.loading.load import load_engine
from costmodel.specs.engine import EngineFile

# 4 SMs, 1 TFLOP/s, 1 TB/s, fractions 1, no per-tile cost, 1 us per kernel, max(compute, memory)
DEV = Device(memory_bytes_per_s=1e12, sm_count=4)
P = KernelParams(gemm_fixed_s=1e-6)
PEAK = 1e12


def _qkv() -> list:
    """16 rows of width 256 into q (256 wide), k and v (128 each); bf16 (2 bytes)."""
    return fuse_gemms("qkv", [linear(f"attn/{x}", "prefill", np.array([16.0]), 256, n, False,
                                     2.0, 2.0) for x, n in (("q", 256), ("k", 128), ("v", 128))])


def test_fused_group_is_one_gemm_of_the_summed_width_by_hand():
    """C[16, 512] = A[16, 256] B[256, 512] on 4 SMs: tile rows 16, tiles 1 x 4 = 4, no split-K
    (k = 256 is one slice), one wave of CTAs of 2*16*128*256 FLOP at 1e12/4 FLOP/s per SM
    = 4.194304 us; memory (16*256 + 256*512 + 16*512) * 2 B / 1e12 B/s = 0.28672 us; so
    t = 4.194304 + 1 (fixed) = 5.194304 us, split 1/2, 1/4, 1/4 by output width."""
    q, k, v = _qkv()
    assert q.fused_n == k.fused_n == v.fused_n == 512.0
    t = [float(fused_gemm_time_s(o, PEAK, 2.0, DEV, P)[0]) for o in (q, k, v)]
    assert t == pytest.approx([2.597152e-6, 1.298576e-6, 1.298576e-6], rel=1e-12)
    assert sum(t) == pytest.approx(5.194304e-6, rel=1e-12)
    # unfused, each of the three is one under-filled wave plus its own fixed cost: 3 x 5.194304 us
    alone = [float(op_time_s(o, DEV, P, PEAK, 2.0)[0]) for o in (q, k, v)]
    assert alone == pytest.approx([5.194304e-6] * 3, rel=1e-12)
    assert [float(op_time_s(o, DEV, P, PEAK, 2.0, fused_gemm=True)[0])
            for o in (q, k, v)] == pytest.approx(t, rel=1e-12)


def test_fusing_keeps_names_flops_and_bytes():
    plain = [linear(f"attn/{x}", "decode", np.array([1.0, 8.0]), 256, n, True, 2.0, 2.0)
             for x, n in (("q", 256), ("k", 128), ("v", 128))]
    for a, b in zip(plain, fuse_gemms("qkv", plain), strict=True):
        assert a.name == b.name and b.fuse == "qkv" and b.gemm_n == a.gemm_n
        assert np.array_equal(a.flops, b.flops) and np.array_equal(a.bytes, b.bytes)
    with pytest.raises(ValueError, match="one input width"):
        fuse_gemms("gate_up", [plain[0], linear("x", "decode", 1.0, 128, 64, False, 2.0, 2.0)])


def test_the_field_defaults_to_none_and_needs_a_source_when_set():
    base = dict(id="e", name="e", kernels="measured", launch_per_kernel=True,
                sources={k: "s" for k in ("kernels", "launch_per_kernel",
                                          "host_overhead_per_kernel_us",
                                          "step_overhead_us", "prefill_overhead_us",
                                          "decode_cuda_graphs", "fused_op_classes")})
    assert EngineFile(**base).fused_gemms == ()
    with pytest.raises(ValueError, match="no source for fused_gemms"):
        EngineFile(**base, fused_gemms=("qkv",))
    f = EngineFile(**{**base, "sources": {**base["sources"], "fused_gemms": "model code"}},
                   fused_gemms=("qkv", "gate_up"))
    assert f.fused_gemms == ("qkv", "gate_up")
    with pytest.raises(ValueError):
        EngineFile(**base, fused_gemms=("qk",))


def test_which_engines_fuse_what():
    """Read from each engine's model code (the sources in costmodel/engines/*.yaml)."""
    want = {"vllm": {"qkv", "gate_up"}, "sglang": {"qkv", "gate_up"},
            "trtllm": {"qkv", "gate_up"}, "trtllm-0.6": {"qkv"}, "torch-compile": {"qkv"},
            "mlc": {"qkv", "gate_up"}, "hf-eager": set(), "llama.cpp": set(),
            "torch-eager": set(), "torch-cuda-graph": set(), "ideal": set()}
    assert {n: set(load_engine(n).fused_gemms) for n in want} == want


def test_a_fused_group_pays_one_launch():
    e = load_engine("vllm")
    q, k, v = _qkv()
    shares = [e.fused_share(o.fuse, o.gemm_n, o.fused_n) for o in (q, k, v)]
    assert shares == [0.5, 0.25, 0.25]
    assert sum(e.launches("prefill", "linear", s) for s in shares) == 1.0
    assert load_engine("hf-eager").fused_share("qkv", 256.0, 512.0) == 1.0  # does not fuse


def _frames(tmp_path, fused: tuple[str, ...]):  # noqa: ANN001, ANN202
    src = load_engine("vllm").source_file.model_dump(mode="json")
    src.update(id="vllm-x", fused_gemms=list(fused))
    f = tmp_path / f"e{len(fused)}.yaml"
    f.write_text(json.dumps(src))  # JSON is YAML
    r = estimate("llama-2-7b", "a100-80gb", engine=str(f), visual_tokens=0, text_tokens=512,
                 output_tokens=16)
    return r.to_frame().set_index(["stage", "op"])


def test_estimate_prices_the_groups_and_leaves_the_rest(tmp_path):  # noqa: ANN001
    fused, plain = _frames(tmp_path, ("qkv", "gate_up")), _frames(tmp_path, ())
    assert list(fused.index) == list(plain.index)  # the same operator rows
    for col in ("flops", "weight_bytes", "act_bytes", "kv_bytes"):
        assert np.array_equal(fused[col].to_numpy(), plain[col].to_numpy())
    members = [i for i in fused.index if i[1].rsplit("/", 2)[-2:] in (
        ["attn", "q"], ["attn", "k"], ["attn", "v"], ["mlp", "gate"], ["mlp", "up"])]
    assert len(members) == 10  # prefill and decode, 5 each
    rest = fused.index.difference(members)
    assert np.allclose(fused.loc[rest, "latency_s"], plain.loc[rest, "latency_s"], rtol=1e-12)
    # llama-2-7b is MHA: q, k, v are equally wide, so they split the fused GEMM equally
    pre = fused.loc[[i for i in members if i[0] == "prefill"], "latency_s"].to_numpy()
    assert pre[0] == pytest.approx(pre[1], rel=1e-12) == pytest.approx(pre[2], rel=1e-12)
    assert pre.sum() < plain.loc[[i for i in members if i[0] == "prefill"], "latency_s"].sum()


def test_unknown_group_is_refused_in_a_users_file(tmp_path):  # noqa: ANN001
    src = load_engine("vllm").source_file.model_dump(mode="json")
    src.update(id="bad", fused_gemms=["qkvo"])
    f = tmp_path / "bad.yaml"
    f.write_text(json.dumps(src))
    with pytest.raises(CostmodelError):
        load_engine(str(f))
