"""A hardware YAML written by hand: a misspelt or missing key is one line that names the file
and the key and says the fix (the nearest valid keys; what to add), exit code 2."""

from __future__ import annotations

import pytest

from tests.helpers import run

NEW = ("id: b200\nname: B200\ncategory: datacenter\nmemory_GB: 180\npeak_tflops:\n  bf16: 2250\n"
       "sources:\n  memory_GB: datasheet\n  peak_tflops: datasheet\n")


@pytest.mark.parametrize("text, needle", [
    ("base: h100-sxm\nmemory_gb: 144\n", "memory_gb: Extra inputs are not permitted; did you "
                                         "mean memory_GB?"),
    ("base: h100-sxm\npeak_tflops:\n  bf17: 100\n", "peak_tflops.bf17: Extra inputs are not "
                                                    "permitted; did you mean bf16?"),
    ("base: h100-sxm\nefficiency:\n  computee: 0.5\n", "did you mean compute?"),
    ("base: h100-sxm\nhbm: 1\n", "hbm: Extra inputs are not permitted; valid keys here: id, "),
    (NEW, "memory_bandwidth_GBps: Field required; add memory_bandwidth_GBps: and its source "
          "under sources:"),
    (NEW.split("sources:")[0] + "memory_bandwidth_GBps: 8000\n",
     "sources: Field required; add a sources: mapping"),
])
def test_hand_written_yaml_names_the_fix(text, needle, tmp_path, capsys):
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    for cmd in (["plan", "llava-1.5-7b", "-H", str(path), "--ttft", "1"],
                ["hardware", "show", str(path)]):
        code, out, err = run(cmd, capsys)
        assert code == 2 and out == "" and err.count("\n") == 1, err
        assert err.startswith(f"error: {path}: ") and needle in err, err


@pytest.mark.parametrize("text, needle", [
    ("bsae: h100-sxm\nmemory_GB: 96\n", "bsae: Extra inputs are not permitted; did you mean "
                                        "base? (`base: ID` inherits every field"),
    ("Base: h100-sxm\nmemory_GB: 96\n", "Base: Extra inputs are not permitted; did you mean "
                                        "base?"),
    ("base: h100-sxm\nhbm: 1\n", "sources, notes, base"),
    (NEW.replace("id: b200\n", ""), "id: Field required (+1 more); add id: (`costmodel hardware"),
])
def test_a_misspelt_base_is_named(text, needle, tmp_path, capsys):
    """A misspelt `base:` left every field missing and the line said 'id: Field required (+6
    more); add id: and its source under sources:' (id, name and category take no source);
    `base` is among the valid top-level keys listed."""
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    code, out, err = run(["hardware", "show", str(path)], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith(f"error: {path}: ") and needle in err, err
