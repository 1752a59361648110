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


def test_comparison_repr_names_a_run_that_does_not_fit():
    """As Estimate's repr says '(does not fit)': LLaVA-NeXT at batch 8 on a 24 GB RTX 4090
    needs 28.8 GB; keeping 25% fits, keeping 90% does not."""
    c = costmodel.compare_compression("llava-next-vicuna-7b", "rtx-4090", keep=[0.25, 0.9],
                                      batch=8)
    text = repr(c)
    b, (k25, k90) = c.baseline.memory, (n.memory for n in c.compressed)
    assert not b.fits and k25.fits and not k90.fits
    assert (f"{seconds(c.baseline.e2e_latency_s)}, does not fit ({si(b.total_memory_bytes, 'B')} of "
            "24 GB) | select@projector keep 0.25") in text
    assert text.endswith(f"saved), does not fit ({si(k90.total_memory_bytes, 'B')} of 24 GB)>")
    assert text.count("does not fit") == 2
    fits = repr(costmodel.compare_compression("llava-1.5-7b", "a100-80gb", keep=0.1))
    assert "fit" not in fits
