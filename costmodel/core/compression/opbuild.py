"""Building a compression method's operators: an Op from its FLOPs and bytes, and an Op
masked to the points where it runs. A leaf module, shared by overhead.py and video.py."""

from __future__ import annotations

import numpy as np

from costmodel.core.ops import Arr, Op


def op(name: str, stage: str, op_class: str, mm: Arr, vec: Arr, read: Arr, write: Arr,
       kv_read: Arr | float = 0.0) -> Op:
    z = np.zeros_like(np.asarray(mm, dtype=float))
    return Op(name=name, stage=stage, op_class=op_class,  # type: ignore[arg-type]
              matmul_flops=mm + z, vector_flops=vec + z, useful_flops=mm + vec + z,
              weight_bytes=z, act_read_bytes=read + z, act_write_bytes=write + z,
              kv_read_bytes=kv_read + z)


def masked(o: Op, on: Arr) -> Op:
    """The operator where `on` holds, zero elsewhere (a stage that drops nothing at a point
    ranks nothing there; the operator stays so every point has the same operators)."""
    f = ("matmul_flops", "vector_flops", "useful_flops", "weight_bytes", "act_read_bytes",
         "act_write_bytes", "kv_read_bytes", "kv_write_bytes")
    return Op(**{**o.__dict__, **{k: np.where(on, getattr(o, k), 0.0) for k in f}})
