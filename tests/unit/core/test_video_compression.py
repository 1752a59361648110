"""Video token compression (core/compression/video.py): per-frame keep and temporal merging
across frames; hand-computed counts and operator costs, keep 1.0 / merge 0 = no compression,
bad input in one line, the CLI with --video-frames."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.analysis.estimate import estimate
from costmodel.cli.compression_options import compression_from_options
from costmodel.core.compression.video import frame_counts, video_ops
from costmodel.core.inputs import Points, Precision
from costmodel.errors import CostmodelError
from costmodel.loading.load import load_model
from costmodel.specs.compression import Compression
from costmodel.specs.workload import Workload
from tests.helpers import run

P = Precision(weight_bytes_per_element=2.0, act_bytes_per_element=2.0, kv_bytes_per_element=2.0)


def _pts(frames: float, visual: float, batch: float = 1.0) -> Points:
    a = lambda x: np.array([[float(x)]])  # noqa: E731
    return Points(batch=a(batch), crops=a(frames), seq_per_crop=a(729), projector_rows=a(0),
                  visual=a(visual), text=a(64), output=a(16))


def _v(x) -> float:
    return float(np.ravel(x)[0])


def test_counts_by_hand():
    """OneVision, 32 frames: 6,273 tokens = 32 x 196 + 1 newline. keep 0.5 -> k = 98 a frame;
    merge 0.25 -> g = floor(24.5) = 24 of frames 2..32 merged: 32 x 98 - 31 x 24 + 1 = 2,393."""
    q = frame_counts(_pts(32, 6273), Compression(method="tempmerge", keep_ratio=0.5,
                                                 temporal_merge=0.25))
    assert [_v(q[k]) for k in ("n", "k", "g", "kept")] == [196, 98, 24, 2393]


def test_keep_one_merge_zero_equals_no_compression():
    spec = load_model("llava-onevision-0.5b")
    w = Workload(video_frames=16, text_tokens=64, output_tokens=16)
    base = estimate(spec, "a100-80gb", w)
    for method in ("tempmerge", "dycoke"):
        c = Compression(method=method, keep_ratio=1.0, temporal_merge=0.0)
        e = estimate(spec, "a100-80gb", w.model_copy(update={"compression": c}))
        assert e.plan.llm_tokens == base.plan.llm_tokens == 16 * 196 + 1
        for s in base.stages:
            assert e.stages[s].flops == base.stages[s].flops, (method, s)
            assert e.stages[s].bytes == base.stages[s].bytes, (method, s)


def _by_name(ops):
    return {o.op.name if hasattr(o, "op") else o.name: o for o in ops}


def test_operator_costs_by_hand():
    """F = 4 frames of n = 100 tokens, d = 896, B = 2, keep 0.5 (k = 50), merge 0.2 (g = 10)."""
    c = Compression(method="tempmerge", keep_ratio=0.5, temporal_merge=0.2)
    ops = _by_name(video_ops(_pts(4, 400, batch=2), c, 896, P))
    d, b, a = 896, 2, 2.0
    sel = ops["compress/tempmerge_frame_select"]
    assert _v(sel.matmul_flops) == b * 2 * 4 * 100 * d
    assert _v(sel.vector_flops) == pytest.approx(b * 4 * 100 * np.log2(100))
    sim = ops["compress/tempmerge_similarity"]
    assert _v(sim.matmul_flops) == b * 3 * 2 * 50**2 * d  # 3 pairs x 2 k^2 d
    assert _v(sim.vector_flops) == pytest.approx(b * (3 * 4 * 50 * d + 3 * 50 * np.log2(50)))
    assert _v(sim.act_write_bytes) == b * 3 * 50 * 50 * a  # the k x k matrices
    kept = 4 * 50 - 3 * 10
    merge = ops["compress/tempmerge_merge"]
    assert _v(merge.vector_flops) == b * 3 * 10 * 2 * d
    assert _v(merge.act_write_bytes) == b * kept * d * a
    # DyCoke: same-position cosine, no matmul, O(k d) per pair
    dy = _by_name(video_ops(_pts(4, 400, batch=2), c.model_copy(update={"method": "dycoke"}),
                            896, P))["compress/dycoke_similarity"]
    assert _v(dy.matmul_flops) == 0
    assert _v(dy.vector_flops) == pytest.approx(
        b * (3 * 2 * 50 * d + 4 * 2 * 50 * d + 3 * 50 + 3 * 50 * np.log2(50)))


def test_more_merge_never_costs_more_in_the_llm():
    spec = load_model("llava-onevision-0.5b")
    w = Workload(video_frames=8, output_tokens=4)
    flops = [estimate(spec, "a100-80gb", w.model_copy(update={"compression": Compression(
        method="tempmerge", temporal_merge=m)})).stages["prefill"].flops
        for m in (0.0, 0.25, 0.5, 0.75)]
    assert flops == sorted(flops, reverse=True) and flops[0] > flops[-1]


@pytest.mark.parametrize(("kwargs", "match"), [
    (dict(method="tempmerge"), "temporal_merge: tempmerge needs"),
    (dict(method="dycoke", keep_tokens=64, temporal_merge=0.5), "keep_tokens: dycoke"),
    (dict(where="projector", keep_ratio=0.5, temporal_merge=0.5), "temporal_merge: only"),
])
def test_spec_refusals(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Compression(**kwargs)


def test_cli_options_parse_and_refuse():
    c = compression_from_options(keep="0.5", method="dycoke:0.3")
    assert (c.method, c.keep_ratio, c.temporal_merge) == ("dycoke", 0.5, 0.3)
    for bad, msg in (("tempmerge", "needs the share"), ("fastv:0.3", "only the video methods"),
                     ("dycoke:1.5", "is not a share")):
        with pytest.raises(CostmodelError, match=msg):
            compression_from_options(method=bad)
    with pytest.raises(ValueError, match="act on a video's frames"):
        Workload(compression=Compression(method="dycoke", temporal_merge=0.5))


def test_cli_estimate_with_video_frames(capsys):
    """The CLI's prefill equals the API's, which equals a plain request of the 2,393 kept
    tokens (prefill does not see the vision stage); without a video: one line, exit 2."""
    import json

    spec = load_model("llava-onevision-0.5b")
    base = ["estimate", "llava-onevision-0.5b", "-H", "a100-80gb"]
    code, out, err = run([*base, "--video-frames", "32", "--format", "json",
                          "--method", "tempmerge:0.25", "--keep", "0.5"], capsys)
    assert code == 0, err
    c = Compression(method="tempmerge", keep_ratio=0.5, temporal_merge=0.25)
    api = estimate(spec, "a100-80gb", Workload(video_frames=32, compression=c))
    plain = estimate(spec, "a100-80gb", Workload(visual_tokens=2393))
    cli = json.loads(out)["stages"]["prefill"]["flops"]
    assert cli == api.stages["prefill"].flops == plain.stages["prefill"].flops
    code, out, err = run([*base, "--method", "dycoke:0.5"], capsys)
    assert code == 2 and "act on a video's frames" in err and err.count("\n") == 1


def test_cli_sweep_over_frames_with_video_compression(capsys):
    """sweep --video-frames 8,16 --method dycoke:0.5: each row equals estimate at that point."""
    import csv
    import io

    code, out, err = run(["sweep", "llava-onevision-0.5b", "-H", "a100-80gb", "--video-frames",
                          "8,16", "--method", "dycoke:0.5", "-f", "csv"], capsys)
    assert code == 0, err
    rows = [r for r in csv.DictReader(io.StringIO(out)) if r["stage"] == "prefill"]
    spec = load_model("llava-onevision-0.5b")
    c = Compression(method="dycoke", temporal_merge=0.5)
    for r in rows:
        e = estimate(spec, "a100-80gb", Workload(video_frames=int(r["video_frames"]),
                                                 compression=c))
        assert float(r["flops"]) == e.stages["prefill"].flops
    assert [r["video_frames"] for r in rows] == ["8", "16"]
