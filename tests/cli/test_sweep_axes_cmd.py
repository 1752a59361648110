"""`costmodel sweep` over images (--images, --image-size lists) and over video seconds
(--seconds with --fps lists): every row equals `estimate` with those options, the table heads
the swept inputs, bad combinations are one line on stderr with exit code 2; the grid parsers
behind them (costmodel/cli/parsing.py). The library: tests/unit/analysis/test_sweep_axes.py."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from costmodel.cli import app
from costmodel.cli.parsing import parse_image_sizes, parse_real_grid
from costmodel.errors import CostmodelError
from tests.helpers import run

H = "a100-80gb"
RUNNER = CliRunner()


def _invoke(args: list[str]) -> str:
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def _estimate(args: list[str]) -> dict:
    return json.loads(_invoke(["estimate", *args, "-f", "json"]))


def _agree(rows: pd.DataFrame, model: str, options) -> None:
    """Each decode row against `costmodel estimate` with the options naming its point."""
    for r in rows[rows.stage == "decode"].itertuples():
        est = _estimate([model, "-H", str(r.hardware), "--batch", str(r.batch), *options(r)])
        assert est["stages"]["vision"]["flops"] == pytest.approx(
            rows[(rows.index == r.Index - 3)].flops.iloc[0], rel=1e-12)
        for key in ("ttft_s", "tpot_s", "e2e_latency_s"):
            assert getattr(r, key) == pytest.approx(est[key], rel=1e-12), key
            assert getattr(r, f"bound_{key}") == pytest.approx(est["bound"][key], rel=1e-12)
        assert r.total_memory_bytes == pytest.approx(est["memory"]["total_memory_bytes"], rel=1e-12)


def test_sweep_images_and_sizes_equals_estimate():
    out = _invoke(["sweep", "qwen2-vl-2b", "-H", f"{H},l4", "--images", "1,2,4",
                   "--image-size", "448x448,1280x720", "--batch", "1,3", "-f", "csv"])
    df = pd.read_csv(io.StringIO(out))
    assert len(df) == 2 * 2 * 3 * 2 * 4
    dec = df[(df.stage == "decode") & (df.hardware == H) & (df.batch == 1)]
    assert dec["image_size"].tolist() == ["448x448"] * 3 + ["1280x720"] * 3
    assert dec["images"].tolist() == [1, 2, 4] * 2
    assert dec["visual_tokens"].tolist() == [256, 512, 1024, 1196, 2392, 4784]
    _agree(df, "qwen2-vl-2b", lambda r: ["--images", str(r.images), "--image-size",
                                         r.image_size])


def test_sweep_images_on_a_fixed_model_at_its_size():
    out = _invoke(["sweep", "llava-1.5-7b", "-H", H, "--images", "0:3", "-f", "csv"])
    df = pd.read_csv(io.StringIO(out))
    dec = df[df.stage == "decode"]
    assert dec["visual_tokens"].tolist() == [0, 576, 1152, 1728]
    assert set(dec["image_size"]) == {"336x336"}
    _agree(df[df.images > 0], "llava-1.5-7b", lambda r: ["--images", str(r.images)])


def test_sweep_video_seconds_at_fps_equals_estimate():
    """A video of 4, 8, 16, 32 s at 2 fps (and 0.5): the frames Qwen2-VL's processor samples."""
    out = _invoke(["sweep", "qwen2-vl-2b", "-H", H, "--seconds", "4,8,16,32", "--fps", "0.5,2",
                   "--image-size", "448x448", "-f", "csv"])
    df = pd.read_csv(io.StringIO(out))
    assert "image_size" not in df.columns  # one frame size
    dec = df[df.stage == "decode"]
    assert dec["video_fps"].tolist() == [0.5] * 4 + [2.0] * 4
    assert dec["video_seconds"].tolist() == [4, 8, 16, 32] * 2
    assert dec["video_frames"].tolist() == [4, 4, 8, 16, 8, 16, 32, 64]
    _agree(df, "qwen2-vl-2b", lambda r: ["--seconds", f"{r.video_seconds:g}", "--fps",
                                         f"{r.video_fps:g}", "--image-size", "448x448"])


