"""docs/plots.md's reading of the roofline figure: the figures it quotes are what the estimate
gives (the plot draws `to_frame()`'s operators with FLOPs; its box shares are of their sum)."""

from __future__ import annotations

import costmodel
from tests.helpers import DOCS


def test_roofline_reading_figures():
    text = " ".join((DOCS / "plots.md").read_text().split())
    shares = {}
    for engine in ("ideal", "hf-eager"):
        est = costmodel.estimate("llava-1.5-7b", "a100-80gb", engine=engine)
        ops = est.to_frame()
        plotted = ops[ops["flops"] > 0]
        mlp = ops[(ops["stage"] == "decode")
                  & ops["op"].str.fullmatch(r"llm/L0-31/mlp/(?:gate|up|down)")]
        assert len(mlp) == 3
        shares[engine] = (mlp["latency_s"] / est.e2e_latency_s,
                          mlp["latency_s"] / plotted["latency_s"].sum(), plotted, est)
    request, _, plotted, est = shares["ideal"]
    (each,) = {f"{100 * s:.1f}%" for s in request}  # the three alike
    assert f"take {each} of the request latency each" in text
    lin = plotted[(plotted["op_class"] == "linear") & (plotted["stage"] != "decode")]
    ai = lin["flops"] / lin["bytes"]
    assert f"at {ai.min():.0f}-{ai.max():.0f} FLOP/byte on the flat roof" in text
    _, box, plotted, est = shares["hf-eager"]
    (each,) = {f"{100 * s:.0f}%" for s in box}
    assert f"the box says {each} each" in text
    assert (f"{plotted['latency_s'].sum():.2f} of hf-eager's {est.e2e_latency_s:.2f} s are "
            "plotted") in text
