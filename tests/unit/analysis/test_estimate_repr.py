"""The notebook view of an Estimate: one line naming what it is, and the compression types
importable from the package as the README's `Workload(compression=Compression(...))` uses them."""

from __future__ import annotations

import costmodel
from costmodel.units import seconds, si


def test_repr_is_one_line_with_engine_compression_and_both_latencies():
    comp = costmodel.Compression(where="projector", keep_ratio=0.25)
    est = costmodel.estimate("llava-1.5-7b", "h100-sxm", engine="vllm", compression=comp)
    text = repr(est)
    assert "\n" not in text and len(text) < 400  # the dataclass repr was tens of kB
    assert text.startswith("<Estimate llava-1.5-7b on h100-sxm, engine vllm, compression "
                           "select@projector keep 0.25: 576 visual + 64 text -> 128 output")
    # the figures are the object's own (any refit moves both alike)
    assert f"expected TTFT {seconds(est.ttft_s)}, TPOT {seconds(est.tpot_s)}" in text
    assert f"bound TTFT {seconds(est.bound.ttft_s)}" in text and est.bound.ttft_s < est.ttft_s
    assert f"memory {si(est.memory.total_memory_bytes, 'B')} (fits)" in text
    assert "compression" not in repr(costmodel.estimate("llava-1.5-7b", "h100-sxm"))


def test_compression_types_are_public():
    assert {"Compression", "CompressionPlan"} <= set(costmodel.__all__)
    from costmodel.specs.compression import Compression, CompressionPlan

    assert costmodel.Compression is Compression and costmodel.CompressionPlan is CompressionPlan
