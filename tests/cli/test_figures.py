"""Figures carry what they show (issue 14): every figure's title names the model, the device,
the workload (visual / text / output tokens, batch, dtype), the engine and the compression, and
the written file carries it in its metadata; the breakdown shows every stage, the sweep's log
axes have numbers, the compare chart has a memory panel and a log scale for a slow outlier;
every written file is announced on stderr (not stdout), `--quiet` silences it."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from costmodel.analysis.estimate import estimate  # noqa: E402
from costmodel.plots import breakdown_figure, compare_figure, figure_title  # noqa: E402
from tests.helpers import run  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data"
L3 = str(DATA / "vidur" / "a100_Meta-Llama-3-8B_mlp.csv")
PUBLISHED = str(Path(__file__).resolve().parents[2] / "costmodel" / "calibration" / "data"
                / "published_runs.csv")
M, H = "llava-1.5-7b", "a100-80gb"
WORKLOAD = ("visual + ", " text -> ", " output tokens", "| batch ", "| engine ", "compression: ")


def svg_title(path: Path) -> str:
    """The title matplotlib writes into an SVG's metadata (<dc:title>)."""
    m = re.search(r"<dc:title>(.*?)</dc:title>", path.read_text(encoding="utf-8"), re.S)
    assert m, f"no title in {path}"
    return html.unescape(m.group(1))


def names_workload(title: str, *names: str) -> None:
    for part in (*WORKLOAD, *names):
        assert part in title, f"{part!r} not in {title!r}"


FIGURES = {  # kind -> (command, words the title must name besides the workload's)
    "roofline": (["plot", "roofline", M, "-H", H, "--visual-tokens", "144", "--batch", "4",
                  "-o", "OUT"], ["Roofline: llava-1.5-7b on", "(a100-80gb)", "144 visual",
                                 "batch 4", "bf16", "engine hf-eager", "compression: none"]),
    "breakdown": (["plot", "breakdown", M, "-H", H, "--dtype", "fp16", "--engine", "vllm",
                   "-o", "OUT"], ["Breakdown: llava-1.5-7b", "a100-80gb", "576 visual",
                                  "fp16", "engine vllm"]),
    "plot-sweep": (["plot", "sweep", M, "-H", "a100-80gb,l4", "--visual-tokens", "0:576:64",
                    "-o", "OUT"], ["Sweep: llava-1.5-7b", "a100-80gb", "l4", "0-576 (x axis)"]),
    "sweep": (["sweep", M, "-H", H, "--visual-tokens", "0:576:64", "--batch", "1,8",
               "--keep", "0.5", "--plot", "OUT"], ["Sweep:", "batch 1,8", "keep 0.5"]),
    "compare": (["compare", M, "-H", "a100-80gb,jetson-agx-orin-64gb", "--visual-tokens",
                 "576", "--kv-dtype", "int8", "--plot", "OUT"],
                ["Compare devices: llava-1.5-7b", "a100-80gb, jetson-agx-orin-64gb",
                 "KV int8"]),
    "compare-compression": (["compare-compression", M, "-H", H, "--keep", "0.1", "--plot",
                             "OUT"], ["Savings: llava-1.5-7b", "a100-80gb",
                                      "compression: select@projector keep 0.1"]),
    "validate": (["validate", "-m", L3, "-H", "a100-80gb-vidur", "--plot", "OUT"],
                 ["Predicted vs measured", "Vidur operators", "a100-80gb-vidur",
                  "engine eager execution"]),
    "published": (["validate", "--published", PUBLISHED, "--plot", "OUT"],
                  ["Published runs", "llama-2-7b", "a100-80gb", "h100-sxm", "vllm"]),
    "published-memory": (["validate", "--published", PUBLISHED.replace("_runs", "_memory"),
                          "--plot", "OUT"],
                         ["Published runs", "qwen2.5-0.5b-instruct", "a100-80gb", "hf-eager"]),
}


@pytest.mark.parametrize("kind", list(FIGURES))
def test_each_figure_title_names_what_it_shows(kind, tmp_path, capsys):
    args, names = FIGURES[kind]
    out_file = tmp_path / f"{kind}.svg"
    code, out, err = run([a.replace("OUT", str(out_file)) for a in args], capsys)
    assert code == 0, err
    names_workload(svg_title(out_file), *names)
    assert f"wrote {out_file}" in err.splitlines() and "wrote" not in out


