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


def test_noisy_measurement_is_taken_again_and_the_quietest_kept(monkeypatch):
    """Contention rule (costmodel.reference.contention): a try whose IQR / median is above the
    limit is retaken (at most RETRIES more) and the try with the smallest spread kept."""
    from costmodel.reference import timing
    from costmodel.reference.contention import RETRIES, SPREAD_LIMIT, spread

    assert spread([1.0, 1.0, 2.0, 3.0]) == pytest.approx((2.25 - 1.0) / 1.5)
    tries = [[1.0, 2.0, 3.0], [1.0, 1.5, 2.0], [1.0, 1.05, 1.1], [1.0, 1.0, 1.0]]
    calls = []
    monkeypatch.setattr(timing, "time_calls", lambda fn, dev, w, r: calls.append(w) or
                        tries[len(calls) - 1])
    got = timing.quietest_calls(lambda: None, torch.device("cpu"), 2, 3)
    assert got == tries[2] and spread(got) <= SPREAD_LIMIT  # the first quiet try ends it
    assert calls == [2, 0, 0]  # warm-up only before the first try
    calls.clear()
    tries[:] = [[1.0, 2.0, 3.0], [1.0, 2.0, 2.5], [1.0, 2.2, 3.0], [1.0, 1.0, 1.0]]
    got = timing.quietest_calls(lambda: None, torch.device("cpu"), 0, 3)
    assert len(calls) == 1 + RETRIES and got == tries[1]  # all wide: the least wide of them


def test_profile_warns_about_points_that_stayed_noisy(capsys):
    from costmodel.cli.profile_cmd import _warn_noisy

    rows = [{"median_s": 1.0, "p25_s": 0.95, "p75_s": 1.05},
            {"median_s": 1.0, "p25_s": 0.9, "p75_s": 1.2}]
    _warn_noisy(rows[:1])
    assert capsys.readouterr().err == ""
    _warn_noisy(rows)
    err = capsys.readouterr().err
    assert err.startswith("warning: profile: 1 of 2 measurements stayed noisy") and \
        err.count("\n") == 1
