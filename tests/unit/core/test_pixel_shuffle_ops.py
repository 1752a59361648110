"""Hand-computed operators: pixel shuffle (memory only), InternViT layer scale and q/k norm."""

from __future__ import annotations

import numpy as np

from costmodel.core.inputs import Points, Precision
from costmodel.core.pixel_shuffle import layer_scale_op, pixel_shuffle_ops, vit_qk_norm_ops
from costmodel.core.stages import projector_ops, vit_layer_ops
from costmodel.specs.model import ProjectorSpec, VisionSpec

BF16 = Precision(weight_bytes_per_element=2.0, act_bytes_per_element=2.0, kv_bytes_per_element=2.0)
PS = ProjectorSpec(kind="pixel_shuffle_mlp", input_dim=8, output_dim=6, merge_size=2)
VIT = VisionSpec(num_layers=2, hidden_size=8, num_heads=2, intermediate_size=16, patch_size=14,
                 image_size=56, layer_scale=True, qk_norm=True, norm_kind="rmsnorm")


def _pts(rows: float) -> Points:
    a = np.array([[1.0]])
    return Points(batch=a, crops=a, seq_per_crop=a * 17, projector_rows=a * rows, visual=a * 4,
                  text=a, output=a)


def test_pixel_shuffle_is_two_copies_and_no_flops():
    shuffle, ln = pixel_shuffle_ops(PS, np.array([16.0]), BF16)
    assert shuffle.name == "projector/pixel_shuffle" and float(shuffle.flops[0]) == 0.0
    assert float(shuffle.bytes[0]) == 2 * 2 * 16 * 8 * 2.0  # 2 copies x (read + write) x P d a
    # LayerNorm over 16/4 = 4 merged rows of 32: 7 FLOPs per element, 2 x 32 weights.
    assert (float(ln.vector_flops[0]), float(ln.weight_bytes[0])) == (7 * 4 * 32, 2 * 32 * 2.0)
    linear = ProjectorSpec(kind="linear", input_dim=8, output_dim=6)
    assert pixel_shuffle_ops(linear, np.array([16.0]), BF16) == []


def test_pixel_shuffle_linear_has_no_norm():
    smol = ProjectorSpec(kind="pixel_shuffle_linear", input_dim=8, output_dim=6, merge_size=3,
                         bias=False)
    assert smol.linear_shapes() == [(72, 6)] and smol.num_params() == 72 * 6
    assert [o.name for o in pixel_shuffle_ops(smol, np.array([81.0]), BF16)] == \
        ["projector/pixel_shuffle"]


def test_projector_order_and_matmuls():
    ops = projector_ops(PS, _pts(16.0), BF16)
    assert [o.name for o in ops] == ["projector/pixel_shuffle", "projector/norm", "projector/fc1",
                                     "projector/act", "projector/fc2"]
    assert float(ops[2].matmul_flops.item()) == 2 * 4 * 32 * 6
    assert float(ops[4].matmul_flops.item()) == 2 * 4 * 6 * 6


def test_layer_scale_and_qk_norm():
    rows = np.array([17.0])
    (ls,) = layer_scale_op(VIT, "vision/L0/attn/layer_scale", rows, BF16)
    assert float(ls.vector_flops[0]) == 17 * 8 and float(ls.weight_bytes[0]) == 8 * 2.0
    q, k = vit_qk_norm_ops(VIT, "vision/L0", rows, BF16)
    assert (q.name, k.name) == ("vision/L0/attn/q_norm", "vision/L0/attn/k_norm")
    assert float(q.vector_flops[0]) == 4 * 17 * 8 and float(q.weight_bytes[0]) == 8 * 2.0
    plain = VIT.model_copy(update={"layer_scale": False, "qk_norm": False})
    assert layer_scale_op(plain, "x", rows, BF16) == [] and vit_qk_norm_ops(plain, "x", rows, BF16) == []


def test_vit_layer_uses_the_flags():
    names = [o.name.split("/", 2)[2] for o in
             vit_layer_ops(VIT, np.array([1.0]), np.array([17.0]), BF16, True, "vision/L0")]
    assert names[:4] == ["norm1", "attn/qkv", "attn/q_norm", "attn/k_norm"]
    assert "attn/layer_scale" in names and "mlp/layer_scale" in names
    norms = [o for o in vit_layer_ops(VIT, np.array([1.0]), np.array([17.0]), BF16, True, "p")
             if o.name.endswith("norm1")]
    assert float(norms[0].vector_flops[0]) == 4 * 17 * 8  # RMSNorm: 4 FLOPs per element
