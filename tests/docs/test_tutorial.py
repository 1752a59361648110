"""docs/tutorial-token-compression.md shows what its commands print and draw today.

Blocks that start with `$ costmodel ...` are run through `costmodel.cli.main` and their output
must equal the block; `bash` blocks (commands that write plots or CSVs) are run in a temporary
directory and every PNG they name must be a valid PNG; the Python block must print the `text`
block that follows it. Plot paths under docs/img/ are redirected to the temporary directory, so
the committed figures are never rewritten by the tests.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.helpers import DOCS, run, shown_commands

pytest.importorskip("matplotlib")

DOC = DOCS / "tutorial-token-compression.md"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _text() -> str:
    return DOC.read_text()


def _shown_commands() -> list[tuple[str, str]]:
    return shown_commands(DOC)


def _bash_commands() -> list[str]:
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", _text(), re.S):
        lines += [ln for ln in block.replace("\\\n", " ").splitlines() if ln.strip()]
    return lines


def _run(args: list[str]) -> str:
    """stdout of `costmodel ARGS`; fails on a non-zero exit."""
    code, out, err = run(args)
    assert code == 0, f"costmodel {' '.join(args)} exited {code}: {err}"
    return out


def _redirect(args: list[str], tmp: Path) -> tuple[list[str], list[Path]]:
    """Point docs/img/*.png (and bare file names) at tmp; return the args and the PNGs named."""
    out, pngs = [], []
    for a in args:
        if a.endswith((".png", ".csv")):
            a = str(tmp / Path(a).name)
            if a.endswith(".png"):
                pngs.append(Path(a))
        out.append(a)
    return out, pngs


def _assert_png(path: Path) -> None:
    assert path.is_file(), f"{path.name} was not written"
    assert path.read_bytes()[:8] == PNG_MAGIC, f"{path.name} is not a PNG"
    assert path.stat().st_size > 10_000, f"{path.name} is suspiciously small"


def test_tutorial_has_the_promised_commands():
    cmds = [c for c, _ in _shown_commands()] + _bash_commands()
    joined = "\n".join(cmds)
    for needed in ("estimate llava-1.5-7b -H a100-80gb",
                   "compare-compression llava-1.5-7b -H a100-80gb --keep 0.1",
                   "compare-compression llava-1.5-7b -H jetson-agx-orin-64gb --keep 0.1",
                   "compare-compression llava-1.5-7b -H a100-80gb --keep 0.1,0.25,0.5",
                   "--at llm-layer:2", "--visual-tokens 0:576:32", "plot savings",
                   "plot roofline"):
        assert needed in joined, needed
    for img in re.findall(r"!\[[^]]*\]\((img/[^)]+)\)", _text()):
        png = DOC.parent / img
        _assert_png(png)
        assert png.stat().st_size < 250_000, f"{img} is too large for the repository"


@pytest.mark.parametrize("cmd, shown", _shown_commands(),
                         ids=[c for c, _ in _shown_commands()])
def test_tutorial_output_is_what_the_command_prints(cmd, shown, tmp_path):
    args, pngs = _redirect(shlex.split(cmd)[1:], tmp_path)
    printed = _run(args)
    assert [ln.rstrip() for ln in printed.rstrip().splitlines()] == \
        [ln.rstrip() for ln in shown.splitlines()]
    for png in pngs:
        _assert_png(png)


def test_tutorial_plot_commands_write_pngs(tmp_path):
    for line in _bash_commands():
        words = shlex.split(line)
        assert words[0] == "costmodel", line
        target = None
        if ">" in words:
            at = words.index(">")
            words, target = words[:at], tmp_path / Path(words[at + 1]).name
        args, pngs = _redirect(words[1:], tmp_path)
        printed = _run(args)
        if target is not None:
            target.write_text(printed)
        for png in pngs:
            _assert_png(png)


def test_tutorial_python_prints_what_is_shown(capsys, monkeypatch, tmp_path):
    code, shown = re.search(r"```python\n(.*?)```\s*prints\s*```text\n(.*?)```", _text(),
                            re.S).groups()
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(DOC), "exec"), {})
    printed = capsys.readouterr().out
    assert [ln.rstrip() for ln in printed.rstrip().splitlines()] == \
        [ln.rstrip() for ln in shown.rstrip().splitlines()]


def test_tutorial_qwen_engine_figures():
    """Section 8's Qwen2.5-VL paragraph: TTFT savings of keep 0.1 on hf-eager and hf-fa2."""
    import costmodel

    text = " ".join((DOCS / "tutorial-token-compression.md").read_text().split())
    for engine, share in (("hf-eager", 23.5), ("hf-fa2", 46.9)):
        c = costmodel.compare_compression("qwen2.5-vl-7b", "a100-80gb", keep=0.1,
                                          image_size=(1280, 720), engine=engine)
        b, k = c.baseline, c.compressed[0]
        assert round(100 * (1 - k.ttft_s / b.ttft_s), 1) == share
        assert (f"{b.ttft_s * 1e3:.1f} -> {k.ttft_s * 1e3:.1f} ms" in text
                and f"{b.stages['vision'].latency_s * 1e3:.1f} ms" in text)
        assert round(100 * (1 - k.bound.ttft_s / b.bound.ttft_s), 1) == 58.1
        assert b.plan.llm_tokens == 1196
    orin = {}
    for engine in ("llama.cpp", "vllm"):  # llama.cpp: the windowed layers masked, whole image
        c = costmodel.compare_compression("qwen2.5-vl-7b", "jetson-agx-orin-64gb", keep=0.1,
                                          image_size=(1280, 720), engine=engine)
        orin[engine] = c.baseline, c.compressed[0]
    b, k = orin["llama.cpp"]
    assert (f"saves {100 * (1 - k.ttft_s / b.ttft_s):.1f}% of the TTFT ({b.ttft_s * 1e3:.1f} -> "
            f"{k.ttft_s * 1e3:.1f} ms, a {b.stages['vision'].latency_s * 1e3:.1f} ms ViT)") in text
    b, k = orin["vllm"]
    assert (f"against {100 * (1 - k.ttft_s / b.ttft_s):.1f}% on `vllm` and "
            f"{100 * (1 - k.bound.ttft_s / b.bound.ttft_s):.1f}% at the bound") in text



def test_tutorial_fused_engines_sit_between():
    """Section 8: on vllm and trtllm keep 0.1 saves a TTFT share between hf-eager's and the
    bound's, and a TPOT share within 2x of the bound's (hf-eager's is 0.0%)."""
    import costmodel

    def saved(engine):
        c = costmodel.compare_compression("llava-1.5-7b", "a100-80gb", keep=0.1, engine=engine)
        b, k = c.baseline, c.compressed[0]
        return (1 - k.ttft_s / b.ttft_s, 1 - k.tpot_s / b.tpot_s,
                1 - k.bound.ttft_s / b.bound.ttft_s, 1 - k.bound.tpot_s / b.bound.tpot_s)

    eager_ttft, eager_tpot, bound_ttft, bound_tpot = saved("hf-eager")
    assert round(100 * eager_tpot, 1) == 0.0
    for engine in ("vllm", "trtllm"):
        ttft, tpot, _, _ = saved(engine)
        assert eager_ttft < ttft < bound_ttft, engine
        assert bound_tpot / 2 < tpot < 2 * bound_tpot, engine
    text = " ".join((DOCS / "tutorial-token-compression.md").read_text().split())
    assert "save a TTFT share between the two" in text and "TPOT saving of the bound's order" in text

def _pair(a: str, b: str) -> str:
    """'30.5 ms', '8.72 ms' -> '30.5 -> 8.72 ms' (the two in one unit, as the tutorial writes)."""
    assert a.split()[1] == b.split()[1], (a, b)
    return f"{a.split()[0]} -> {b}"


def test_tutorial_summary_table_and_decode_figures():
    """The summary table (keep 10% after the projector, engine ideal, A100 and Orin) and section
    1's decode arithmetic: a step reads the LLM's weights plus the KV cache, not the 14.1 GB."""
    import costmodel
    from costmodel.units import seconds, si

    text = " ".join(_text().split())
    cells = {}
    for hw in ("a100-80gb", "jetson-agx-orin-64gb"):
        c = costmodel.compare_compression("llava-1.5-7b", hw, keep=0.1, engine="ideal")
        b, k = c.baseline, c.compressed[0]

        def cell(x: float, y: float, fmt) -> str:
            return f"{_pair(fmt(x), fmt(y))} ({100 * (1 - y / x):.1f}%)"

        cells[hw] = [cell(b.ttft_s, k.ttft_s, seconds), cell(b.tpot_s, k.tpot_s, seconds),
                     cell(b.e2e_latency_s, k.e2e_latency_s, seconds),
                     cell(b.memory.kv_cache_bytes, k.memory.kv_cache_bytes,
                          lambda v: si(v, "B"))]
    for name, a100, orin in zip(("TTFT", "TPOT", "end-to-end", "KV cache"),
                                cells["a100-80gb"], cells["jetson-agx-orin-64gb"], strict=True):
        assert f"| {name} | {a100} | {orin} |" in text, name
    e = costmodel.estimate("llava-1.5-7b", "a100-80gb", engine="ideal")
    spec, hw = costmodel.load_model("llava-1.5-7b"), costmodel.load_hardware("a100-80gb")
    llm = spec.llm
    linear = llm.num_layers * (4 * llm.hidden_size ** 2 + 3 * llm.hidden_size
                               * llm.intermediate_size) + llm.hidden_size * llm.vocab_size
    step, bw = e.stages["decode"].bytes / 127, hw.memory_bytes_per_s
    assert (f"a step reads {step / 1e9:.1f} GB ({si(e.stages['decode'].bytes, 'B')} over the 127 "
            f"steps: the LLM's linear and lm_head weights, {2 * linear / 1e9:.1f} GB in bf16, plus "
            f"the KV cache), and {step / 1e9:.1f} GB / {bw / 1e9:.0f} GB/s = "
            f"{seconds(step / bw)}") in text
    assert seconds(e.tpot_s) == seconds(step / bw)
    assert f"the LLM's {2 * linear / 1e9:.1f} GB of weights" in text
    assert f"{si(e.memory.weights_bytes, 'B')} of weights on the memory line" in text


def test_tutorial_max_load_ratios():
    """Section 9's ratios come from the capacity table shown above them (itself re-run)."""
    shown = dict(_shown_commands())
    block = next(out for cmd, out in shown.items() if cmd.startswith("costmodel capacity"))
    rows = {}
    for line in block.splitlines():
        cols = re.split(r"\s{2,}", line.strip())  # columns are 2+ spaces apart
        if cols[0] in ("a100-80gb", "h100-sxm"):
            rows[cols[0], "none" if cols[1] == "none" else "keep"] = cols[2:]
    text = " ".join(_text().split())
    a_none, a_keep = rows["a100-80gb", "none"], rows["a100-80gb", "keep"]
    h_none, h_keep = rows["h100-sxm", "none"], rows["h100-sxm", "keep"]
    # columns: max batch, decode tok/s, max-load batch, output tok/s there, ...
    assert (f"lets {int(a_keep[2]) / int(a_none[2]):.1f}x the requests be in flight (max-load "
            f"batch {a_none[2]} -> {a_keep[2]})") in text
    assert (f"grows {int(a_keep[3]) / int(a_none[3]):.1f}x on the A100 and "
            f"{int(h_keep[3]) / int(h_none[3]):.1f}x on the H100") in text


def test_tutorial_sweep_is_not_compression_figures():
    """Section 5's LLaVA-NeXT note: 732 visual tokens given directly (sweep) against 2928 kept
    at 25% (compare-compression), RTX 4090, batch 8; the figures come from the commands."""
    import costmodel
    from costmodel.sweep import sweep
    from costmodel.units import seconds

    text = " ".join(_text().split())
    df = sweep(["llava-next-vicuna-7b"], ["rtx-4090"], visual_tokens=[732], batch=[8])
    direct = costmodel.estimate("llava-next-vicuna-7b", "rtx-4090", visual_tokens=732, batch=8)
    assert direct.ttft_s == df.ttft_s.iloc[0]
    kept = costmodel.compare_compression("llava-next-vicuna-7b", "rtx-4090", keep=0.25,
                                         batch=8).compressed[0]
    assert (kept.plan.llm_tokens, round(kept.plan.llm_tokens * 0.25)) == (2928, 732)
    assert (f"prices 732 tokens as {direct.plan.crops} ViT passes (vision "
            f"{seconds(direct.stages['vision'].latency_s)}, TTFT {seconds(direct.ttft_s)})") in text
    assert (f"keeps the same 732 after all {kept.plan.crops} passes (vision "
            f"{seconds(kept.stages['vision'].latency_s)}, TTFT {seconds(kept.ttft_s)})") in text
    assert "gives 2928 tokens from 5 ViT passes" in text and kept.plan.crops == 5
    for cmd in ("sweep llava-next-vicuna-7b -H rtx-4090 --visual-tokens 732 --batch 8",
                "compare-compression llava-next-vicuna-7b -H rtx-4090 --keep 0.25 --batch 8"):
        assert f"`{cmd}`" in text
