"""The method library: every preset builds where it says, its operators by hand, eager
attention in the scoring layer, N^2 similarity memory, and each source in the docs."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.analysis.estimate import estimate
from costmodel.errors import CostmodelError
from costmodel.loading.load import load_model
from costmodel.specs.compression import Compression
from costmodel.specs.compression_methods import METHODS
from costmodel.specs.workload import Workload
from tests.helpers import LLAVA15_7B, ROOT

W = Workload(visual_tokens=576, text_tokens=64, output_tokens=4)


def _est(gpu, comp, w=W):
    return estimate(LLAVA15_7B, gpu, w.model_copy(update={"compression": comp}))


def _ops(est):
    return {c.op.name: c for c in est.evaluation.op_costs if c.op.name.startswith("compress/")}


def _f(x):
    return float(np.ravel(x)[0])


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_preset_builds_and_costs_something(gpu, name):
    info = METHODS[name]
    fields: dict = {"method": name}
    if info.video:  # per-frame keep and temporal merge act on a video's frames
        fields.update(keep_ratio=0.5, temporal_merge=0.5)
    elif info.where == "vit":
        fields["keep_ratio"] = 0.5
    elif info.keep is None:
        fields["keep_tokens"] = 64
    comp = Compression(**fields)
    assert comp.where == info.where
    spec, w = (load_model("llava-onevision-0.5b"), Workload(video_frames=8, output_tokens=4)
               ) if info.video else (LLAVA15_7B, W)

    def est_of(c):
        return estimate(spec, gpu, w.model_copy(update={"compression": c}))
    est = est_of(comp)
    assert _ops(est), f"{name} has no operator of its own"
    assert est.stages["prefill"].flops < est_of(None).stages["prefill"].flops


def test_every_method_is_in_the_methodology_with_its_source():
    text = (ROOT / "docs" / "methodology.md").read_text()
    for m in METHODS.values():
        assert f"`{m.name}`" in text, m.name
        for word in m.source.split():
            if word.startswith("2") and "." in word:  # arXiv id
                assert word.strip(",;)") in text, (m.name, word)


def test_fastv_preset_runs_layer_k_minus_1_eager(gpu):
    """FastV reads layer K-1's attention: beyond FlashAttention that layer writes the score
    matrix (32 heads x 640^2) and reads it back three times (QK^T writes, softmax reads and
    writes, PV reads) and computes the masked triangle: 4 x 128 x 32 x 640 x 639 / 2 matmul
    FLOPs + 5 x 32 x 640 x 639 / 2 softmax FLOPs."""
    est = _est(gpu, Compression(method="fastv"))  # K = 2, keep 0.5
    op = _ops(est)["compress/eager_attn@L1"]
    scores = 32 * 640 * 640 * 2.0
    assert _f(op.act_bytes) == pytest.approx(4 * scores, rel=1e-12)
    tri = 640 * 639 / 2
    assert _f(op.flops) == pytest.approx(4 * 128 * 32 * tri + 5 * 32 * tri, rel=1e-12)
    plain = _est(gpu, Compression(where="llm_layer", layer=2, keep_ratio=0.5))
    assert "compress/eager_attn@L1" not in _ops(plain)
    eager_w = W.model_copy(update={"flash_attention": False})
    assert "compress/eager_attn@L1" not in _ops(_est(gpu, Compression(method="fastv"), eager_w))


def test_divprune_similarity_grows_as_n_squared(gpu):
    """DivPrune's N x N similarity: 2 N^2 d FLOPs, N^2 elements written; at 2880 tokens it is
    the largest activation of the request."""
    for n in (576, 2880):
        w = W.model_copy(update={"visual_tokens": n})
        est = _est(gpu, Compression(method="divprune", keep_tokens=64), w)
        op = _ops(est)["compress/divprune_similarity"]
        assert _f(op.flops) == pytest.approx(2 * n * n * 4096 + 3 * n * 4096, rel=1e-12)
        assert _f(op.op.act_write_bytes) == pytest.approx(n * n * 2.0, rel=1e-12)
    assert est.memory.activation_bytes >= 2880**2 * 2.0


def test_visionzip_acts_before_the_projector(gpu):
    """64 tokens leave the encoder: the projector runs on 64 rows; the last ViT layer runs
    eager for its [CLS] attention row."""
    est = _est(gpu, Compression(method="visionzip", keep_tokens=64))
    plain64 = estimate(LLAVA15_7B, gpu, W.model_copy(update={"visual_tokens": 64}))
    assert est.stages["projector"] == plain64.stages["projector"]
    assert est.stages["prefill"] == plain64.stages["prefill"]
    ops = _ops(est)
    assert {"compress/visionzip_cls_scores", "compress/visionzip_contextual",
            "compress/eager_attn_vit"} <= set(ops)
    assert _f(ops["compress/eager_attn_vit"].act_bytes) == pytest.approx(
        4 * 16 * 577 * 577 * 2.0, rel=1e-12)


def test_cluster_keeps_its_formula(gpu):
    est = _est(gpu, Compression(method="cluster", keep_tokens=57, cluster_iters=3))
    n, k, d = 576, 57, 4096
    assert _f(_ops(est)["compress/cluster"].flops) == pytest.approx(
        3 * (2 * n * k * d + n * k + n * d), rel=1e-12)


def test_method_at_the_wrong_place_names_the_field():
    with pytest.raises(ValueError, match="method: 'visionzip' does not apply at projector"):
        Compression(where="projector", method="visionzip", keep_tokens=64)
    with pytest.raises(ValueError, match="keep_tokens: the pyramiddrop preset"):
        Compression(method="pyramiddrop", keep_tokens=64)


def test_a_method_refused_on_a_patch_merger_names_the_method(gpu):
    """`--method visionzip` on Qwen2.5-VL: the refusal said "--at: 'encoder' ..." to a user who
    gave no --at; it names the method whose place that is."""
    qwen = load_model("qwen2.5-vl-7b")
    w = Workload(image_size=(448, 448))
    for method, place in (("visionzip", "encoder"), ("tome", "vit")):
        comp = Compression(method=method, keep_ratio=0.5)
        with pytest.raises(CostmodelError, match=f"'{place}' \\({method}'s place\\) is not"):
            estimate(qwen, gpu, w.model_copy(update={"compression": comp}))
    with pytest.raises(CostmodelError, match="'vit' is not modelled"):  # a bare --at vit
        estimate(qwen, gpu, w.model_copy(update={"compression": Compression(
            where="vit", keep_ratio=0.5)}))


def test_llm_pruning_label_names_the_eager_layer():
    """Method-less LLM pruning (FlashAttention throughout) and FastV (eager layer K-1) price
    differently, so their labels differ; eager_scoring=True without a method is FastV's."""
    from costmodel.specs.compression import Compression

    plain = Compression(where="llm_layer", layer=2, keep_ratio=0.5)
    fastv = Compression(where="llm_layer", layer=2, keep_ratio=0.5, method="fastv")
    eager = Compression(where="llm_layer", layer=2, keep_ratio=0.5, eager_scoring=True)
    assert (plain.label, fastv.label, eager.label) == (
        "prune@L2 keep 0.5", "fastv@L2 keep 0.5", "fastv@L2 keep 0.5")
