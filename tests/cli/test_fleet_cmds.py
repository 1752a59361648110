"""`compare`, `plan`, `batching` and `energy` on the command line: ranking, formats, plots, the
one-line errors, and no matplotlib import without --plot."""

from __future__ import annotations

import json

import pytest

from tests.helpers import FLEET_DEVICES as DEVICES
from tests.helpers import LLAVA_7B_DIR as MODEL
from tests.helpers import run


def test_compare_cli_ranks_and_plots(tmp_path, capsys):
    png = tmp_path / "cmp.png"
    args = ["compare", MODEL, "-H", ",".join(DEVICES), "--visual-tokens", "2880"]
    code, out, _ = run(args + ["--plot", str(png)], capsys)
    assert code == 0 and png.stat().st_size > 10_000 and "ESTIMATE" in out
    code, out, _ = run(args + ["-f", "json", "--rank-by", "ttft"], capsys)
    recs = json.loads(out)
    assert [r["rank"] for r in recs] == [1, 2, 3, 4]
    ttfts = [r["ttft_s"] for r in recs]
    assert ttfts == sorted(ttfts) and recs[0]["hardware"] == "h100-sxm"
    # hf-eager's launches overlap the device (host_overlap: async): a batch-1 decode step on
    # the A100 / H100 takes the host's time; the slower devices' own memory time is longer
    bounds = {r["hardware"]: r["decode_bound_by"] for r in recs}
    assert bounds["a100-80gb"] == bounds["h100-sxm"] == "host"
    assert set(bounds.values()) == {"host", "memory"}
    code, out, _ = run(args + ["-f", "csv"], capsys)
    assert out.splitlines()[0].startswith("rank,hardware,") and len(out.splitlines()) == 5


def test_plan_batching_energy_cli(capsys):
    code, out, _ = run(["plan", MODEL, "-H", "h100-sxm,l4", "--ttft", "0.3", "--tpot", "0.05",
                        "--visual-tokens", "2880", "-f", "json"], capsys)
    recs = json.loads(out)
    assert code == 0 and recs[0]["largest_batch"] > 0 and recs[1]["largest_batch"] == 0
    code, out, _ = run(["batching", MODEL, "-H", "a100-80gb", "--batch", "1,8,64",
                        "-f", "csv"], capsys)
    assert code == 0 and len(out.splitlines()) == 4
    code, out, _ = run(["energy", MODEL, "-H", "jetson-agx-orin-64gb", "--power-mode", "15W"],
                       capsys)
    assert code == 0 and "15 W" in out and "ESTIMATE" in out


@pytest.mark.parametrize("args, needle", [
    (["plan", MODEL, "-H", "l4"], "--ttft/--tpot: give at least one SLO"),
    (["plan", MODEL, "-H", "l4", "--ttft", "-1"], "--ttft: -1.0 is not a positive"),
    (["batching", MODEL, "-H", "l4", "--batch", "0:8"], "--batch: '0:8'"),
    (["batching", MODEL, "-H", "l4", "--batch", "a,b"], "--batch: 'a,b'"),
    (["compare", MODEL, "-H", "l4,,h100-sxm"], "--hardware: 'l4,,h100-sxm' has an empty"),
    (["compare", MODEL, "-H", "l4,h100-sxn"], "did you mean h100-sxm"),
    (["compare", MODEL, "-H", "l4", "--plot", "/no/such/dir/x.png"], "--plot: directory"),
    (["energy", MODEL, "-H", "h100-sxm", "--power-mode", "30W"], "h100-sxm has no mode '30W'"),
    (["compare", MODEL, "-H", "t4", "--dtype", "bf16"], "--dtype: t4 has no bf16 peak"),
])
def test_fleet_cli_errors_one_line_exit_2(args, needle, capsys):
    code, out, err = run(args, capsys)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1 and out == ""