def test_sweep_video_seconds_with_a_video_compression():
    """--method dycoke:0.5 (a video's per-frame merge) at every point of a seconds axis."""
    out = _invoke(["sweep", "llava-onevision-0.5b", "-H", H, "--seconds", "4,8", "--fps", "2",
                   "--method", "dycoke:0.5", "-f", "csv"])
    df = pd.read_csv(io.StringIO(out))
    assert df[df.stage == "decode"]["video_frames"].tolist() == [8, 16]
    _agree(df, "llava-onevision-0.5b", lambda r: ["--seconds", f"{r.video_seconds:g}", "--fps",
                                                  "2", "--method", "dycoke:0.5"])


def test_sweep_qwen3_vl_seconds_text_and_json():
    """Qwen3-VL writes timestamps that follow the seconds: the sweep's TTFT still equals
    estimate's; -f json gives the inputs as numbers and the size as text."""
    out = _invoke(["sweep", "qwen3-vl-8b", "-H", H, "--seconds", "2.5:10:2.5", "--fps", "2",
                   "--image-size", "448x448,640x360", "-f", "json"])
    rows = json.loads(out)
    assert {r["image_size"] for r in rows} == {"448x448", "640x360"}
    assert sorted({r["video_seconds"] for r in rows}) == [2.5, 5.0, 7.5, 10.0]
    df = pd.DataFrame(rows)
    _agree(df, "qwen3-vl-8b", lambda r: ["--seconds", f"{r.video_seconds:g}", "--fps", "2",
                                         "--image-size", r.image_size])


def test_the_table_heads_the_swept_inputs():
    out = _invoke(["sweep", "qwen2-vl-2b", "-H", H, "--images", "1,2", "--image-size",
                   "448x448,896x896"])
    head = out.splitlines()[0].split()
    assert head[:7] == ["model", "hardware", "batch", "size", "images", "visual", "stage"]
    out = _invoke(["sweep", "qwen2-vl-2b", "-H", H, "--seconds", "4", "--fps", "1,2"])
    assert out.splitlines()[0].split()[3:7] == ["fps", "seconds", "frames", "visual"]
    row = out.splitlines()[2].split()
    assert row[3:7] == ["1", "4", "4", "1152"]
    out = _invoke(["sweep", "qwen2-vl-2b", "-H", H, "--visual-tokens", "64"])
    assert out.splitlines()[0].split()[3] == "visual"  # the token axis: as before


def test_visual_tokens_with_one_image_count_spread_over_images():
    """--images N beside --visual-tokens: estimate's meaning (a dynamic model's tokens over N
    images); a fixed model refuses it as estimate does."""
    out = _invoke(["sweep", "qwen2-vl-2b", "-H", H, "--visual-tokens", "1000", "--images", "2",
                   "-f", "json"])
    row = json.loads(out)[3]
    est = _estimate(["qwen2-vl-2b", "-H", H, "--visual-tokens", "1000", "--images", "2"])
    assert row["ttft_s"] == pytest.approx(est["ttft_s"], rel=1e-12)


