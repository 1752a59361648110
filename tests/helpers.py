"""Shared test helpers: repository paths, the test specs and device, and a CLI runner.

Fixtures live in conftest.py (they use the builders here); tests import plain values and
functions from this module (`from tests.helpers import ...`), never from conftest or from
another test file.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from costmodel.calibration.csvfile import exact_floats
from costmodel.loading.load import hardware_file, read_yaml
from costmodel.specs.hardware import HardwareProfile
from costmodel.specs.model import LLMSpec, ModelSpec, ProjectorSpec, VisionSpec

ROOT = Path(__file__).resolve().parents[1]  # the repository root
DATA = ROOT / "tests" / "data"
DOCS = ROOT / "docs"

MY_GPU_YAML = DATA / "my-gpu.yaml"  # round-number device (see my_gpu)
LLAVA_7B_DIR = str(DATA / "llava-7b")  # a LLaVA-1.5-7B-shaped config.json folder
FLEET_DEVICES = ["a100-80gb", "h100-sxm", "l4", "jetson-agx-orin-64gb"]  # compare / plan
KERNELS = DATA / "kernels"  # aiconfigurator kernel tables (NOTE.md there)
# the engines that must ship (costmodel/engines/*.yaml)
REQUIRED_ENGINES = {"ideal", "hf-eager", "torch-compile", "vllm", "sglang", "trtllm", "llama.cpp", "mlc"}

LLAMA2_7B = LLMSpec(hidden_size=4096, num_layers=32, num_heads=32, num_kv_heads=32,
                    intermediate_size=11008, vocab_size=32000)
CLIP_L336 = VisionSpec(num_layers=24, hidden_size=1024, num_heads=16, intermediate_size=4096,
                       patch_size=14, image_size=336, pre_norm=True, feature_layer=-2)
LLAVA15_7B = ModelSpec(name="llava-test", llm=LLAMA2_7B, vision=CLIP_L336,
                       projector=ProjectorSpec(kind="mlp2x_gelu", input_dim=1024, output_dim=4096))


ZOO_CONFIGS = ROOT / "costmodel" / "zoo_configs"  # the shipped config.json of every zoo id


def zoo_config(mid: str) -> dict:
    """The shipped config.json of zoo id `mid`, as a fresh dict (safe to change)."""
    return json.loads((ZOO_CONFIGS / f"{mid}.json").read_text(encoding="utf-8"))


def config_refused(cfg: dict) -> str:
    """The one-line ConfigError that loading `cfg` raises (asserted to be one line naming
    config.json)."""
    from costmodel.loading.config_fields import ConfigError
    from costmodel.loading.from_config import spec_from_config

    with pytest.raises(ConfigError) as e:
        spec_from_config(cfg)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("config.json: ")
    return msg


def my_gpu() -> HardwareProfile:
    """Round-number device: 300 TFLOP/s bf16, 20 TFLOP/s fp32, 2000 GB/s, 80 GB."""
    return HardwareProfile.from_file(hardware_file(read_yaml(MY_GPU_YAML), str(MY_GPU_YAML)))


def kernel_table_files(dev: str, framework: str = "*") -> list[str]:
    """The kernel tables of one device ('a100', 'h100'), of one framework or all."""
    return sorted(str(p) for p in KERNELS.glob(f"{dev}_sxm_{framework}_*_perf.csv.gz"))


def savings_df(before: int = 576, after: int = 144):
    """A compare-compression-shaped frame (stage, metric, baseline, compressed, savings_pct) from
    two point estimates of LLAVA15_7B on a100-80gb: what `plot savings` reads."""
    import pandas as pd

    from costmodel.analysis.estimate import estimate

    a = estimate(LLAVA15_7B, "a100-80gb", visual_tokens=before)
    b = estimate(LLAVA15_7B, "a100-80gb", visual_tokens=after)
    rows = [(s, m, getattr(a.stages[s], m), getattr(b.stages[s], m))
            for s in a.stages for m in ("flops", "bytes", "latency_s")]
    rows += [("total", m, getattr(a, m), getattr(b, m)) for m in ("ttft_s", "tpot_s")]
    rows.append(("total", "kv_cache_bytes", a.memory.kv_cache_bytes, b.memory.kv_cache_bytes))
    df = pd.DataFrame(rows, columns=["stage", "metric", "baseline", "compressed"])
    df["savings_pct"] = 100 * (df.baseline - df.compressed) / df.baseline
    return df


def shown_commands(doc: Path) -> list[tuple[str, str]]:
    """(command, shown output) for each ``` block of `doc` whose first line is `$ costmodel ...`
    (the blocks benchmarks/refresh_doc_outputs.py rewrites)."""
    import re

    blocks = re.findall(r"```\n\$ (costmodel [^\n]*)\n(.*?)```", doc.read_text(), re.S)
    return [(cmd, out.rstrip()) for cmd, out in blocks]


def run(args: list[str], capsys: pytest.CaptureFixture[str] | None = None) -> tuple[int, str, str]:
    """Run the real entry point (`costmodel.cli.main`, which owns error formatting and exit
    codes) and return (exit code, stdout, stderr).

    With pytest's `capsys` the output is read from it; without (module-scoped fixtures, which
    cannot take capsys) it is captured by redirecting sys.stdout and sys.stderr."""
    from costmodel.cli import main

    if capsys is not None:
        try:
            main(args)
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
        out, err = capsys.readouterr()
        return code, out, err
    out_buf, err_buf = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out_buf), contextlib.redirect_stderr(err_buf):
        try:
            main(args)
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
    return code, out_buf.getvalue(), err_buf.getvalue()


# The sweep figure's panels (costmodel/plots/sweep.py): the frame's column, its display scale.
SWEEP_PANELS = {"ttft_s": 1e-3, "tpot_s": 1e-3, "flops": 1e12, "total_memory_bytes": 1e9}
SWEEP_INPUTS = ("image_size", "images", "video_fps", "video_seconds", "video_frames")


def drawn_sweep_points(fig) -> list[set[tuple[object, float]]]:
    """Per panel of a sweep figure: the (x, y) of every point of every line, read from the
    lines' data (not the pixels); an image-size axis's x read back as the size its tick
    names; y to 12 significant digits."""
    ax = fig.axes[2]  # a bottom panel: the shared x axis's labels are there
    names = [t.get_text() for t in ax.get_xticklabels()]
    sizes = dict(zip(ax.get_xticks(), names, strict=True)) if all(
        "x" in n for n in names) else {}
    return [{(sizes.get(x, x), float(f"{y:.12g}"))
             for line in ax.get_lines() if not line.get_label().startswith("_")
             for x, y in zip(line.get_xdata(), line.get_ydata(), strict=True)}
            for ax in fig.axes]


def printed_sweep_points(rows, x: str) -> list[set[tuple[object, float]]]:
    """Per panel: the (x, value) of every point of a `costmodel sweep -f csv` frame (FLOPs
    summed over a point's stages, as the FLOPs panel's title says), in the panel's units."""
    key = ["model", "hardware", "batch", *(c for c in SWEEP_INPUTS if c in rows), "visual_tokens"]
    pts = rows.groupby(key, sort=False).agg(
        ttft_s=("ttft_s", "first"), tpot_s=("tpot_s", "first"), flops=("flops", "sum"),
        total_memory_bytes=("total_memory_bytes", "first")).reset_index()
    xs = pts[x].astype(str) if x == "image_size" else pts[x].astype(float)
    return [{(xv, float(f"{v / scale:.12g}")) for xv, v in zip(xs, pts[col], strict=True)}
            for col, scale in SWEEP_PANELS.items()]


def api_call(command: str, args: str, fields: dict):
    """costmodel.<command>(the model of `args`, **fields), its warnings silenced (the CLI
    writes them to stderr): the Python side of a CLI-equals-API test."""
    import shlex
    import warnings

    import costmodel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(costmodel, command)(shlex.split(args)[0], **fields)


def cli_is_records(command: str, args: str, records: list[dict]):
    """Assert that `costmodel <command> <args>` prints `records` as its -f json (byte for byte
    through the CLI's JSON writer) and -f csv (through its CSV writer); return that CSV read
    back (pandas; an empty hardware_changes as '', as the records hold it)."""
    import shlex
    import warnings

    import pandas as pd
    from typer.testing import CliRunner

    from costmodel.cli import app
    from costmodel.cli.output import dumps, records_csv

    def printed(fmt: str) -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its stderr lines
            res = CliRunner().invoke(app, [command, *shlex.split(args), "--format", fmt])
        assert res.exit_code == 0, res.output
        return res.stdout

    text = printed("json")
    assert text == dumps(records) + "\n"
    assert json.loads(text) == json.loads(dumps(records))
    csv = printed("csv")
    assert csv == records_csv(records)
    read = pd.read_csv(io.StringIO(csv), **exact_floats())
    read["hardware_changes"] = ["" if pd.isna(v) else v for v in read["hardware_changes"]]
    return read


def refused_alike(command: str, cli: str, fields: dict, capsys, call: str | None = None) -> str:
    """`costmodel <command> llava-1.5-7b <cli>` exits 2 with one line, and costmodel.<call or
    command>("llava-1.5-7b", **fields) raises that line (the argument as Python spells it:
    'hardware:' is the CLI's '--hardware:'); returns the API's message."""
    import shlex

    import costmodel
    from costmodel.cli.options import as_option

    code, out, err = run([command, "llava-1.5-7b", *shlex.split(cli)], capsys)
    assert code == 2 and out == ""
    with pytest.raises(costmodel.CostmodelError) as e:
        getattr(costmodel, call or command)("llava-1.5-7b", **fields)
    assert err == f"error: {as_option(str(e.value))}\n"
    return str(e.value)
