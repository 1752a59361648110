"""Qwen2.5-VL windowed ViT attention and Qwen3-VL DeepStack (pure numpy).

Windows (transformers 5.23 `vision_utils.get_vision_window_index`): each encoder pass of
H x W patches is cut, in merged units of m x m patches, into windows of u x u merged units,
u = window_size // m // patch (Qwen2.5-VL: 112 // 2 // 14 = 4, i.e. 8 x 8 = 64 patches).
The grid is padded to whole windows and padding dropped, so with Hm = H/m = nh*u + rh and
Wm = W/m = nw*u + rw there are nh*nw full windows of u*u*m^2 patches, nh right-edge windows of
u*rw*m^2 (if rw > 0), nw bottom-edge windows of rh*u*m^2 (if rh > 0) and one corner window of
rh*rw*m^2 (if both). Windowed layers attend within each window (one attention call per
window); layers in `fullatt_block_indexes` attend over the whole pass.

DeepStack (transformers `Qwen3VLVisionModel.forward`, `Qwen3VLTextModel._deepstack_process`):
the hidden states after each ViT layer in `deepstack_visual_indexes` go through their own patch
merger (LayerNorm over the merged m^2*d features, Linear, GELU, Linear), and the k-th result is
added to the hidden states of the visual positions after LLM decoder layer k (prefill only).
"""

from __future__ import annotations

import numpy as np

from costmodel.core.inputs import Points, Precision
from costmodel.core.ops import ACT_FLOPS, ADD_FLOPS, Arr, Op, linear, norm, vector_op
from costmodel.specs.model import ModelSpec, ProjectorSpec, VisionSpec

WINDOW_KINDS = ("full", "right", "bottom", "corner")


def window_groups(v: VisionSpec, seq: Arr, grid_w: Arr | None) -> list[tuple[str, Arr, Arr]]:
    """(kind, windows per encoder pass, patches per window) for the four window kinds.

    grid_w: patch columns per pass (0 or None = not known: a visual-token count was given
    without an image size). Then the patches are taken as packed into full windows plus one
    remainder window (floor(S / w^2) windows of w^2 and one of S mod w^2), which is exact for a
    grid whose height is a whole number of windows and a lower bound otherwise.
    """
    m, side = v.spatial_merge_size, v.window_patches
    seq = np.asarray(seq, dtype=float)
    cols = np.zeros_like(seq) if grid_w is None else np.broadcast_to(grid_w, seq.shape)
    full_area = float(side * side)
    packed_n = np.floor(seq / full_area)
    packed_rem = seq - packed_n * full_area
    known = cols > 0
    safe_cols = np.where(known, cols, 1.0)
    u = side // m
    hm, wm = np.floor(seq / safe_cols / m), np.floor(safe_cols / m)
    nh, rh = np.floor(hm / u), np.mod(hm, u)
    nw, rw = np.floor(wm / u), np.mod(wm, u)
    mm = float(m * m)
    grid = [
        (nh * nw, u * u * mm + 0 * nh),
        (nh * (rw > 0), u * rw * mm),
        ((rh > 0) * nw, rh * u * mm),
        ((rh > 0) * (rw > 0) * 1.0, rh * rw * mm),
    ]
    packed = [(packed_n, full_area + 0 * seq), ((packed_rem > 0) * 1.0, packed_rem),
              (0 * seq, 0 * seq), (0 * seq, 0 * seq)]
    return [(kind, np.where(known, g[0], p[0]), np.where(known, g[1], p[1]))
            for kind, g, p in zip(WINDOW_KINDS, grid, packed, strict=True)]


def layer_runs(v: VisionSpec) -> list[tuple[int, int, bool]]:
    """Contiguous runs (first, end, windowed) of the executed ViT layers; without a window
    size every layer is full attention (one run)."""
    n = v.executed_layers
    if v.window_size is None:
        return [(0, n, False)]
    runs: list[tuple[int, int, bool]] = []
    for i in range(n):
        windowed = i not in v.fullatt_blocks
        if runs and runs[-1][2] == windowed:
            runs[-1] = (runs[-1][0], i + 1, windowed)
        else:
            runs.append((i, i + 1, windowed))
    return runs


def deepstack_projector_ops(pj: ProjectorSpec, pts: Points, p: Precision) -> list[Op]:
    """The deepstack mergers, `pj.deepstack` identical instances (count): LayerNorm over the
    merged rows (m^2 * d wide, 7 FLOPs an element), fc1, GELU, fc2 with biases."""
    st, rows = "projector", pts.batch * pts.projector_rows / pj.merge_size**2
    (d1, o1), (d2, o2) = pj.linear_shapes()
    ops = [
        norm("projector/deepstack/norm", st, rows, pj.merged_dim, "layernorm", p.weight_bytes_per_element,
             p.act_bytes_per_element),
        linear("projector/deepstack/fc1", st, rows, d1, o1, pj.bias, p.weight_bytes_per_element,
               p.act_bytes_per_element),
        vector_op("projector/deepstack/act", st, "activation", rows * o1, ACT_FLOPS["gelu"],
                  1.0, p.act_bytes_per_element),
        linear("projector/deepstack/fc2", st, rows, d2, o2, pj.bias, p.weight_bytes_per_element,
               p.act_bytes_per_element),
    ]
    return [Op(**{**o.__dict__, "count": pj.deepstack}) for o in ops]


def deepstack_add_op(spec: ModelSpec, pts: Points, p: Precision) -> list[Op]:
    """Prefill: after each of the first k decoder layers (k = deepstack mergers), the visual
    positions' hidden states get that merger's output added: B x V x h adds (1 FLOP each)
    reading both operands and writing the sum."""
    pj = spec.projector
    if pj is None or not pj.deepstack:
        return []
    k, h = pj.deepstack, spec.llm.hidden_size
    name = "llm/L0/deepstack_add" if k == 1 else f"llm/L0-{k - 1}/deepstack_add"
    op = vector_op(name, "prefill", "elementwise", pts.batch * pts.visual * h, ADD_FLOPS,
                   2.0, p.act_bytes_per_element)
    return [Op(**{**op.__dict__, "count": k, "first_layer": 0})]
