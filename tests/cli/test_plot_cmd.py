"""`costmodel plot`: each kind writes a file of the right type, --set reaches the profile, bad
input is one line and exit 2 with nothing written; `sweep --plot` and `compare-compression --plot`
draw; `estimate` never imports matplotlib."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("matplotlib")

from tests.helpers import run, savings_df  # noqa: E402

LLAVA_CONFIG = {
    "model_type": "llava", "vision_feature_layer": -2, "text_config": {"model_type": "llama"},
    "vision_config": {"model_type": "clip_vision_model", "hidden_size": 1024,
                      "intermediate_size": 4096, "num_hidden_layers": 24,
                      "num_attention_heads": 16, "image_size": 336, "patch_size": 14},
}
MAGIC = {"png": b"\x89PNG", "pdf": b"%PDF", "svg": b"<?xml"}


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "llava.json"
    path.write_text(json.dumps(LLAVA_CONFIG))
    return str(path)


@pytest.mark.parametrize("kind,fmt", [("roofline", "png"), ("breakdown", "svg"),
                                      ("roofline", "pdf")])
def test_cli_writes_file_of_type(kind, fmt, config, tmp_path, capsys):
    out = tmp_path / f"fig.{fmt}"
    code, _, err = run(["plot", kind, config, "-H", "a100-80gb", "--visual-tokens", "576",
                        "-o", str(out)], capsys)
    assert code == 0, err
    assert out.read_bytes().startswith(MAGIC[fmt])
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_cli_what_if_set_reaches_the_profile(config, tmp_path, capsys, monkeypatch):
    from costmodel.cli import plot_cmd

    seen = []
    monkeypatch.setattr(plot_cmd, "save", lambda fig, path: seen.append(fig))
    code, _, err = run(["plot", "roofline", config, "-H", "a100-80gb", "--set",
                        "memory_bandwidth_GBps=x2", "-o", str(tmp_path / "r.png")], capsys)
    assert code == 0, err
    ridge = next(ln for ln in seen[0].axes[0].get_lines() if ln.get_label().startswith("ridge"))
    assert ridge.get_xdata()[0] == pytest.approx(312e12 / (2 * 2039e9))
    assert "(what-if)" in seen[0].axes[0].get_title()


def test_cli_sweep_png(config, tmp_path, capsys):
    out = tmp_path / "sweep.png"
    code, _, err = run(["plot", "sweep", config, "-H", "a100-80gb,l4", "--visual-tokens",
                        "0:1152:576", "-o", str(out)], capsys)
    assert code == 0, err
    assert out.read_bytes().startswith(MAGIC["png"])


def test_cli_sweep_over_video_frames_draws_what_sweep_plots(tmp_path, capsys, monkeypatch):
    """plot sweep's --video-frames is the frames axis of `sweep --video-frames` (it was one
    count, refused beside the default --visual-tokens grid, with --image-size refused too);
    both draw through cli/sweep_run.py, the frames on the x axis."""
    from costmodel.cli import sweep_run
    from costmodel.plots import figure_title

    seen = []
    monkeypatch.setattr(sweep_run, "save", lambda fig, *a: seen.append(fig))
    opts = ["qwen2.5-vl-7b", "-H", "a100-80gb", "--video-frames", "4,8",
            "--image-size", "448x448"]
    code, _, err = run(["plot", "sweep", *opts, "-o", str(tmp_path / "v.png")], capsys)
    assert code == 0, err
    code, _, err = run(["sweep", *opts, "--plot", str(tmp_path / "w.png")], capsys)
    assert code == 0, err
    assert len(seen) == 2
    drawn = [[(tuple(ln.get_xdata()), tuple(ln.get_ydata())) for ln in f.axes[0].get_lines()]
             for f in seen]
    assert drawn[0] == drawn[1] and drawn[0][0][0] == (4, 8)
    assert "512-1024 (x axis: 4, 8 frames) visual" in figure_title(seen[0])


def test_cli_savings_from_csv(tmp_path, capsys):
    src = tmp_path / "savings.csv"
    savings_df().to_csv(src, index=False)
    out = tmp_path / "savings.pdf"
    code, _, err = run(["plot", "savings", "--from", str(src), "-o", str(out)], capsys)
    assert code == 0, err
    assert out.read_bytes().startswith(MAGIC["pdf"])


@pytest.mark.parametrize("args,needle", [
    (["plot", "roofline", "CONFIG", "-H", "a100-80gb", "-o", "OUT/fig.jpg"], "--output"),
    (["plot", "roofline", "CONFIG", "-H", "a100-80gb", "-o", "OUT/nodir/fig.png"], "directory"),
    (["plot", "roofline", "CONFIG", "-H", "a100-80gbx", "-o", "OUT/fig.png"], "did you mean"),
    (["plot", "sweep", "CONFIG", "-H", "a100-80gb", "--visual-tokens", "9:1", "-o",
      "OUT/fig.png"], "--visual-tokens"),
    (["plot", "roofline", "CONFIG", "-H", "a100-80gb", "--set", "hbm=1", "-o", "OUT/fig.png"],
     "--set: unknown key 'hbm'"),
    (["plot", "sweep", "CONFIG", "-H", "a100-80gb", "--set", "hbm=1", "-o", "OUT/fig.png"],
     "--set: unknown key 'hbm'"),
    (["plot", "savings", "--from", "OUT/none.csv", "-o", "OUT/fig.png"], "--from"),
    (["plot", "savings", "--from", "OUT/bad.csv", "-o", "OUT/fig.png"], "savings_pct"),
    (["plot", "savings", "--from", "OUT/text.csv", "-o", "OUT/fig.png"], "must be numbers"),
])
def test_cli_bad_input_one_line_exit_2(args, needle, config, tmp_path, capsys):
    (tmp_path / "bad.csv").write_text("stage,metric,baseline,compressed\nprefill,flops,1,2\n")
    (tmp_path / "text.csv").write_text("stage,metric,baseline,compressed,savings_pct\n"
                                       "prefill,flops,1 TFLOP,2,-100\n")
    args = [a.replace("CONFIG", config).replace("OUT", str(tmp_path)) for a in args]
    code, out, err = run(args, capsys)
    assert code == 2
    assert err.startswith("error:") and err.count("\n") == 1 and needle in err
    assert not list(tmp_path.glob("fig.*")) and not list(tmp_path.glob(".fig*"))


def test_estimate_with_plot_registered_imports_no_matplotlib(config):
    code = ("import sys\nfrom costmodel.cli import main\n"
            f"try:\n    main(['estimate', {config!r}, '-H', 'a100-80gb'])\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            "print([m for m in ('matplotlib', 'pandas') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_sweep_and_compare_compression_draw_plots(tmp_path, capsys):
    from costmodel.cli import main

    png, svg = tmp_path / "sweep.png", tmp_path / "savings.svg"
    for args in (["sweep", "llava-1.5-7b", "-H", "a100-80gb,l4", "--visual-tokens", "0:576:64",
                  "-f", "csv", "--plot", str(png)],
                 ["compare-compression", "llava-1.5-7b", "-H", "a100-80gb", "--keep", "0.1",
                  "--plot", str(svg)]):
        try:
            main(args)
        except SystemExit as e:  # pragma: no cover - a failure shows the error line
            raise AssertionError(capsys.readouterr().err) from e
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in svg.read_bytes()[:400]
    # A bad suffix fails before any work and writes nothing.
    bad = tmp_path / "x.gif"
    with pytest.raises(SystemExit) as ei:
        main(["sweep", "llava-1.5-7b", "-H", "a100-80gb", "--visual-tokens", "0:64:64",
              "--plot", str(bad)])
    assert ei.value.code == 2 and not bad.exists()