def test_compare_without_plot_does_not_import_matplotlib():
    import subprocess
    import sys

    code = ("import sys; from costmodel.cli import main\n"
            f"try:\n    main(['compare', {MODEL!r}, '-H', 'l4', '-f', 'json'])\n"
            "except SystemExit:\n    pass\n"
            "print('matplotlib' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False False"


@pytest.mark.parametrize("command, extra", [
    ("compare", []), ("energy", []), ("plan", ["--ttft", "1"]), ("batching", ["--batch", "1,2"]),
    ("capacity", ["--max-batch", "4"]),
])
def test_fleet_tables_name_the_request_as_estimate_counts_it(command, extra, capsys):
    """The several-device tables said only '128 output tokens': an image's visual tokens (999
    for 1024x768 on Qwen2.5-VL, estimate's count) were nowhere in them."""
    wl = ["--images", "1", "--image-size", "1024x768", "--text-tokens", "32"]
    code, out, _ = run(["estimate", "qwen2.5-vl-7b", "-H", "l4", *wl], capsys)
    assert code == 0 and "999 visual tokens (1 ViT pass) + 32 text tokens" in out
    code, out, err = run([command, "qwen2.5-vl-7b", "-H", "l4", *wl, *extra], capsys)
    assert code == 0 and err == ""
    assert "999 visual + 32 text -> 128 output tokens" in out.splitlines()[0]
    code, out, _ = run([command, "llama-2-7b", "-H", "l4", *extra], capsys)
    head = out.splitlines()[0]  # a text-only model: no visual part
    assert code == 0 and "64 text -> 128 output tokens" in head and "visual" not in head


def test_compare_figure_title_counts_the_visual_tokens(llava):
    """The compare figure's title read '1 image(s) of visual + 64 text': no count."""
    from costmodel import load_hardware
    from costmodel.analysis.devices import evaluate_fleet
    from costmodel.cli.compare_cmd import compare_caption
    from costmodel.loading.load import load_model
    from costmodel.specs.workload import Workload

    spec = load_model("qwen2-vl-7b")
    for w, visual in ((Workload(image_size=(1024, 768)), "999 visual + 64 text"),
                      (Workload(video_frames=16, image_size=(448, 448)),
                       "2048 (video: 16 frames of 448x448) visual + 64 text")):
        f = evaluate_fleet(spec, [load_hardware("l4")], w)
        title = compare_caption(spec, f)
        assert visual in title and "image(s)" not in title


def test_interconnect_bound_in_compare_and_plan(capsys):
    args = ["llava-1.5-7b", "-H", "h100-sxm", "--engine", "vllm", "--tp", "8"]
    code, out, _ = run(["compare", *args], capsys)
    # decode: link 36%, the engine's exposed host time 33%, memory-bound operators 30% (was M)
    assert code == 0 and " C/C/L/L " in out and "L = interconnect-bound" in out
    code, out, _ = run(["plan", *args, "--ttft", "0.001", "--max-batch", "2"], capsys)
    assert code == 0 and "interconnect (TTFT)" in out and "interconnect: the tp / ep" in out
    code, out, _ = run(["compare", "llava-1.5-7b", "-H", "h100-sxm"], capsys)
    assert code == 0 and "L = " not in out  # one GPU: no link, no legend for it


def test_datasheet_device_beside_calibrated_ones_warns_once(capsys):
    """A profile written from a datasheet (no kernel_efficiency) ranked first beside the
    bundled devices: its expected latency is the bound + host time, theirs run below their
    peaks. One warning line names it; like-for-like lists say nothing."""
    from tests.helpers import MY_GPU_YAML

    mine = str(MY_GPU_YAML)
    code, out, err = run(["compare", MODEL, "-H", f"h100-sxm,{mine}"], capsys)
    lines = err.strip().splitlines()
    assert code == 0 and len(lines) == 1 and lines[0].startswith("warning: --hardware: my-gpu ")
    assert "base: <the nearest bundled device>" in lines[0] and "--engine ideal" in lines[0]
    for args in (["-H", f"h100-sxm,{mine}", "--engine", "ideal"], ["-H", mine],
                 ["-H", "h100-sxm,a100-80gb-vidur"]):
        code, out, err = run(["compare", MODEL, *args], capsys)
        assert code == 0 and err == ""


def test_default_devices_are_like_for_like(capsys):
    """With no -H: not LLM-Viewer's datasheet copies on an engine with measured kernels (they
    are there for --convention llm-viewer), and only devices with a GPU-to-GPU link for --tp
    (every --tp run was refused: the Jetsons have none)."""
    def listed(*args: str) -> set[str]:
        code, out, err = run(["compare", MODEL, "--visual-tokens", "576", *args, "-f", "json"],
                             capsys)
        assert code == 0 and err == "", err
        return {r["hardware"] for r in json.loads(out)}

    plain = listed()
    assert "h100-sxm" in plain and "jetson-agx-orin-64gb" in plain
    assert not any(h.startswith("llm-viewer-") for h in plain)
    assert "llm-viewer-h100" in listed("--convention", "llm-viewer")
    assert "llm-viewer-h100" in listed("--engine", "ideal")
    tp2 = listed("--tp", "2")
    assert "h100-sxm" in tp2 and not any(h.startswith("jetson") for h in tp2)


def test_methodology_device_not_bundled_example(tmp_path, capsys):
    """docs/methodology.md, 'A device not bundled': its b200-like.yaml over h100-sxm ranks
    without the warning; the same figures without `base:` draw it."""
    import re

    from tests.helpers import DOCS

    text = (DOCS / "methodology.md").read_text()
    block = re.search(r"```yaml\n(# b200-like\.yaml.*?)```", text, re.S).group(1)
    mine = tmp_path / "b200-like.yaml"
    mine.write_text(block)
    code, out, err = run(["compare", MODEL, "-H", f"h100-sxm,{mine}", "--engine", "vllm"],
                         capsys)
    assert code == 0 and err == "" and "[changed] b200-like: " in out
    bare = tmp_path / "bare.yaml"
    bare.write_text(block.replace("base: h100-sxm\n", "category: datacenter\n")
                    .replace("sm_count: 148\n", ""))
    code, out, err = run(["compare", MODEL, "-H", f"h100-sxm,{bare}", "--engine", "vllm"],
                         capsys)
    assert code == 0 and err.startswith("warning: --hardware: b200-like carries no fitted")


@pytest.mark.parametrize("engines", [[], ["--engine", "vllm,ideal"]])
def test_compare_says_the_power_mode_its_joules_are_at(engines, capsys):
    """compare --power-mode 15W priced J/request at 15 W with no word of the mode (energy's
    table says it and that a mode's lower clocks are not modelled)."""
    args = ["compare", MODEL, "-H", "jetson-agx-orin-64gb", *engines]
    code, out, _ = run([*args, "--power-mode", "15W"], capsys)
    assert code == 0 and ("; J/request at power mode 15W; power modes cap clocks, which this "
                          "latency (at the profile's peaks) does not model") in out
    code, out, _ = run(args, capsys)
    assert code == 0 and "J/request at power mode" not in out


def test_default_list_with_a_dtype_keeps_the_devices_that_have_it(capsys):
    """compare --dtype fp8 with no -H was refused whole ('a10 has no fp8 peak ... leave
    --dtype out', which cannot ask for fp8): the default list now leaves out the devices
    without the peak, as it leaves out the linkless ones under --tp; the API's list is the
    same; a list given with -H still refuses such a device."""
    import costmodel
    from costmodel.loading.load import hardware_ids, load_hardware

    code, out, err = run(["compare", MODEL, "--dtype", "fp8", "-f", "json"], capsys)
    assert code == 0, err
    shown = {r["hardware"] for r in json.loads(out)}
    assert {r["math_dtype"] for r in json.loads(out)} == {"fp8"}
    have = {h for h in hardware_ids() if load_hardware(h).supports(costmodel.units.DType.fp8)}
    assert "h100-sxm" in shown and "a10" not in shown and shown <= have
    api = costmodel.compare(str(MODEL), act_dtype="fp8").records()
    assert {r["hardware"] for r in api} == shown
    code, _, err = run(["compare", MODEL, "-H", "a10,h100-sxm", "--dtype", "fp8"], capsys)
    assert code == 2 and err.startswith("error: --dtype: a10 has no fp8 peak")
    code, out, _ = run(["compare", MODEL, "--dtype", "fp16", "-f", "json"], capsys)
    assert "t4" in {r["hardware"] for r in json.loads(out)}  # fp16 everywhere: nothing left out


@pytest.mark.parametrize("cmd", ["energy", "compare"])
def test_default_list_with_a_power_mode_keeps_the_devices_that_list_it(cmd, capsys):
    """energy MODEL --power-mode 15W with no -H was refused whole ('a10 has no mode 15W ...
    leave --power-mode out'): the default list keeps the devices with that mode (the three
    Jetsons), as the API's; a mode no device lists still names one that lacks it."""
    import costmodel
    from costmodel.loading.load import hardware_ids, load_hardware

    code, out, err = run([cmd, MODEL, "--power-mode", "15w", "-f", "json"], capsys)
    assert code == 0, err
    shown = {r["hardware"] for r in json.loads(out)}
    modes = {h for h in hardware_ids() if "15W" in (load_hardware(h).power_modes_W or {})}
    assert shown == modes and len(modes) == 3
    api = getattr(costmodel, cmd)(str(MODEL), power_mode="15W").records()
    assert {r["hardware"] for r in api} == shown
    code, _, err = run([cmd, MODEL, "--power-mode", "99W"], capsys)
    assert code == 2 and "has no mode '99W'" in err
