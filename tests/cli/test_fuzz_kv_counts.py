"""Reproducers from a fuzz pass: a --kv-keep count above the prompt (or, rolling, above the
longest context) and a --sparse-decode top-K above the longest context compressed nothing,
and ran as the uncompressed request labelled 'kv uniform keep 1e+30' / 'sparse_decode
top-10**30'. Refused now in one line, as a --keep count above the visual tokens is."""

from __future__ import annotations

import pytest

from tests.helpers import run

CMDS = [["estimate"], ["compare-compression"], ["plan", "--ttft", "1"], ["capacity"],
        ["batching"], ["energy"], ["compare"]]
BASE = ["llava-1.5-7b", "-H", "a100-80gb"]  # 576 visual + 64 text -> 128 output tokens


@pytest.mark.parametrize("cmd", CMDS)
@pytest.mark.parametrize("extra, message", [
    (["--kv-keep", str(10**30)], f"--kv-keep: {10**30} tokens kept, but the prompt has 640 "
                                 "tokens here; keep fewer or give a ratio"),
    (["--keep", "0.5", "--kv-keep", "400"], "--kv-keep: 400 tokens kept, but the prompt has 352"
                                            " tokens here; keep fewer or give a ratio"),
    (["--kv-keep", "768", "--kv-policy", "sink_window:rolling"],
     "--kv-keep: 768 tokens kept, but the longest context has 767 tokens here"),
    (["--sparse-decode", "768"], "--sparse-decode: top-768 keys, but the longest context has "
                                 "767 tokens here, so every key would be read; give a smaller K"),
])
def test_kv_counts_that_compress_nothing_are_refused(cmd, extra, message, capsys) -> None:
    code, out, err = run([cmd[0], *BASE, *cmd[1:], *extra], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith(f"error: {message}"), err


@pytest.mark.parametrize("extra", [["--kv-keep", "640"], ["--keep", "0.5", "--kv-keep", "352"],
                                   ["--kv-keep", "767", "--kv-policy", "sink_window:rolling"],
                                   ["--sparse-decode", "767"]])
def test_kv_counts_up_to_the_tokens_run(extra, capsys) -> None:
    code, out, err = run(["estimate", *BASE, *extra], capsys)
    assert code == 0, err


def test_a_keep_list_names_the_scenario_refused(capsys) -> None:
    """compare-compression --keep 0.9,0.1 --kv-keep 400: the 0.9 scenario's prompt (518 + 64
    tokens) holds 400, the 0.1 one's (57 + 64) does not: the line names that scenario."""
    code, out, err = run(["compare-compression", *BASE, "--keep", "0.9,0.1", "--kv-keep", "400"],
                         capsys)
    assert code == 2 and out == ""
    assert err == ("error: --kv-keep: 400 tokens kept, but the prompt has 121 tokens here; keep "
                   "fewer or give a ratio (in the --keep 0.1 scenario)\n")
