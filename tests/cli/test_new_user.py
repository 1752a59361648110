"""What a new user types in a hurry: the answers name what was meant."""

from __future__ import annotations

import json

import pytest

from costmodel.errors import nearest
from tests.helpers import run

EST = ["estimate", "llava-1.5-7b", "-H"]


@pytest.mark.parametrize("typed, first", [
    ("h100", ["h100-pcie", "h100-sxm"]),   # was v100, h200, h100-sxm
    ("a100", ["a100-40gb", "a100-80gb"]),  # was a10, v100, a100-80gb
    ("orin", ["jetson-agx-orin-64gb"]),    # was no suggestion
])
def test_a_short_hardware_name_suggests_the_ids_it_begins_or_is_in(typed, first, capsys):
    code, out, err = run(EST + [typed], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    hint = err.split("did you mean ", 1)[1].split("?", 1)[0].split(", ")
    assert hint[:len(first)] == first, err


def test_nearest_keeps_spelling_matches_after_the_prefix_ones():
    known = ["llava-1.5-7b", "llava-1.5-13b", "llama-2-7b", "qwen2-vl-7b"]
    assert nearest("llava-1.5-7", known)[0] == "llava-1.5-7b"
    assert nearest("LLAVA", known)[:2] == ["llava-1.5-13b", "llava-1.5-7b"]
    assert nearest("zzzz", known) == []


@pytest.mark.parametrize("args, needle", [
    (EST + ["a100-80gb,h100-sxm"], "error: --hardware: 'a100-80gb,h100-sxm' is a comma list, but this "
     "takes one id; `costmodel compare` and `sweep` take a comma list"),
    (EST + ["a100-80gb", "--engine", "vllm,trtllm"], "error: --engine: 'vllm,trtllm' is a "
     "comma list, but this takes one id; `costmodel compare --engine` takes a comma list"),
    (["estimate", "llava-1.5-7b,qwen2-vl-7b", "-H", "a100-80gb"], "`costmodel sweep` takes"),
])
def test_a_comma_list_of_known_ids_where_one_goes_says_so(args, needle, capsys):
    """Was: unknown 'vllm,trtllm'; did you mean trtllm, trtllm-0.6, vllm?"""
    code, out, err = run(args, capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert needle in err and "unknown" not in err, err


def test_a_comma_list_in_a_profile_base_asks_for_one_base(tmp_path, capsys):
    """A YAML `base:` takes one profile; compare / sweep are no answer to a file's key (was:
    '`costmodel compare` and `sweep` take a comma list')."""
    (tmp_path / "hw.yaml").write_text("base: a100-80gb,h100-sxm\nname: x\n")
    code, out, err = run(EST + [str(tmp_path / "hw.yaml")], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "hw.yaml: base: 'a100-80gb,h100-sxm' is a comma list, but this takes one id; " \
        "name one base profile" in err, err
    assert "compare" not in err, err


def test_a_million_visual_tokens_print_as_a_whole_number(capsys):
    """Was '1e+06 visual tokens' (`:g` from a million up) in the header, the repr and the
    compare-compression table."""
    import costmodel
    from costmodel.units import count

    assert [count(x) for x in (1e6, 1048576.0, 576, 57.5, 2.5e6 + 0.25)] == \
        ["1000000", "1048576", "576", "57.5", "2500000.2"]
    args = ["-H", "h200", "--visual-tokens", "1000000", "--engine", "ideal"]
    for cmd in (["estimate", "llava-1.5-7b"], ["compare-compression", "llava-1.5-7b",
                                                "--keep", "0.1"]):
        code, out, _ = run(cmd + args, capsys)
        assert code == 0 and "e+0" not in out
        assert "batch 1 | 1000000 visual tokens" in out
    from costmodel.errors import ContextWarning

    with pytest.warns(ContextWarning, match="exceeds its max_position_embeddings"):
        est = costmodel.estimate("llava-1.5-7b", "h200", visual_tokens=1_000_000)
    assert "1000000 visual + 64 text" in repr(est)


def test_compare_compression_says_when_the_baseline_does_not_fit(capsys):
    """LLaVA-NeXT at batch 8 needs 28.8 GB on a 24 GB RTX 4090: the savings table priced it
    without a word (only -f json's memory.fits said so); keeping 25% fits (18.4 GB)."""
    args = ["compare-compression", "llava-next-vicuna-7b", "-H", "rtx-4090", "--batch", "8"]
    code, out, _ = run(args + ["--keep", "0.25"], capsys)
    assert code == 0
    assert ("memory of 24 GB: baseline 28.8 GB DOES NOT FIT | compressed 18.4 GB fits "
            "(latencies as if it fit)") in out
    code, out, _ = run(args + ["--keep", "0.25,0.9"], capsys)
    assert code == 0 and "keep 0.25 18.4 GB fits | keep 0.9 27.4 GB DOES NOT FIT" in out
    code, out, _ = run(args[:3] + ["a100-80gb", "--keep", "0.25"], capsys)
    assert code == 0 and "FIT" not in out  # all fit: no line, the table as it was


@pytest.mark.parametrize("args, needle", [
    (["compare-compression", "llava-1.5-7b", "-H", "a100-80gb", "--keep", "0.1", "--keep",
      "0.2"], "--keep: given 2 times (0.1, then 0.2); only the last would count: give it once"),
    (EST + ["a100-80gb", "--batch", "4", "--batch=8"], "--batch: given 2 times (4, then 8)"),
    (EST + ["a100-80gb", "-H", "h100-sxm"], "--hardware: given 2 times (a100-80gb, then h100"),
    (["-q", "models", "show", "llava-1.5-7b", "-f", "json", "-f", "csv"], "--format: given 2"),
    # a short option's value attached ('-Ha100-80gb', as click takes it) counts too
    (EST[:2] + ["-Ha100-80gb", "-H", "h100-sxm"], "--hardware: given 2 times (a100-80gb, then"),
    (EST[:2] + ["-Ha100-80gb", "-Hh100-sxm"], "--hardware: given 2 times (a100-80gb, then"),
])
def test_a_single_value_option_given_twice_is_refused(args, needle, capsys):
    """Was: the last value used, the others dropped without a word (one scenario, not two)."""
    code, out, err = run(args, capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert needle in err, err


@pytest.mark.parametrize("args, needle", [
    (EST + ["a100-80gb", "--flash-attention", "--no-flash-attention"],
     "--flash-attention: given with --no-flash-attention; only the last would count: give one"),
    (EST + ["a100-80gb", "--no-flash-attention", "--batch", "2", "--flash-attention"],
     "--flash-attention: given with --no-flash-attention"),
    (["compare-compression", "llava-1.5-7b", "-H", "a100-80gb", "--keep", "0.25", "--method",
      "fastv", "--overhead", "--no-overhead"], "--overhead: given with --no-overhead"),
])
def test_a_flag_given_both_ways_is_refused(args, needle, capsys):
    """Was: the last of --flash-attention / --no-flash-attention (--overhead / --no-overhead)
    used, the other dropped without a word."""
    code, out, err = run(args, capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert needle in err, err


def test_repeatable_options_and_flags_stay_allowed(capsys):
    code, out, _ = run(EST + ["a100-80gb", "--set", "memory_GB=100", "--set", "tdp_W=300",
                              "--per-op", "--per-op", "--no-flash-attention",
                              "--no-flash-attention", "-f", "json"], capsys)
    assert code == 0 and len(json.loads(out)["hardware_changes"]) == 2
