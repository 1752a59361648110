"""`costmodel profile` (the torch reference model timed on this CPU): the CSV it writes and its
one-line errors."""

from __future__ import annotations

import pytest

from tests.helpers import run

torch = pytest.importorskip("torch")


@pytest.mark.slow  # times the tiny model on this CPU (torch threads: 0.5 s idle, 10-30 s on a busy 2-core VM)
def test_profile_cli_writes_csv(tmp_path, capsys):
    import csv

    from costmodel.reference.timing import COLUMNS

    out = tmp_path / "p.csv"
    code, stdout, err = run(["profile", "--tiny", "--visual-tokens", "64,100", "--batch", "1,2",
                             "--text-tokens", "8", "--warmup", "1", "--repeats", "3",
                             "-o", str(out), "--format", "json"], capsys)
    assert code == 0, err
    rows = list(csv.DictReader(out.open()))
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) == 2 * 2 * 2  # batch x visual tokens x (prefill, decode eager)
    for r in rows:
        assert float(r["median_s"]) > 0 and float(r["p25_s"]) <= float(r["p75_s"])
        assert r["torch_version"] == torch.__version__ and r["dtype"] == "fp32"
        assert r["stage"] in ("prefill", "decode") and r["mode"] == "eager"
        prompt = int(r["visual_tokens"]) + 8
        assert int(r["context_tokens"]) == prompt + (r["stage"] == "decode")
    assert '"median_s"' in stdout


def test_profile_cli_bad_input(tmp_path, capsys):
    out = tmp_path / "p.csv"
    for args, word in ((["--tiny", "--batch", "0"], "--batch"),
                       (["--tiny", "--device", "tpu"], "--device"),
                       (["llava-1.5-7b", "--tiny"], "MODEL")):
        code, _, err = run(["profile", *args, "-o", str(out)], capsys)
        assert code == 2 and word in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