E = ["sweep", "qwen2-vl-2b", "-H", H]
BAD = [
    (E, "--visual-tokens: a sweep needs an axis; give --visual-tokens, --images (and/or "
        "--image-size), --video-frames, or --seconds with --fps"),
    (E + ["--images", "1,2", "--visual-tokens", "64"], "--images: beside --visual-tokens the "
     "images are one count"),
    (E + ["--image-size", "448x448", "--visual-tokens", "64"], "--image-size: the visual tokens "
     "are the sweep's axis, so no image size sets them; drop --image-size (or sweep --images)"),
    (E + ["--seconds", "4,8"], "--seconds: needs --fps (transformers' video processors set no "
     "default fps); add --fps 2"),
    (E + ["--fps", "2"], "--fps: an fps samples a clip of given seconds; add --seconds"),
    (E + ["--fps", "2", "--video-frames", "8"], "--fps: a sweep over video frames gives the "
     "frames; drop --fps"),
    (E + ["--fps", "2", "--images", "1"], "--fps: an fps samples a clip of given seconds"),
    (E + ["--seconds", "4", "--fps", "2", "--video-frames", "8"], "--seconds: a sweep varies "
     "one visual input and the video frames are its axis here; give --video-frames or "
     "--seconds, not both"),
    (E + ["--seconds", "4", "--fps", "2", "--visual-tokens", "8"], "--seconds: a sweep varies "
     "one visual input"),
    (E + ["--images", "2", "--video-frames", "8"], "--images: a request carries one video or "
     "images, not both; drop --images"),
    (E + ["--images", "2", "--seconds", "8", "--fps", "1"], "--images: a request carries one "
     "video or images"),
    (E + ["--images", "1:5000"], "--images: 5000 is outside 0..4096"),
    (E + ["--images", "1.5"], "--images: '1.5' is not a whole number"),
    (E + ["--seconds", "0,4", "--fps", "2"], "--seconds: 0 is outside 0 < x <= 86400"),
    (E + ["--seconds", "4", "--fps", "2000"], "--fps: 2000 is outside 0 < x <= 1000"),
    (E + ["--seconds", "4s", "--fps", "2"], "--seconds: '4s' is not a number or start:stop[:step]"),
    (E + ["--images", "1", "--image-size", "448x448,44"], "--image-size: '44' is not "
     "WIDTHxHEIGHT"),
    (E + ["--images", "0:4096", "--image-size", ",".join(f"{28 * i}x448" for i in range(1, 30)),
          "--batch", "1:512"], "--images: 60832256 points exceed 50000000"),
    (["sweep", "llava-1.5-7b", "-H", H, "--images", "1", "--image-size", "336x336,672x672"],
     "--image-size: llava-1.5-7b's tokens do not depend on the image size (its fixed token "
     "scheme resizes every image to 336x336), so each size gives the same point; give one size"),
    (["sweep", "llava-onevision-0.5b", "-H", H, "--seconds", "8", "--fps", "1", "--image-size",
      "336x336,672x672"], "(every video frame is resized to 384x384)"),
    (["sweep", "llava-1.5-7b", "-H", H, "--images", "2", "--visual-tokens", "500"],
     "--images: llava-1.5-7b takes --visual-tokens as the total"),
    (["sweep", "llama-3-8b", "-H", H, "--images", "1,2"], "--images: llama-3-8b has no vision "
     "tower; drop --images and --image-size"),
    (["sweep", "llama-3-8b", "-H", H, "--seconds", "4", "--fps", "1"], "--video-frames: "
     "llama-3-8b has no vision tower; drop the video options"),
    (["sweep", "llava-1.5-7b", "-H", H, "--seconds", "4", "--fps", "1"], "--video-frames: "
     "llava-1.5-7b (fixed token scheme) has no video input"),
    (["sweep", "internvl3-2b", "-H", H, "--seconds", "1", "--fps", "0.5"], "--seconds/--fps: "
     "1 s at 0.5 fps samples no frame for InternVL"),
]


@pytest.mark.parametrize(("args", "needle"), BAD, ids=[" ".join(a[1:])[:80] for a, _ in BAD])
def test_bad_axes_one_line_exit_2(args, needle, capsys):
    code, out, err = run(args, capsys)
    assert code == 2 and out == "", (out, err)
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert needle in err, err


def test_parse_real_grid():
    assert parse_real_grid("4,8,16,32", "--seconds", 100).tolist() == [4, 8, 16, 32]
    assert parse_real_grid("2:10:2", "--seconds", 100).tolist() == [2, 4, 6, 8, 10]
    assert parse_real_grid("0.1:0.5:0.1", "--fps", 10).tolist() == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert parse_real_grid("2.5, .5,2.5", "--fps", 10).tolist() == [0.5, 2.5]
    assert parse_real_grid("1:2", "--fps", 10).tolist() == [1, 2]  # step 1 by default
    for bad in ("", "a", "-1", "2:1", "1:2:0", "inf", "nan", "1e3", "0"):
        with pytest.raises(CostmodelError, match="^--seconds: "):
            parse_real_grid(bad, "--seconds", 100)


def test_parse_image_sizes():
    assert parse_image_sizes("448x448, 896X672,448*448") == [(448, 448), (896, 672)]
    with pytest.raises(CostmodelError, match="^--image-size: '' is not WIDTHxHEIGHT"):
        parse_image_sizes("448x448,")


def test_sweep_help_shows_the_axes_and_examples():
    out = _invoke(["sweep", "--help"])
    for option in ("--images", "--image-size", "--seconds", "--fps", "--video-frames"):
        assert option in out
    assert "--images 1,2,4,8" in out and "--seconds 4,8,16,32 --fps 2" in out
