"""Bugs found by fuzzing the workload commands (estimate, sweep, compare, plan, batching, energy,
compare-compression, capacity) with random option combinations: each test is one reproducer."""

from __future__ import annotations

import csv
import json
import math

import pytest

from tests.helpers import run

BASE = ["llava-1.5-7b", "-H", "a100-80gb"]


def _numbers(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _numbers(v)
    elif isinstance(obj, float):
        yield obj


def _json(args, capsys):
    code, out, err = run(args + ["-f", "json"], capsys)
    assert code == 0, err
    return json.loads(out)


@pytest.mark.parametrize("comp", [["--keep", "0"], ["--keep", "0", "--method", "cluster"],
                                  ["--keep", "0", "--method", "merge"]])
def test_keeping_no_visual_token_gives_finite_latencies(comp, capsys):
    """--keep 0 made the method's own selection a GEMM with k = 0, priced NaN on every engine
    with measured kernels (expected TTFT and end-to-end 'nan')."""
    est = _json(["estimate", *BASE, *comp], capsys)
    assert all(math.isfinite(x) for x in _numbers(est))
    assert est["ttft_s"] > 0 and est["stages"]["projector"]["latency_s"] > 0


@pytest.mark.parametrize("cmd", ["estimate", "compare", "compare-compression"])
@pytest.mark.parametrize("extra, option", [
    (["--images", "2"], "--images"), (["--image-size", "672x672"], "--image-size"),
    (["--keep", "0.5"], "--keep"), (["--method", "fastv", "--keep", "0.5"], "--keep"),
    (["--schedule", "0:576,8:288"], "--schedule")])
def test_text_only_model_refuses_image_and_visual_compression_options(cmd, extra, option,
                                                                       capsys):
    """On a text-only model these options changed nothing (or only added the method's scoring
    cost on zero visual tokens) and were accepted silently; --visual-tokens was refused."""
    kv = ["--kv-keep", "0.5"] if cmd == "compare-compression" else []  # it needs a compression
    code, out, err = run([cmd, "llama-3-8b", "-H", "a100-80gb", *extra, *kv], capsys)
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith(f"error: {option}: llama-3-8b has no vision")


def test_text_only_model_keeps_kv_compression_and_video_message(capsys):
    assert run(["estimate", "llama-3-8b", "-H", "a100-80gb", "--kv-keep", "0.5"], capsys)[0] == 0
    code, _, err = run(["estimate", "llama-3-8b", "-H", "a100-80gb", "--video-frames", "8",
                        "--image-size", "448x448"], capsys)
    assert code == 2 and err.startswith("error: --video-frames: llama-3-8b has no vision tower")


@pytest.mark.parametrize("args, start, fix", [
    # named no option ('error: compression.kv: ...') and pointed at where=projector, which
    # the command line spells --at projector
    (["estimate", "llama-3.2-11b-vision", "-H", "a100-80gb", "--kv-keep", "0.5"],
     "--kv-keep: KV-cache eviction", "--at projector"),
    # named no option ('error: llm-viewer has no rolling KV cache or sparse decode')
    (["plan", "qwen2-vl-7b", "-H", "a100-80gb", "--ttft", "1", "--convention", "llm-viewer",
      "--kv-keep", "0.5", "--kv-policy", "sink_window:rolling"],
     "--kv-policy: llm-viewer has no rolling KV cache", "drop ':rolling'"),
    # named --convention for an --overlap / --logits the user gave
    (["estimate", *BASE, "--convention", "llm-viewer", "--overlap", "serial"],
     "--overlap: llm-viewer uses the roofline max", "--convention costmodel"),
    (["batching", *BASE, "--convention", "llm-viewer", "--logits", "all"],
     "--logits: llm-viewer computes last-token logits", "--convention costmodel"),
    # offered --merge-per-layer, which estimate/plan do not have, to a --method dymu user
    (["estimate", *BASE, "--method", "dymu", "--keep", "64"],
     "--keep: merging in the ViT", "--keep 0.5"),
    (["estimate", "qwen2-vl-7b", "-H", "a100-80gb", "--ep", "2"], "--ep: qwen2-vl-7b", "--ep 1"),
    (["estimate", "qwen2-vl-7b", "-H", "a100-80gb", "--keep", "0.5", "--at", "encoder"],
     "--at: 'encoder' is not modelled", "--at llm-layer:K"),
])
def test_refusals_name_the_option_and_a_command_line_fix(args, start, fix, capsys):
    code, out, err = run(args, capsys)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith(f"error: {start}") and fix in err, err


def test_missing_interconnect_names_the_device(capsys):
    """compare over several devices said 'the hardware profile has no GPU-to-GPU link' without
    saying which of them."""
    code, out, err = run(["compare", *BASE[:1], "-H", "a100-80gb,llm-viewer-a100,h100-sxm",
                          "--tp", "2"], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: interconnect: llm-viewer-a100 has no GPU-to-GPU link"), err
    assert "--set interconnect.bandwidth_GBps=" in err


@pytest.mark.parametrize("args", [
    ["energy", "gemma-3-4b", "-H", "llm-viewer-a100,a100-80gb"],  # no TDP: JSON null, CSV 'nan'
    ["compare", "qwen2-vl-7b", "-H", "llm-viewer-a6000"],
    ["plan", "qwen3-30b-a3b", "-H", "h200", "--set", "memory_GB=1", "--ttft", "0.3",
     "--tpot", "0.02"],  # no scaling meets it: JSON null, CSV 'inf'
])
def test_csv_writes_a_missing_figure_as_json_does(args, capsys):
    rows = _json(args, capsys)
    code, out, _ = run(args + ["-f", "csv"], capsys)
    assert code == 0
    header, *lines = out.splitlines()
    for row, rec in zip(csv.DictReader([header, *lines]), rows, strict=True):
        assert [k for k, v in row.items() if v == ""] == [k for k, v in rec.items()
                                                          if v is None or v == ""]


@pytest.mark.parametrize("tokens", [["--visual-tokens", "0"], ["--images", "0"]])
@pytest.mark.parametrize("keep", [["--keep", "0.5"], ["--keep", "64"],
                                  ["--method", "fastv", "--keep", "0.5"]])
def test_token_compression_without_visual_tokens_is_refused(capsys, tokens, keep):
    """A vision model asked for no visual tokens has nothing to compress: --keep is refused in
    one line naming it (it was accepted and changed nothing, or said 'keep fewer')."""
    code, out, err = run(["estimate", "llava-1.5-7b", "-H", "a100-80gb", "--text-tokens", "32",
                          *tokens, *keep], capsys)
    assert code == 2 and out == ""
    assert err.strip().startswith("error: --keep: this request has no visual tokens")
    assert "\n" not in err.strip()


def test_kv_compression_without_visual_tokens_still_works(capsys):
    code, _, _ = run(["estimate", "llava-1.5-7b", "-H", "a100-80gb", "--visual-tokens", "0",
                      "--text-tokens", "512", "--kv-keep", "0.5"], capsys)
    assert code == 0


def test_energy_without_any_power_figure_is_refused(capsys):
    """energy on devices none of which gives a power figure (tdp_W): one line, exit 2 (it
    printed a table of n/a with exit 0); a mix keeps its table and says what n/a means."""
    code, out, err = run(["energy", "llava-1.5-7b", "-H", "llm-viewer-a100"], capsys)
    assert code == 2 and out == "" and "\n" not in err.strip()
    assert err.startswith("error: --hardware: llm-viewer-a100 gives no power figure (tdp_W)")
    code, _, err = run(["energy", "llava-1.5-7b", "-H", "llm-viewer-a100,llm-viewer-h100"], capsys)
    assert code == 2 and err.startswith("error: --hardware: llm-viewer-a100, llm-viewer-h100 "
                                        "give no power figure (tdp_W)")
    code, out, _ = run(["energy", "llava-1.5-7b", "-H", "llm-viewer-a100,a100-80gb"], capsys)
    assert code == 0 and "n/a: the profile gives no power figure" in out
    code, out, _ = run(["energy", "llava-1.5-7b", "-H", "llm-viewer-a100", "--set",
                        "tdp_W=400"], capsys)
    assert code == 0 and "400 W" in out


def test_tempmerge_count_names_the_cli_form(capsys):
    code, out, err = run(["estimate", "qwen2.5-vl-7b", "-H", "a100-80gb", "--video-frames",
                          "16", "--method", "tempmerge:0.5", "--keep", "64"], capsys)
    assert code == 2 and out == ""
    assert err.startswith("error: --keep: tempmerge keeps a ratio") and "--keep 0.5" in err


@pytest.mark.parametrize("args, start, fix", [
    # '--keep: give keep_ratio (0..1) or keep_tokens (a count)'
    (["estimate", *BASE, "--method", "cluster"],
     "--keep: --method cluster needs the visual tokens kept, a ratio 0..1 or a count", "--keep 0.5"),
    (["compare-compression", *BASE, "--method", "sparsevlm"],
     "--keep: --method sparsevlm needs the visual tokens kept", "--keep 0.5"),
    # '--merge-per-layer: ToMe needs merge_per_layer (r) or keep_ratio' (estimate has no
    # --merge-per-layer)
    (["estimate", *BASE, "--method", "tome"], "--keep: --method tome merges in the ViT",
     "--keep 0.5"),
    # '--keep: the pyramiddrop preset keeps a ratio lambda per stage; give keep_ratio, or a
    # schedule for counts'
    (["estimate", *BASE, "--method", "pyramiddrop", "--keep", "64"],
     "--keep: pyramiddrop keeps a ratio lambda per stage, not a count", "--schedule 0:576"),
    # '... not a count; give a ratio 0..1 (keep_ratio; --keep 0.5)'
    (["estimate", "qwen2.5-vl-7b", "-H", "a100-80gb", "--video-frames", "16", "--method",
      "tempmerge:0.5", "--keep", "64"],
     "--keep: tempmerge keeps a ratio of each frame's tokens, not a count", "--keep 0.5"),
])
def test_keep_refusals_name_options_not_library_fields(args, start, fix, capsys):
    """A missing --keep, or a count where the method keeps a ratio, was answered in the
    library's field names (keep_ratio, keep_tokens, merge_per_layer)."""
    code, out, err = run(args, capsys)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith(f"error: {start}") and fix in err, err
    assert not any(f in err for f in ("keep_ratio", "keep_tokens", "merge_per_layer")), err


@pytest.mark.parametrize("models", ["llama-2-7b,llava-1.5-7b", "llava-1.5-7b,llama-2-7b"])
@pytest.mark.parametrize("comp", [["--keep", "0.5"], ["--method", "fastv", "--keep", "0.5"],
                                  ["--schedule", "0:576,8:288"]])
def test_sweep_refuses_visual_compression_on_a_text_only_model_as_estimate(models, comp,
                                                                           tmp_path, capsys):
    """sweep over a text-only and a vision model (--visual-tokens 0) took --keep: exit 0, the
    plot written, the text-only rows labelled 'select@projector keep 0.5' (nothing removed)."""
    _, _, said = run(["estimate", "llama-2-7b", "-H", "a100-80gb", "--visual-tokens", "0",
                      *comp], capsys)
    plot = tmp_path / "sweep.png"
    code, out, err = run(["sweep", models, "-H", "a100-80gb", "--visual-tokens", "0", *comp,
                          "--plot", str(plot), "-f", "csv"], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1 and not plot.exists()
    assert err == said and "llama-2-7b has no vision tower" in err, err


def test_sweep_of_a_text_only_model_keeps_kv_compression(capsys):
    rows = _json(["sweep", "llama-2-7b,llava-1.5-7b", "-H", "a100-80gb", "--visual-tokens", "0",
                  "--kv-keep", "0.5"], capsys)
    assert {r["model"] for r in rows} == {"llama-2-7b", "llava-1.5-7b"}


@pytest.mark.parametrize("cmd", ["estimate", "compare-compression"])
@pytest.mark.parametrize("at", ["encoder", "projector"])
def test_at_with_only_kv_compression_is_refused(cmd, at, capsys):
    """--at placed nothing when only --kv-keep was given: compare-compression ran the KV
    compression and dropped --at (as estimate did for an explicit --at projector)."""
    code, out, err = run([cmd, *BASE, "--kv-keep", "0.5", "--at", at], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith(f"error: --at: '{at}' places a compression; give --keep too"), err
