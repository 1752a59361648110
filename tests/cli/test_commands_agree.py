"""The same workload options on `estimate`, `sweep` and `compare` give the same TTFT, TPOT and
end-to-end latency (the library entry points: tests/unit/analysis/test_entry_points.py)."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run

CLI_CASES = {
    "batch": ["--batch", "4"], "text_tokens": ["--text-tokens", "200"],
    "output_tokens": ["--output-tokens", "33"], "weight_dtype": ["--weight-dtype", "int4"],
    "weight_group": ["--weight-dtype", "int4", "--weight-group", "32", "--weight-group-bytes", "4"],
    "kv_dtype": ["--kv-dtype", "int8"], "flash_attention": ["--no-flash-attention"],
    "overlap": ["--overlap", "serial"], "logits": ["--logits", "all"],
    "convention": ["--convention", "llm-viewer"], "engine": ["--engine", "vllm"],
    "parallel": ["--tp", "2", "--pp", "2", "--microbatches", "2", "--batch", "2"],
}


def _json(args, capsys):
    code, out, err = run(args + ["-f", "json"], capsys)
    if code:
        pytest.fail(f"exit {code}: {err}")
    return json.loads(out)


@pytest.mark.parametrize("field", list(CLI_CASES))
def test_cli_commands_agree_with_estimate(field, capsys):
    """The same options on estimate, sweep and compare give the same TTFT/TPOT/e2e."""
    opts = ["llava-1.5-7b", "-H", "a100-80gb", "--visual-tokens", "576", *CLI_CASES[field]]
    est = _json(["estimate", *opts], capsys)
    sw = [r for r in _json(["sweep", *opts], capsys) if r["stage"] == "decode"][0]
    cmp = _json(["compare", *opts, "--dtype", "bf16"], capsys)[0]
    for key in ("ttft_s", "tpot_s", "e2e_latency_s"):
        assert sw[key] == pytest.approx(est[key], rel=1e-12)
        assert cmp[key] == pytest.approx(est[key], rel=1e-12)
        assert sw[f"bound_{key}"] == pytest.approx(est["bound"][key], rel=1e-12)
        assert cmp[f"bound_{key}"] == pytest.approx(est["bound"][key], rel=1e-12)


def test_cli_commands_agree_where_vllm_06_chunks(capsys):
    """A text-only prompt of 40000 tokens on vllm-0.6 runs in 512-token chunks (vLLM 0.6 does
    not chunk multimodal models): estimate, sweep and compare agree, and the chunks show."""
    cfg = "costmodel/calibration/data/configs/llama-3.1-8b/config.json"
    opts = [cfg, "-H", "a100-80gb", "--visual-tokens", "0", "--text-tokens", "40000"]
    est = _json(["estimate", *opts, "--engine", "vllm-0.6"], capsys)
    sw = [r for r in _json(["sweep", *opts, "--engine", "vllm-0.6"], capsys)
          if r["stage"] == "decode"][0]
    cmp = _json(["compare", *opts, "--engine", "vllm-0.6", "--dtype", "bf16"], capsys)[0]
    for key in ("ttft_s", "tpot_s", "e2e_latency_s"):
        assert sw[key] == pytest.approx(est[key], rel=1e-12)
        assert cmp[key] == pytest.approx(est[key], rel=1e-12)
    one_pass = _json(["estimate", *opts, "--engine", "vllm"], capsys)
    assert est["ttft_s"] > one_pass["ttft_s"]


# The request's visual input as estimate and compare take it (one value each) and as sweep
# takes it (the same options, one-point axes): images at a size, a video's seconds at an fps.
INPUT_CASES = {
    "images": ["qwen2-vl-2b", "--images", "3", "--image-size", "640x480"],
    "images_anyres": ["llava-next-vicuna-7b", "--images", "2", "--image-size", "672x336"],
    "images_fixed": ["llava-1.5-7b", "--images", "2"],
    "image_size_alone": ["internvl3-2b", "--image-size", "1600x900"],
    "seconds": ["qwen2-vl-2b", "--seconds", "7.5", "--fps", "2", "--image-size", "448x448"],
    "seconds_qwen3": ["qwen3-vl-8b", "--seconds", "10", "--fps", "1.5"],
    "frames": ["llava-onevision-0.5b", "--video-frames", "12"],
}


@pytest.mark.parametrize("case", list(INPUT_CASES))
def test_cli_commands_agree_on_images_and_video(case, capsys):
    """estimate, sweep and compare with --images/--image-size or --seconds/--fps agree."""
    opts = [INPUT_CASES[case][0], "-H", "a100-80gb", *INPUT_CASES[case][1:], "--batch", "2"]
    est = _json(["estimate", *opts], capsys)
    sw = [r for r in _json(["sweep", *opts], capsys) if r["stage"] == "decode"]
    cmp = _json(["compare", *opts, "--dtype", "bf16"], capsys)[0]
    assert len(sw) == 1
    for key in ("ttft_s", "tpot_s", "e2e_latency_s"):
        assert sw[0][key] == pytest.approx(est[key], rel=1e-12)
        assert cmp[key] == pytest.approx(est[key], rel=1e-12)
        assert sw[0][f"bound_{key}"] == pytest.approx(est["bound"][key], rel=1e-12)
    assert sw[0]["total_memory_bytes"] == pytest.approx(est["memory"]["total_memory_bytes"], rel=1e-12)
    video = est["workload"].get("video_frames")
    if video is not None:
        assert sw[0]["video_frames"] == video
