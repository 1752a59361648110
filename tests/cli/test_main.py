"""The command line: formats, keys, errors (one line, exit 2), suggestions, lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from costmodel.cli import app
from tests.helpers import MY_GPU_YAML, run

runner = CliRunner()


def test_estimate_table_default(capsys):
    code, out, _ = run(["estimate", "llava-1.5-7b", "--hardware", "a100-80gb"], capsys)
    assert code == 0
    for word in ("vision", "projector", "prefill", "decode", "TTFT", "TPOT", "fits"):
        assert word in out


def test_estimate_json_keys_in_base_units(capsys):
    code, out, _ = run(["estimate", "llava-1.5-7b", "-H", "a100-80gb", "--format", "json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["model"] == "llava-1.5-7b" and doc["hardware"] == "a100-80gb"
    for s in ("vision", "projector", "prefill", "decode"):
        assert set(doc["stages"][s]) >= {"flops", "bytes", "latency_s"}
    for k in ("ttft_s", "tpot_s", "e2e_latency_s"):
        assert doc[k] > 0
    assert set(doc["memory"]) >= {"weights_bytes", "kv_cache_bytes", "activation_bytes",
                                  "total_memory_bytes", "fits"}
    assert doc["ttft_s"] == pytest.approx(sum(doc["stages"][s]["latency_s"]
                                              for s in ("vision", "projector", "prefill")))


def test_estimate_csv_per_op_is_numeric(capsys):
    code, out, _ = run(["estimate", "llava-1.5-7b", "-H", "a100-80gb", "-f", "csv", "--per-op"],
                       capsys)
    assert code == 0
    header, first = out.splitlines()[:2]
    assert "latency_s" in header and "weight_bytes" in header
    cols = dict(zip(header.split(","), first.split(","), strict=True))
    float(cols["flops"]), float(cols["latency_s"])  # plain numbers, no units in cells


def test_user_yaml_works_as_hardware(capsys):
    code, out, _ = run(["estimate", "llama-2-7b", "-H", str(MY_GPU_YAML), "-f", "json"],
                       capsys)
    assert code == 0 and json.loads(out)["hardware"] == "my-gpu"


def test_images_and_size(capsys):
    code, out, _ = run(["estimate", "llava-next-vicuna-7b", "-H", "h100-sxm", "--images", "1",
                        "--image-size", "672x672", "-f", "json"], capsys)
    assert code == 0 and json.loads(out)["workload"]["visual_tokens"] == 2928


@pytest.mark.parametrize("args, needle", [
    (["estimate", "llava-1.5-7", "-H", "a100-80gb"], "did you mean llava-1.5-7b"),
    (["estimate", "llava-1.5-7b", "-H", "a100"], "did you mean"),
    (["estimate", "llava-1.5-7b", "-H", "a100-80gb", "--batch", "-1"], "--batch"),
    (["estimate", "llava-1.5-7b", "-H", "a100-80gb", "--image-size", "672"], "--image-size"),
    (["estimate", "llava-1.5-7b", "-H", "a100-80gb", "--dtype", "fp8"], "dtype"),
    (["estimate", "llava-1.5-7b", "-H", "a100-80gb", "--overlap", "both"], "overlap"),
    (["estimate", "llava-1.5-7b", "-H", "./nope.yaml"], "no file"),
    (["estimate", "./missing/config.json", "-H", "a100-80gb"], "no file"),
    (["hardware", "show", "h100"], "did you mean"),
])
def test_bad_input_one_line_exit_2(args, needle, capsys):
    code, out, err = run(args, capsys)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err and "Traceback" not in err


def test_broken_yaml_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nname: [unclosed\n")
    code, _, err = run(["estimate", "llava-1.5-7b", "-H", str(bad)], capsys)
    assert code == 2 and "not valid YAML" in err and len(err.strip().splitlines()) == 1


def test_yaml_missing_source_names_field(tmp_path, capsys):
    text = MY_GPU_YAML.read_text().replace("  tdp_W: round test figure\n", "")
    f = tmp_path / "g.yaml"
    f.write_text(text)
    code, _, err = run(["estimate", "llava-1.5-7b", "-H", str(f)], capsys)
    assert code == 2 and "sources" in err and "tdp_W" in err


def test_config_json_path(tmp_path, capsys):
    cfg = {"model_type": "llama", "hidden_size": 256, "num_hidden_layers": 2,
           "num_attention_heads": 4, "intermediate_size": 512, "vocab_size": 1000}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    code, out, _ = run(["estimate", str(tmp_path / "config.json"), "-H", "a100-80gb", "-f",
                        "json"], capsys)
    assert code == 0 and json.loads(out)["params"]["total"] > 0


def test_unsupported_config_one_line(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "mamba"}))
    code, _, err = run(["estimate", str(tmp_path / "config.json"), "-H", "a100-80gb"], capsys)
    assert code == 2 and "model_type 'mamba'" in err


def test_models_and_hardware_lists(capsys):
    code, out, _ = run(["models", "list"], capsys)
    assert code == 0 and "llava-1.5-7b" in out and "qwen2-vl-7b" in out
    code, out, _ = run(["hardware", "list", "-f", "json"], capsys)
    assert code == 0 and len(json.loads(out)) >= 16
    code, out, _ = run(["hardware", "show", "h100-sxm"], capsys)
    assert code == 0 and "sources" in out and "memory_bandwidth_GBps" in out
    code, out, _ = run(["models", "show", "qwen2-vl-7b", "-f", "json"], capsys)
    assert code == 0 and json.loads(out)["params"]["total"] > 8e9


def test_help_via_cli_runner():
    r = runner.invoke(app, ["estimate", "--help"])
    assert r.exit_code == 0 and "--visual-tokens" in r.output


def test_estimate_imports_neither_torch_nor_matplotlib():
    code = (
        "import sys\n"
        "from costmodel.cli import main\n"
        "try:\n    main(['estimate', 'llava-1.5-7b', '--hardware', 'a100-80gb'])\n"
        "except SystemExit:\n    pass\n"
        "bad = [m for m in ('torch', 'matplotlib') if m in sys.modules]\n"
        "print('HEAVY', bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr


@pytest.mark.parametrize(("text", "field"), [
    ("efficiency:\n  compute: 0.7\n", "efficiency"),
    ("kernel_launch_overhead_us: 4.0\n", "kernel_launch_overhead_us")])
def test_yaml_figure_off_its_neutral_default_needs_a_source(tmp_path, capsys, text, field):
    # efficiency 1, no curves and 0 us of launch are the neutral defaults; a file that sets
    # one otherwise must say where it comes from
    f = tmp_path / "g.yaml"
    f.write_text(text + MY_GPU_YAML.read_text())
    code, _, err = run(["estimate", "llava-1.5-7b", "-H", str(f)], capsys)
    assert code == 2 and f"add a source for {field}" in err and len(err.strip().splitlines()) == 1
