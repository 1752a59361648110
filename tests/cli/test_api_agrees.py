"""`costmodel estimate ... --format json|csv` and the Python API give the same document for
the same workload, exactly (the notebook user's `costmodel.estimate(...).to_dict()` and
`.stage_frame()`; docs/python-api.md)."""

from __future__ import annotations

import io
import json
import re
import shlex

import pandas as pd
import pytest
from typer.testing import CliRunner

import costmodel
from costmodel import Compression, CompressionPlan
from costmodel.calibration.csvfile import exact_floats
from costmodel.cli import app
from costmodel.specs.compression import KVCompression

runner = CliRunner()
KV = CompressionPlan(kv=KVCompression(keep_ratio=0.25, policy="pyramid"))
CASES = [  # (CLI arguments, estimate's keyword arguments)
    ("llava-1.5-7b -H a100-80gb", {}),
    ("qwen2.5-vl-7b -H h100-sxm --image-size 1280x720", {"image_size": (1280, 720)}),
    ("llava-1.5-7b -H h100-sxm --visual-tokens 64 --batch 8", {"visual_tokens": 64, "batch": 8}),
    ("llava-1.5-7b -H a100-80gb --keep 0.5 --at llm-layer:2",
     {"compression": Compression(where="llm_layer", layer=2, keep_ratio=0.5)}),
    ("llava-1.5-7b -H a100-80gb --kv-keep 0.25 --kv-policy pyramid", {"compression": KV}),
    ("llava-1.5-7b -H a100-80gb --engine vllm --weight-dtype int4 --kv-dtype int8",
     {"engine": "vllm", "weight_dtype": "int4", "kv_dtype": "int8"}),
    ("llava-1.5-7b -H a100-80gb --tp 2", {"parallel": {"tp": 2}}),
]


def _cli(args: str, fmt: str) -> str:
    res = runner.invoke(app, ["estimate", *shlex.split(args), "--format", fmt])
    assert res.exit_code == 0, res.output
    return res.stdout


def _hardware(args: str) -> str:
    words = shlex.split(args)
    return words[words.index("-H") + 1]


@pytest.mark.parametrize(("args", "fields"), CASES, ids=[a for a, _ in CASES])
def test_json_and_csv_equal_the_api(args, fields):
    est = costmodel.estimate(args.split()[0], _hardware(args), **fields)
    assert json.loads(_cli(args, "json")) == json.loads(json.dumps(est.to_dict()))
    csv = pd.read_csv(io.StringIO(_cli(args, "csv")), index_col="stage", **exact_floats())
    # whole counts are written without '.0' (cli/output.py), so pandas reads them as ints
    pd.testing.assert_frame_equal(csv, est.stage_frame(), check_exact=True, check_dtype=False)


def test_what_if_and_engine_file_equal_the_cli(tmp_path):
    """`--set` is load_hardware(..., sets=...); `--engine FILE` is engine=Path(FILE)."""
    engine = tmp_path / "my-engine.yaml"
    text = (costmodel.loading.load._PKG / "engines" / "vllm.yaml").read_text()
    engine.write_text(re.sub(r"(?m)^step_overhead_us: .*$", "step_overhead_us: 500", text))
    assert "\nstep_overhead_us: 500\n" in engine.read_text()
    args = (f"llava-1.5-7b -H a100-80gb --set memory_bandwidth_GBps=x1.5 --engine {engine}")
    hw = costmodel.load_hardware("a100-80gb", sets=["memory_bandwidth_GBps=x1.5"])
    est = costmodel.estimate("llava-1.5-7b", hw, engine=engine)
    assert json.loads(_cli(args, "json")) == json.loads(json.dumps(est.to_dict()))
    assert est.hardware.id == "a100-80gb*" and est.tpot_s < costmodel.estimate(
        "llava-1.5-7b", "a100-80gb", engine="vllm").tpot_s
