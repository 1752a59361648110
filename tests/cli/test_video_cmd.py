"""Video inputs on the command line: --video-frames / --fps / --seconds on every command that
takes the workload options, the 'video: N frames of WxH' header, the sweep's frames axis, a
compression scenario on video tokens, and bad combinations refused in one line (exit 2)."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from costmodel.analysis.estimate import estimate
from costmodel.cli import app
from costmodel.loading.load import load_hardware, load_model
from costmodel.specs.workload import Workload
from tests.helpers import run

H = "a100-80gb"
Q = ["qwen2-vl-7b", "-H", H]
VIDEO = ["--video-frames", "16", "--image-size", "448x448"]


def test_estimate_video_with_clirunner():
    result = CliRunner().invoke(app, ["estimate", *Q, *VIDEO])
    assert result.exit_code == 0, result.output
    head = result.output.splitlines()[1]
    assert head.startswith("batch 1 | 2048 visual tokens (8 ViT passes) + 64 text tokens")
    assert head.endswith("| video: 16 frames of 448x448")


def test_estimate_video_json_equals_the_python_api(capsys):
    code, out, _ = run(["estimate", *Q, *VIDEO, "-f", "json"], capsys)
    assert code == 0
    doc = json.loads(out)
    ref = estimate(load_model("qwen2-vl-7b"), load_hardware(H),
                   Workload(video_frames=16, image_size=(448, 448)))
    assert doc["workload"]["visual_tokens"] == 2048 == ref.plan.llm_tokens
    assert doc["workload"]["vision_crops"] == 8
    assert (doc["workload"]["video_frames"], doc["workload"]["frame_size"]) == (16, [448, 448])
    assert doc["ttft_s"] == ref.ttft_s


def test_fps_seconds_header_names_the_sampling(capsys):
    code, out, _ = run(["estimate", *Q, "--fps", "2", "--seconds", "10", "--image-size",
                        "640x360"], capsys)
    assert code == 0
    # 20 frames -> 10 temporal patches of 26 x 46 patches -> 10 x 299 tokens
    assert ("2990 visual tokens (10 ViT passes)" in out and
            "video: 20 frames of 640x360 (10 s at 2 fps), resized to 644x364" in out)


def test_onevision_video_header(capsys):
    code, out, _ = run(["estimate", "llava-onevision-0.5b", "-H", H, "--video-frames", "32",
                        "--image-size", "384x384"], capsys)
    assert code == 0
    assert "6273 visual tokens (32 ViT passes)" in out  # 32 x 196 + 1 newline
    assert "video: 32 frames of 384x384\n" in out


@pytest.mark.parametrize("command", [
    ["compare", "qwen2-vl-7b", "-H", H], ["energy", "qwen2-vl-7b", "-H", H],
    ["plan", "qwen2-vl-7b", "-H", H, "--ttft", "5"], ["batching", "qwen2-vl-7b", "-H", H],
    ["capacity", "qwen2-vl-7b", "-H", H, "--ttft", "5"],
])
def test_every_workload_command_takes_the_video_options(command, capsys):
    code, out, err = run([*command, *VIDEO, "-f", "json"], capsys)
    assert code == 0, err
    code2, out2, _ = run([*command, "--visual-tokens", "2048", "-f", "json"], capsys)
    assert code2 == 0 and out != out2  # the video's 8 ViT passes differ from one image's


def test_compare_compression_applies_to_video_tokens(capsys):
    """--keep 0.25 --at projector keeps 512 of the video's 2,048 tokens: the compressed
    prefill equals the prefill of an uncompressed 512-token prompt; the ViT is unchanged."""
    code, out, _ = run(["compare-compression", *Q, *VIDEO, "--keep", "0.25", "--at",
                        "projector", "-f", "json"], capsys)
    assert code == 0
    rows = {(r["metric"], r["stage"]): r for r in json.loads(out)["rows"]}
    assert rows["flops", "vision"]["baseline"] == rows["flops", "vision"]["compressed"]
    plain = estimate(load_model("qwen2-vl-7b"), load_hardware(H), Workload(visual_tokens=512))
    assert rows["flops", "prefill"]["compressed"] == plain.stages["prefill"].flops
    assert rows["flops", "prefill"]["baseline"] > 3.5 * plain.stages["prefill"].flops
    code, text, _ = run(["compare-compression", *Q, *VIDEO, "--keep", "0.25"], capsys)
    assert code == 0 and "| video: 16 frames of 448x448" in text.splitlines()[1]


def test_sweep_video_frames_axis_equals_estimate(capsys):
    code, out, _ = run(["sweep", "qwen2-vl-2b", "-H", H, "--video-frames", "8,16,32",
                        "--image-size", "448x448", "--batch", "1,2", "-f", "csv"], capsys)
    assert code == 0
    df = pd.read_csv(io.StringIO(out))
    dec = df[df["stage"] == "decode"]
    assert dec["video_frames"].tolist() == [8, 8, 16, 16, 32, 32]
    assert dec["visual_tokens"].tolist() == [1024, 1024, 2048, 2048, 4096, 4096]
    for r in dec.itertuples():
        ref = estimate(load_model("qwen2-vl-2b"), load_hardware(H), Workload(
            video_frames=r.video_frames, image_size=(448, 448), batch=r.batch))
        assert r.ttft_s == pytest.approx(ref.ttft_s, rel=1e-12)
    code, text, _ = run(["sweep", "qwen2-vl-2b", "-H", H, "--video-frames", "8"], capsys)
    assert code == 0 and text.splitlines()[0].split()[3] == "frames"


def test_image_json_has_no_video_keys(capsys):
    code, out, _ = run(["estimate", *Q, "-f", "json"], capsys)
    assert code == 0 and "video_frames" not in json.loads(out)["workload"]


def test_sweep_without_video_keeps_its_columns(capsys):
    code, out, _ = run(["sweep", "qwen2-vl-2b", "-H", H, "--visual-tokens", "64", "-f", "csv"],
                       capsys)
    assert code == 0 and "video_frames" not in out.splitlines()[0]


E = ["estimate", *Q]
BAD = [
    (["estimate", "llava-1.5-7b", "-H", H, "--video-frames", "8"],
     "--video-frames: llava-1.5-7b (fixed token scheme) has no video input in transformers "
     "5.23; give the frames as --images N"),
    (["estimate", "llava-next-vicuna-7b", "-H", H, "--video-frames", "8"],
     "(anyres token scheme) has no video input"),
    (["estimate", "llama-3-8b", "-H", H, "--video-frames", "8"],
     "--video-frames: llama-3-8b has no vision tower"),
    (E + ["--video-frames", "8", "--visual-tokens", "100"],
     "--video-frames: a video gives the visual tokens itself"),
    (E + ["--video-frames", "8", "--images", "3"], "--images: a request here carries one video"),
    (E + ["--fps", "2"], "--fps: goes with --seconds"),
    (E + ["--seconds", "2"], "--fps: goes with --seconds"),
    (E + ["--fps", "2", "--seconds", "3", "--video-frames", "8"],
     "--video-frames: give --video-frames or --fps with --seconds, not both"),
    (E + ["--fps", "0", "--seconds", "3"], "--fps:"),
    (E + ["--fps", "2", "--seconds", "-1"], "--seconds:"),
    (E + ["--video-frames", "0"], "--video-frames"),
    (E + ["--video-frames", "8", "--image-size", "13x3000"], "refuses more than 200"),
    (["sweep", *Q], "--visual-tokens: a sweep needs an axis; give --visual-tokens, --images "
     "(and/or --image-size), --video-frames, or --seconds with --fps"),
    (["sweep", *Q, "--visual-tokens", "64", "--video-frames", "8"],
     "--video-frames: a sweep varies one visual input"),
    (["sweep", *Q, "--visual-tokens", "64", "--image-size", "448x448"], "--image-size:"),
    (["sweep", *Q, "--video-frames", "0,8"], "--video-frames: 0 is outside 1.."),
    (["sweep", "llava-1.5-7b", "-H", H, "--video-frames", "8"], "has no video input"),
    (["compare", "llava-1.5-7b", "-H", H, "--video-frames", "8"], "has no video input"),
]


@pytest.mark.parametrize("args, needle", BAD, ids=[" ".join(a)[:70] for a, _ in BAD])
def test_bad_video_input_one_line_exit_2(args, needle, capsys):
    code, out, err = run(args, capsys)
    assert code == 2, (out, err)
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert needle in err, err
    assert "Traceback" not in err + out


def test_one_frame_and_one_decode_step_are_singular(capsys):
    """'video: 1 frame of ...' and 'decode (1 step)' (2 output tokens), not '1 frames' / '1 steps';
    plurals as before otherwise."""
    code, out, _ = run(["estimate", *Q, "--video-frames", "1", "--output-tokens", "2"], capsys)
    assert code == 0 and "| video: 1 frame of 672x672\n" in out and "decode (1 step) " in out
    assert "1 frames" not in out and "1 steps" not in out
    code, out, _ = run(["estimate", *Q, "--video-frames", "2", "--output-tokens", "3"], capsys)
    assert code == 0 and "| video: 2 frames of 672x672\n" in out and "decode (2 steps) " in out
