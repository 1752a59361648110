"""The decode sum is exact for piecewise-affine operators (core/decode_sum.py): the closed
form equals an explicit loop over every decode step (sum of decode_ops at each step, each
priced on its own) when generation crosses a sliding window, a rolling KV cap or a sparse
top-k, for FLOPs, bytes and the roofline bound's latency; with no knee inside, nothing changes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from costmodel.analysis.prepare import prepare
from costmodel.core import evaluate as ev
from costmodel.core.decode_sum import segments
from costmodel.core.pricing import static_cost
from costmodel.loading.load import load_hardware
from costmodel.specs.compression import CompressionPlan, KVCompression
from costmodel.specs.model import LLMSpec, ModelSpec
from costmodel.specs.workload import Workload

# Gemma-3-like: sliding layers (window 64) with a full layer every third, q/k norms, GeGLU.
LLM = LLMSpec(hidden_size=256, num_layers=6, num_heads=4, num_kv_heads=2, head_dim=64,
              intermediate_size=512, vocab_size=1000, qk_norm=True, sandwich_norm=True,
              mlp_kind="geglu", embed_scale=True, sliding_window=64,
              layer_types=("sliding", "sliding", "full") * 2)
SPEC = ModelSpec(name="gemma-like", llm=LLM)
TEXT = np.array([[10.0, 30.0, 63.0, 100.0, 40.0]])  # knees 53, 33, 0 (none), < 0, 23
OUTPUT = 60.0
FIELDS = ("flops", "useful_flops", "weight_bytes", "act_bytes", "kv_bytes")


def _prep(comp=None, output=OUTPUT, text=TEXT):
    w = Workload(visual_tokens=0, text_tokens=10, output_tokens=int(output), compression=comp)
    prep = prepare(SPEC, [load_hardware("h100-sxm")], w)
    pts = dataclasses.replace(prep.points, text=text, output=np.full_like(text, output))
    return dataclasses.replace(prep, points=pts)


def _loop(prep, ops):
    """Sum of every decode step's operators, each priced alone (no closed form) at the
    bound's rates (FLOPs and bytes do not depend on the rates)."""
    o, total = prep.options, {f: 0.0 for f in (*FIELDS, "latency_s")}
    for step in range(int(OUTPUT) - 1):
        for op in prep.convention.decode_ops(SPEC, ops.pts, float(step), prep.precision, o):
            c = static_cost(op, prep.bound_rates, o.overlap)
            for f in total:
                total[f] = total[f] + getattr(c, f)
    return total


@pytest.mark.parametrize("comp", [
    None,
    CompressionPlan(kv=KVCompression(keep_tokens=40, policy="sink_window", during_decode=True)),
    CompressionPlan(sparse_decode=24),
], ids=["window", "rolling", "sparse"])
def test_closed_form_equals_the_step_loop(comp):
    prep = _prep(comp)
    ops = ev._ops(SPEC, prep.points, prep)
    assert ops.segs is not None and ops.segs.inside.any()
    ref = _loop(prep, ops)
    for rates, fields in ((prep.bound_rates, (*FIELDS, "latency_s")), (prep.rates, FIELDS)):
        dec = ev._price(ops, prep.options.overlap, rates).stages["decode"]
        for f in fields:
            np.testing.assert_allclose(getattr(dec, f), ref[f], rtol=1e-12, err_msg=f)


def test_the_one_segment_sum_was_wrong_across_the_window():
    prep = _prep()
    ops = ev._ops(SPEC, prep.points, prep)
    affine = dataclasses.replace(ops, segs=None)  # today's chord from the first to the last step
    exact = ev._price(ops, "roofline", prep.bound_rates).stages["decode"].flops
    chord = ev._price(affine, "roofline", prep.bound_rates).stages["decode"].flops
    inside = ops.segs.inside[0]
    assert list(inside) == [True, True, False, False, True]
    assert np.all(chord[0][inside] < exact[0][inside])  # a chord lies below a concave sum
    assert np.array_equal(chord[0][~inside], exact[0][~inside])  # bit-identical elsewhere


def test_no_knee_inside_keeps_the_old_path():
    short = _prep(output=40.0, text=np.array([[30.0]]))  # knee 33 > last step 38? no: 33 < 38
    assert ev._ops(SPEC, short.points, short).segs is not None
    far = _prep(output=20.0, text=np.array([[30.0]]))  # steps 0..18, knee at 33: outside
    assert ev._ops(SPEC, far.points, far).segs is None


def test_segments_by_hand():
    # Steps 0..9, knees at 3 and 6 (and 3 again): segments 0-3, 4-6, 7-9.
    seen = []
    seg = segments([np.array([3.0]), np.array([6.0]), np.array([3.0])], np.array([10.0]),
                   lambda s: seen.append(float(s[0])) or [])
    assert seg is not None
    assert [float(p.count[0]) for p in seg.parts] == [4.0, 3.0, 3.0]
    assert seen == [0.0, 3.0, 4.0, 6.0, 7.0, 9.0]
