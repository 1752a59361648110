"""Plots: each function returns a labelled Figure with the expected artists (the `costmodel
plot` command is tested in tests/cli/test_plot_cmd.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from costmodel import load_hardware  # noqa: E402
from costmodel.analysis.estimate import estimate  # noqa: E402
from costmodel.plots import (  # noqa: E402
    GROUPS,
    breakdown_figure,
    operator_group,
    roofline_figure,
    savings_figure,
    sweep_figure,
)
from costmodel.units import DType  # noqa: E402
from tests.helpers import LLAVA15_7B, savings_df  # noqa: E402


def sweep_df(hardware: list[str], tokens: list[int]) -> pd.DataFrame:
    """A sweep-shaped frame from repeated point estimates (the contract in plots.py)."""
    rows = []
    for hw in hardware:
        for t in tokens:
            e = estimate(LLAVA15_7B, hw, visual_tokens=t)
            point = {"model": "llava", "hardware": hw, "batch": 1, "visual_tokens": t,
                     "text_tokens": 64, "output_tokens": 128, "ttft_s": e.ttft_s,
                     "tpot_s": e.tpot_s, "total_memory_bytes": e.memory.total_memory_bytes}
            rows += [{**point, "stage": s, "flops": r.flops, "latency_s": r.latency_s}
                     for s, r in e.stages.items()]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def ops() -> pd.DataFrame:
    return estimate(LLAVA15_7B, "a100-80gb", visual_tokens=576).to_frame()


def test_roofline_points_ridge_and_labels(ops):
    hw = load_hardware("a100-80gb")
    fig = roofline_figure(ops, hw)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert "FLOP/byte" in ax.get_xlabel() and "FLOP/s" in ax.get_ylabel()
    assert ax.get_xscale() == ax.get_yscale() == "log"
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert {c.get_label().split(" ")[0] for c in scatters} == {"vision", "projector", "prefill",
                                                               "decode"}
    plotted = sum(len(c.get_offsets()) for c in scatters)
    assert plotted == int(((ops.flops > 0) & (ops.bytes > 0)).sum())  # embed has no FLOPs
    ridge = next(line for line in ax.get_lines() if line.get_label().startswith("ridge"))
    peak, bw = hw.peak_flops_per_s(DType.bf16), hw.memory_bytes_per_s
    assert ridge.get_xdata()[0] == pytest.approx(peak / bw)
    assert ridge.get_ydata()[0] == pytest.approx(peak / 1e12)
    # the achieved rate of every point is flops / latency_s and never above the roof
    decode = next(c for c in scatters if c.get_label().startswith("decode"))
    x, y = decode.get_offsets().T
    assert np.all(y * 1e12 <= np.minimum(peak, bw * x) * (1 + 1e-9))


def test_roofline_draws_derated_roof_when_efficiency_below_one(ops):
    hw = load_hardware("a100-80gb").model_copy(update={"compute_efficiency": 0.7})
    labels = [line.get_label() for line in roofline_figure(ops, hw).axes[0].get_lines()]
    assert any(lb.startswith("achievable roof") for lb in labels)


def test_operator_groups(ops):
    g = dict(zip(zip(ops.stage, ops.op, strict=True), operator_group(ops), strict=True))
    assert g["vision", "vision/L0-22/mlp/fc1"] == g["vision", "vision/L0-22/attn/flash"] == \
        "vision encoder"
    assert g["projector", "projector/fc1"] == "projector"
    for stage in ("prefill", "decode"):
        assert g[stage, "llm/L0-31/attn/q"] == g[stage, "llm/L0-31/attn/flash"] == "attention"
        assert g[stage, "llm/L0-31/mlp/gate"] == g[stage, "llm/L0-31/mlp/act"] == "MLP"
        assert g[stage, "llm/lm_head"] == g[stage, "llm/L0-31/attn_norm"] == "other"


def test_breakdown_bars_sum_to_stage_totals(ops):
    fig = breakdown_figure(ops)
    lat = fig.axes[0]
    assert lat.get_ylabel() == "latency (ms)"
    assert [fig.axes[i].get_ylabel() for i in (1, 2)] == ["FLOPs (TFLOP)", "memory traffic (GB)"]
    assert len(lat.patches) == len(GROUPS) * 4  # one segment per class per stage
    heights = np.array([p.get_height() for p in lat.patches]).reshape(len(GROUPS), 4).sum(0)
    want = ops.groupby("stage", sort=False).latency_s.sum()[
        ["vision", "projector", "prefill", "decode"]].to_numpy() * 1e3
    np.testing.assert_allclose(heights, want, rtol=1e-9)


def test_sweep_one_line_per_hardware_and_units():
    df = sweep_df(["a100-80gb", "h100-sxm"], [0, 576, 1152])
    fig = sweep_figure(df, {"a100-80gb": 80e9})
    ttft, tpot, flops, mem = fig.axes
    assert [ln.get_label() for ln in ttft.get_lines()] == ["a100-80gb", "h100-sxm"]
    assert ttft.get_ylabel() == "TTFT (ms)" and ttft.get_yscale() == "log"
    assert "visual tokens" in flops.get_xlabel()
    line = ttft.get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), [0, 576, 1152])
    want = df[(df.hardware == "a100-80gb") & (df.stage == "vision")].ttft_s.to_numpy() * 1e3
    np.testing.assert_allclose(line.get_ydata(), want)
    assert len(flops.get_lines()) == 1  # FLOPs do not depend on the device
    total = df[df.hardware == "h100-sxm"].groupby("visual_tokens").flops.sum() / 1e12
    np.testing.assert_allclose(flops.get_lines()[0].get_ydata(), total.to_numpy())
    assert any("capacity 80 GB" in t.get_text() for t in mem.texts)


def test_sweep_over_images_draws_a_line_per_size_and_counts_each_point_once():
    """Two inputs that give the same visual tokens are two points (Qwen2-VL: 15 and 16 frames
    are both 8 temporal patches; 4 images of 448x448 and 1 of 896x896 are 1,024 tokens each):
    their FLOPs are not summed together, each drawn at its own input (the x axis is the swept
    input, not the tokens it gives); several image sizes draw a line each."""
    from costmodel.sweep import sweep

    frames = sweep("qwen2-vl-2b", "a100-80gb", video_frames=[15, 16])
    fig = sweep_figure(frames)
    one = frames[frames.video_frames == 16].flops.sum() / 1e12
    line = fig.axes[2].get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), [15, 16])
    np.testing.assert_allclose(line.get_ydata(), [one, one])  # not 2 x one
    assert fig.axes[2].get_xlabel() == "video frames per request"
    images = sweep("qwen2-vl-2b", "a100-80gb", images=[1, 4],
                   image_sizes=[(448, 448), (896, 896)])
    fig = sweep_figure(images)
    ttft = fig.axes[0]
    assert [ln.get_label() for ln in ttft.get_lines()] == ["448x448", "896x896"]
    for ln in ttft.get_lines():
        np.testing.assert_allclose(ln.get_xdata(), [1, 4])
    assert fig.axes[3].get_xlabel() == "images per request, a line per image size"
    tokens = sweep_figure(images, x="visual_tokens").axes[0].get_lines()  # as asked
    np.testing.assert_allclose(tokens[0].get_xdata(), [256, 1024])
    np.testing.assert_allclose(tokens[1].get_xdata(), [1024, 4096])


def test_sweep_x_axis_says_what_was_swept():
    """Video seconds at several fps: seconds on x, a line per fps; one clip length at several
    fps: the fps on x; one image at several sizes: the sizes on x, by name, smallest first."""
    from costmodel.errors import CostmodelError
    from costmodel.sweep import sweep

    video = sweep_figure(sweep("qwen2-vl-2b", "a100-80gb", video_seconds=[2, 8], video_fps=[1, 2]))
    assert [ln.get_label() for ln in video.axes[0].get_lines()] == ["1 fps", "2 fps"]
    assert video.axes[2].get_xlabel() == "video seconds, frames sampled at each line's fps"
    one = sweep_figure(sweep("qwen2-vl-2b", "a100-80gb", video_seconds=[8], video_fps=[0.5, 2]))
    np.testing.assert_allclose(one.axes[0].get_lines()[0].get_xdata(), [0.5, 2])
    assert one.axes[2].get_xlabel() == "video frames per second sampled from 8 s"
    sizes = sweep("qwen2-vl-2b", "a100-80gb", image_sizes=[(896, 896), (448, 448)])
    fig = sweep_figure(sizes)
    assert [t.get_text() for t in fig.axes[2].get_xticklabels()] == ["448x448", "896x896"]
    assert fig.axes[2].get_xlabel() == "image size, WIDTHxHEIGHT (1 image per request)"
    with pytest.raises(CostmodelError, match="x: 'images' is not a swept input"):
        sweep_figure(sizes.drop(columns="images"), x="images")


def test_savings_bars_match_frame():
    df = savings_df()
    fig = savings_figure(df)
    ax = fig.axes[0]
    assert "savings (%" in ax.get_xlabel()
    assert len(ax.patches) == len(df.dropna(subset=["savings_pct"]))
    assert sorted(p.get_width() for p in ax.patches) == pytest.approx(
        sorted(df.savings_pct.dropna()))
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert "prefill: latency" in ticks and "total: TTFT" in ticks


def test_missing_column_is_a_costmodel_error(ops):
    from costmodel.errors import CostmodelError

    with pytest.raises(CostmodelError, match="latency_s"):
        breakdown_figure(ops.drop(columns="latency_s"))
    with pytest.raises(CostmodelError, match="savings_pct"):
        savings_figure(savings_df().drop(columns="savings_pct"))


def test_savings_of_several_scenarios_are_refused_not_overlaid():
    """compare_compression(keep=[0.25, 0.5]).frame() drew each (stage, metric) bar twice under
    one label; `compare-compression --plot` refuses a --keep list, so does the figure."""
    from costmodel.errors import CostmodelError

    two = pd.concat([savings_df(after=144).assign(keep=0.25, keep_label="0.25"),
                     savings_df(after=288).assign(keep=0.5, keep_label="0.5")], ignore_index=True)
    # keep is a number (float64): the hint reads 0.25, not np.float64(0.25) nor '0.25'
    with pytest.raises(CostmodelError, match=r"^savings frame: rows of 2 scenarios \(keep "
                       r"0\.25, 0\.5\); draw one at a time.*frame\[frame\.keep == 0\.25\]\)$"):
        savings_figure(two)
    assert len(savings_figure(two[two.keep == 0.5]).axes[0].patches) == len(savings_df())


def test_sweep_against_a_secondary_input_draws_every_point():
    """x='video_fps' on a seconds x fps sweep, x='image_size' on an images x sizes sweep: the
    main input (seconds, images) gives a line each, so no point is dropped (was: one line per
    device, the points of the other seconds / images at the same x dropped without a word)."""
    from costmodel.sweep import sweep

    video = sweep("qwen2-vl-2b", "a100-80gb", video_seconds=[4, 8, 16], video_fps=[1, 2])
    fig = sweep_figure(video, x="video_fps")
    lines = fig.axes[0].get_lines()
    assert sum(len(ln.get_xdata()) for ln in lines) == 6 and len(lines) == 3
    ttft = sorted(y for ln in lines for y in ln.get_ydata())
    points = video.drop_duplicates(["video_seconds", "video_fps"])
    np.testing.assert_allclose(ttft, sorted(points.ttft_s * 1e3))
    assert "sampled from  s" not in fig.axes[2].get_xlabel()
    images = sweep("qwen2-vl-2b", "a100-80gb", images=[1, 2, 4],
                   image_sizes=[(448, 448), (896, 896)])
    lines = sweep_figure(images, x="image_size").axes[0].get_lines()
    assert sum(len(ln.get_xdata()) for ln in lines) == 6 and len(lines) == 3
