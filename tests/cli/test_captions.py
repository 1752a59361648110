"""Figure titles name the workload (README: every figure title names it), a video's frames and
the text its processor writes around them included (cli/captions.py)."""

from __future__ import annotations

import costmodel
from costmodel.cli import captions


def test_a_video_title_names_its_frames_and_text():
    e = costmodel.estimate("qwen3-vl-8b", "a100-80gb", video_frames=16, image_size=(448, 448))
    title = captions.estimate_caption("Roofline", e)
    assert "1584 (video: 16 frames of 448x448) visual + 64 + 48 video text -> 128" in title


def test_an_image_title_is_unchanged():
    e = costmodel.estimate("llava-1.5-7b", "a100-80gb")
    assert captions.estimate_caption("Roofline", e).splitlines()[1].startswith(
        "576 visual + 64 text -> 128 output tokens | batch 1 |")


def test_titles_name_the_weights_as_priced(tmp_path):
    """A quantised config.json (AWQ) costed as stored: the compare and sweep titles name its
    int4 decoder layers, as estimate's first lines do, not the bf16 the options leave unset."""
    import json

    from costmodel.analysis.devices import evaluate_fleet
    from costmodel.cli.compare_cmd import compare_caption
    from costmodel.cli.sweep_run import sweep_caption
    from costmodel.loading.load import load_hardware, load_model
    from costmodel.specs.workload import Workload
    from costmodel.sweep import sweep
    from tests.helpers import ROOT

    data = json.loads((ROOT / "costmodel" / "zoo_configs" / "qwen2.5-vl-7b.json").read_text())
    data["quantization_config"] = {"quant_method": "awq", "bits": 4, "group_size": 128}
    (tmp_path / "config.json").write_text(json.dumps(data))
    spec, hw, w = load_model(str(tmp_path)), load_hardware("a100-80gb"), Workload()
    want = "weights int4 (g128, 2.5 B/group) on the LLM layers (vision, lm_head, embed bf16)"
    assert want in compare_caption(spec, evaluate_fleet(spec, [hw], w))
    df = sweep([spec], [hw], [576], [1], w)
    assert want in sweep_caption(df, [hw], w, 1, [spec])
    plain = load_model("llava-1.5-7b")
    both = sweep_caption(sweep([spec, plain], [hw], [576], [1], w), [hw], w, 1, [spec, plain])
    assert f"| {want}, activations bf16, KV bf16 / bf16 |" in both


def test_a_sweep_title_words_its_input_axes():
    """A video's frame sizes follow its frames ('of 448x448, ...' led the x axis, after the
    video's words), one image per request is '1 image'."""
    from costmodel.cli.sweep_run import sweep_caption
    from costmodel.loading.load import load_hardware, load_model
    from costmodel.specs.workload import Workload
    from costmodel.sweep import sweep

    spec, hw, w = load_model("qwen2-vl-2b"), load_hardware("a100-80gb"), Workload()
    sizes = [(448, 448), (640, 480)]
    for kw, want in [
        ({"video_frames": [4, 8], "image_sizes": sizes}, "(x axis: 4, 8 frames of 448x448, 640x480)"),
        ({"video_seconds": [2, 4], "video_fps": [1, 2], "image_sizes": sizes},
         "(x axis: 2, 4 s at 1, 2 fps -> 4, 8 frames of 448x448, 640x480)"),
        ({"image_sizes": sizes}, "(x axis: 1 image of 448x448, 640x480)"),
        ({"images": [1, 2, 4], "image_sizes": sizes}, "(x axis: 1, 2, 4 images of 448x448, 640x480)"),
    ]:
        assert want in sweep_caption(sweep([spec], [hw], **kw), [hw], w, 1, [spec]), kw
