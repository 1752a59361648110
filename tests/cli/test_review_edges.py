"""A new user's review: options that were silently dropped, errors that named a catalog
instead of the option typed, and outputs that read oddly."""

from __future__ import annotations

import pytest

from tests.helpers import run

QWEN = ["qwen2.5-vl-7b", "-H", "a100-80gb"]
NO_IMAGE = ["--images", "0", "--image-size", "672x672"]
SIZE_UNUSED = ("error: --image-size: --images 0 sends no image, so the size would go unused; "
               "drop --image-size, or give --images 1 or more")


@pytest.mark.parametrize("cmd", [
    ["estimate", *QWEN], ["sweep", *QWEN], ["compare", *QWEN], ["energy", *QWEN],
    ["plan", *QWEN, "--ttft", "1"], ["batching", *QWEN, "--batch", "1,2"],
    ["capacity", *QWEN], ["compare-compression", *QWEN, "--kv-keep", "0.5"],
    ["sweep", *QWEN, "--images", "0", "--image-size", "448x448,672x672"],
])
def test_an_image_size_with_no_image_is_refused(cmd, capsys):
    """Was: 0 visual tokens priced and --image-size silently ignored."""
    args = cmd if "--images" in cmd else cmd + NO_IMAGE
    code, out, err = run(args, capsys)
    assert (code, out, err.strip()) == (2, "", SIZE_UNUSED)


def test_an_image_size_still_goes_with_a_video_or_some_images(capsys):
    """The frame size of a video, and a sweep whose other points carry images, use it."""
    for args in (["estimate", *QWEN, *NO_IMAGE, "--video-frames", "8"],
                 ["sweep", *QWEN, "--images", "0,1", "--image-size", "672x672"]):
        code, _, err = run(args, capsys)
        assert code == 0, err


def test_the_python_api_refuses_it_too():
    import costmodel
    from costmodel.sweep import sweep

    with pytest.raises(costmodel.CostmodelError, match=r"^image_size: --images 0 sends no "):
        costmodel.estimate("qwen2.5-vl-7b", "a100-80gb", images=0, image_size=(672, 672))
    with pytest.raises(costmodel.CostmodelError, match=r"^image_size: --images 0 sends no "):
        sweep(["qwen2.5-vl-7b"], ["a100-80gb"], images=[0], image_sizes=[(672, 672)])


@pytest.mark.parametrize("cmd", [["sweep"], ["plot", "sweep"]])
def test_the_grid_help_says_the_step_is_optional(cmd, capsys):
    """`--visual-tokens 0:576` is taken (577 values, step 1) while the help said only
    start:stop:step."""
    code, out, _ = run(cmd + ["--help"], capsys)
    text = " ".join(out.split())
    assert code == 0 and "start:stop:step" not in text
    assert "Visual tokens axis: start:stop[:step] (step 1 by default)" in text


def test_a_bad_grid_names_the_optional_step(capsys):
    code, _, err = run(["sweep", *QWEN, "--visual-tokens", "0:5x"], capsys)
    assert code == 2 and "start:stop[:step] (step 1 by default)" in err


@pytest.mark.parametrize("args, head", [
    (["estimate", "llava-1.5-7x", "-H", "a100-80gb"], "MODEL: unknown 'llava-1.5-7x'"),
    (["estimate", "llava-1.5-7b", "-H", "a100-80g"], "--hardware: unknown 'a100-80g'"),
    (["estimate", "llava-1.5-7b", "-H", "a100-80gb", "--engine", "vlm"], "--engine: unknown 'vlm'"),
    (["compare", "llava-1.5-7b", "-H", "a100,l4"], "--hardware: unknown 'a100'"),
    (["sweep", "llava-1.5-7b,nope", "-H", "l4", "--visual-tokens", "1"], "MODEL: unknown 'nope'"),
    (["sweep", "llava-1.5-7b", "-H", "l4,l4", "--visual-tokens", "1"],
     "--hardware: l4 appears twice; give each device once"),
    (["models", "show", "nope"], "NAME: unknown 'nope'"),
    (["hardware", "show", "nope"], "NAME: unknown 'nope'"),
    (["engines", "show", "nope"], "NAME: unknown 'nope'"),
    (["calibrate", "--from-vidur", "x.csv", "--base", "h100-sx", "-o", "x.yaml"],
     "--base: unknown 'h100-sx'"),
])
def test_an_unknown_id_names_the_option_typed(args, head, capsys):
    """Was 'hardware: unknown ...', 'models: ...', 'engines: ...': the catalog, not the option
    (README: `error: <option, file, row or field>: ...`)."""
    code, out, err = run(args, capsys)
    assert code == 2 and out == "" and err.startswith(f"error: {head}"), err
    assert len(err.strip().splitlines()) == 1


def test_the_python_api_names_the_argument_or_field():
    import costmodel

    for args, kw, head in ((("llava-x", "a100-80gb"), {}, "model: unknown 'llava-x'"),
                           (("llava-1.5-7b", "a100-80"), {}, "hardware: unknown 'a100-80'"),
                           (("llava-1.5-7b", "a100-80gb"), {"engine": "vlm"},
                            "engine: unknown 'vlm'")):
        with pytest.raises(costmodel.UnknownName) as e:
            costmodel.estimate(*args, **kw)
        assert str(e.value).startswith(head)


