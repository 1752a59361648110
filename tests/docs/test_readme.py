"""The README's example output is what the command prints today."""

from __future__ import annotations

import re

from costmodel.cli import main
from tests.helpers import ROOT

README = ROOT / "README.md"
CMD = "costmodel estimate llava-1.5-7b --hardware a100-80gb"


def test_readme_commands_and_output(capsys):
    text = README.read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    assert blocks[0].strip() == f"pip install . && {CMD}"
    test_cmd = 'pip install torch==2.13.0 && pip install ".[dev,validate]" && python -m pytest -q'
    assert blocks[1].strip() == test_cmd
    # .ci/run runs the same command (quietly).
    ci = (README.parent / ".ci" / "run").read_text()
    assert test_cmd.replace("pip install ", "pip install -q ") in ci
    shown = text.split(f"$ {CMD}\n", 1)[1].split("```", 1)[0].rstrip()
    main(CMD.split()[1:])
    assert capsys.readouterr().out.rstrip() == shown


def test_readme_usage_figures():
    """The figures in the README's usage comments and limits come from the code and data."""
    import pandas as pd

    import costmodel
    from costmodel.loading.load import hardware_ids
    from costmodel.specs import workload as w

    text = " ".join(README.read_text().split())
    devices = [h for h in hardware_ids()
               if not h.startswith("llm-viewer") and not h.endswith("-vidur")]
    assert f"# {len(devices)} devices (a100-80gb, h100-sxm, l4, jetson-agx-orin-64gb, ...)" in text
    for name in ("published_runs", "published_memory"):
        rows = len(pd.read_csv(ROOT / "costmodel" / "calibration" / "data" / f"{name}.csv"))
        assert f"data/{name}.csv # " in text and f" {rows} published runs" in text, name
    video = costmodel.estimate("qwen2-vl-7b", "a100-80gb", video_frames=16, image_size=(448, 448))
    assert f"# video: {video.plan.llm_tokens:,.0f} tokens" in text
    qwen = costmodel.estimate("qwen2-vl-7b", "a100-80gb", image_size=(672, 672))
    assert f"(672x672 -> {qwen.plan.llm_tokens:.0f})" in text
    assert (f"`--batch` <= {w.MAX_BATCH}, token counts <= {w.MAX_TOKENS}, `--images` <= "
            f"{w.MAX_IMAGES}, `--tp`/`--pp`/`--ep` <= {w.MAX_GPUS}") in text
    from costmodel.cli.parsing import MAX_POINTS
    from costmodel.loading.load import load_engine

    assert f"grids <= {MAX_POINTS // 10**6} million points" in text
    fmt = {e: load_engine(e).int4_format for e in ("llama.cpp", "mlc", "torch-compile")}
    assert fmt["llama.cpp"] == fmt["mlc"]
    assert (f"(llama.cpp Q4_0 and MLC q4f16_1: {fmt['mlc'].group} and {fmt['mlc'].group_bytes:g};"
            f" gpt-fast: {fmt['torch-compile'].group} and {fmt['torch-compile'].group_bytes:g})"
            ) in text