def test_savings_from_csv_titled_from_its_context_columns(tmp_path, capsys):
    code, csv_text, err = run(["compare-compression", M, "-H", "l4", "--keep", "0.25",
                               "--batch", "2", "-f", "csv"], capsys)
    assert code == 0, err
    src = tmp_path / "s.csv"
    src.write_text(csv_text)
    png = tmp_path / "s.png"
    code, out, err = run(["plot", "savings", "--from", str(src), "-o", str(png), "--title",
                          "Keep a quarter"], capsys)
    assert code == 0, err
    from PIL import Image

    title = Image.open(png).info["Title"]
    names_workload(title, "Keep a quarter: llava-1.5-7b on", "(l4)", "batch 2",
                   "select@projector keep 0.25", "engine hf-eager")


def test_quiet_silences_the_wrote_line_and_stdout_is_unchanged(tmp_path, capsys):
    base = ["sweep", M, "-H", H, "--visual-tokens", "0:64:64", "-f", "csv"]
    code, plain, _ = run(base, capsys)
    assert code == 0
    for args in (base + ["--plot", str(tmp_path / "a.png")],
                 base + ["--plot", str(tmp_path / "b.png"), "--quiet"],
                 ["-q", *base, "--plot", str(tmp_path / "c.png")]):
        code, out, err = run(args, capsys)
        assert code == 0 and out == plain
        assert err == ("" if "-q" in args or "--quiet" in args else
                       f"wrote {tmp_path / 'a.png'}\n")


def test_profile_csv_says_what_it_wrote(tmp_path, capsys):
    pytest.importorskip("torch")
    out_csv = tmp_path / "p.csv"
    code, _, err = run(["profile", "--tiny", "--visual-tokens", "4", "--repeats", "1",
                        "--warmup", "0", "--no-cuda-graphs", "-o", str(out_csv)], capsys)
    assert code == 0, err
    assert err.splitlines() == [f"wrote {out_csv}"]


@pytest.fixture(scope="module")
def op_frame():
    return estimate(M, H).to_frame()


def test_breakdown_shows_every_stage(op_frame):
    fig = breakdown_figure(op_frame, "t")
    for ax in fig.axes:
        lo, _ = ax.get_ylim()
        assert ax.get_yscale() == "log"
        tops = {}
        for p in ax.patches:
            x = round(p.get_x(), 6)
            tops[x] = max(tops.get(x, 0.0), p.get_y() + p.get_height())
        assert len(tops) == 4 and min(tops.values()) > 5 * lo  # every stage clearly above floor
    assert figure_title(fig) == "t"


def _records(ttft: list[float]) -> list[dict]:
    return [{"hardware": f"d{i}", "ttft_s": t, "tpot_s": t / 10, "tokens_per_s": 1 / t,
             "total_memory_bytes": 20e9, "capacity_bytes": cap, "fits": 20e9 <= cap}
            for i, (t, cap) in enumerate(zip(ttft, (80e9, 24e9, 16e9), strict=False))]


def test_compare_memory_panel_and_outlier_log_scale():
    fig = compare_figure(_records([0.1, 0.12, 5.0]), "llava on d0, d1, d2")
    ttft, tpot, thr, mem = fig.axes
    assert ttft.get_yscale() == "log" and "log" in ttft.get_title()
    assert "memory" in mem.get_ylabel() and "capacity" in mem.get_title()
    heights = [p.get_height() for p in mem.patches]
    assert heights == pytest.approx([20, 20, 20])
    caps = mem.collections[0].get_segments()
    assert [s[0][1] for s in caps] == pytest.approx([80, 24, 16])
    even = compare_figure(_records([0.1, 0.12, 0.15]), "t")
    assert even.axes[0].get_yscale() == "linear"


def test_narrow_log_axis_still_has_numbers():
    from matplotlib.figure import Figure

    from costmodel.plots import plain_log_ticks

    fig = Figure()
    ax = fig.add_subplot()
    ax.plot([1, 2], [31, 44])
    ax.set_yscale("log")
    plain_log_ticks(ax.yaxis)
    fig.canvas.draw()
    shown = [t.get_text() for t in ax.yaxis.get_ticklabels(minor=True) + ax.get_yticklabels()
             if t.get_text() and ax.get_ylim()[0] <= t.get_position()[1] <= ax.get_ylim()[1]]
    assert "40" in shown


def test_one_name_per_concept(tmp_path, capsys):
    """-o/--output for files, --plot for figures: plot commands take --plot as well, profile
    keeps its old --out."""
    fig = tmp_path / "r.svg"
    code, _, err = run(["plot", "roofline", M, "-H", H, "--plot", str(fig)], capsys)
    assert code == 0, err
    assert fig.exists()
    code, _, err = run(["profile", "--tiny", "--visual-tokens", "4", "--repeats", "1",
                        "--warmup", "0", "--no-cuda-graphs", "--out", "/proc/x.csv"], capsys)
    assert code == 2 and err.startswith("error: --output: cannot write")