def test_hardware_show_takes_set_as_estimate_does(capsys):
    """Was: 'No such option: --set'. The profile shown is the one estimate --set prices."""
    import json

    from costmodel.loading.load import load_hardware

    code, out, err = run(["hardware", "show", "rtx-4090", "--set", "memory_GB=48", "-f", "json"],
                         capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["id"], doc["memory_GB"]) == ("rtx-4090*", 48.0)
    assert doc["derived"]["changes"] == "memory_GB 24 -> 48"
    assert doc == {**load_hardware("rtx-4090", ["memory_GB=48"]).source_file.model_dump(
        exclude_none=True), "derived": doc["derived"]}
    code, out, _ = run(["hardware", "show", "rtx-4090", "-f", "json"], capsys)
    assert "changes" not in json.loads(out)["derived"]  # none asked: as before
    code, _, err = run(["hardware", "show", "rtx-4090", "--set", "memory_G=48"], capsys)
    assert code == 2 and err.startswith("error: --set: unknown key 'memory_G'")


@pytest.mark.parametrize("cmd, option, value, unit", [
    (["plan", *QWEN], "--ttft", "300ms", "the SLO is in seconds, e.g. --ttft 0.3 for 300 ms"),
    (["plan", *QWEN], "--tpot", "50ms", "the SLO is in seconds, e.g. --tpot 0.05 for 50 ms"),
    (["capacity", *QWEN], "--ttft", "0.3s", "the SLO is in seconds, e.g. --ttft 0.3"),
    (["batching", *QWEN, "--fps", "2"], "--seconds", "10s", "the video's length is in seconds"),
    (["estimate", *QWEN, "--seconds", "4"], "--fps", "2fps", "in frames per second, e.g. --fps 2"),
    (["estimate", *QWEN, "--weight-dtype", "int4"], "--weight-group-bytes", "4B",
     "in bytes per group, e.g. --weight-group-bytes 4"),
])
def test_a_number_with_a_unit_says_the_unit_the_option_takes(cmd, option, value, unit, capsys):
    """Was: "Invalid value for '--ttft': Input should be a valid number, ..." (no unit)."""
    code, out, err = run(cmd + [option, value], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: {option}: ") and unit in err, err


LLAVA = ["llava-1.5-7b", "-H", "a100-80gb"]


@pytest.mark.parametrize("cmd", [
    ["estimate", *LLAVA], ["estimate", *LLAVA, "--per-op"],
    ["sweep", *LLAVA, "--visual-tokens", "64,576"], ["compare", *LLAVA],
    ["plan", *LLAVA, "--ttft", "1"], ["batching", *LLAVA, "--batch", "1,2"],
    ["compare-compression", *LLAVA, "--keep", "0.25"],
])
def test_csv_writes_whole_counts_without_a_point_zero(cmd, capsys):
    """Was '100139008.0' for byte and FLOP counts; the values (and JSON's numbers) as before."""
    import csv
    import io
    import re

    from costmodel.cli.output import is_count

    code, out, err = run(cmd + ["-f", "csv"], capsys)
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    cells = [r[c] for r in rows for c in r
             if is_count(c) or (c in ("baseline", "compressed") and r["unit"] in ("FLOP", "B"))]
    assert not [x for x in cells if x.endswith(".0")]
    assert any(x.isdigit() and int(x) > 1000 for x in cells)
    _, doc, _ = run(cmd + ["-f", "json"], capsys)
    assert re.search(r"\d\.0,?\n", doc)  # JSON's numbers as they were (floats)


def test_count_columns_are_counts_not_rates():
    from costmodel.cli.output import is_count

    assert all(is_count(c) for c in ("flops", "useful_flops", "bytes", "weight_bytes",
                                      "total_memory_bytes_at_largest", "params", "capacity_bytes"))
    assert not any(is_count(c) for c in ("ridge_flops_per_byte", "intensity_flops_per_byte",
                                         "latency_s", "tokens_per_s", "savings_pct", "batch"))


@pytest.mark.parametrize("kv", [["--kv-keep", "0.5"], ["--sparse-decode", "256"]])
def test_kv_only_compression_shows_no_paper_formulas(kv, capsys):
    """Was a FastV / PyramidDrop / Dynamic-LLaVA FLOPs table reading 100% (no visual token
    removed); the method's own operators stay. JSON: paper_formulas is null."""
    import json

    code, out, err = run(["compare-compression", *LLAVA, *kv], capsys)
    assert code == 0, err
    assert "FastV" not in out and "average visual tokens" not in out and not out.endswith("\n\n")
    assert ("compress/kv_evict_uniform" in out) == (kv[0] == "--kv-keep")
    _, doc, _ = run(["compare-compression", *LLAVA, *kv, "-f", "json"], capsys)
    assert json.loads(doc)["paper_formulas"] is None
    code, out, _ = run(["compare-compression", *LLAVA, *kv, "--keep", "0.25"], capsys)
    assert "FastV" in out and "average visual tokens per LLM layer: 144.0 of 576" in out
