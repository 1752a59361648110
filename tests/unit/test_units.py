"""Display formatting of base-unit values (costmodel/units.py)."""

from __future__ import annotations

import pytest

from costmodel.units import seconds, si


@pytest.mark.parametrize(("value", "text"), [
    (1.5e12, "1.5 TFLOP"), (999.4e9, "999 GFLOP"), (8.4006e12, "8.4 TFLOP"), (0.0, "0 FLOP"),
    (42.0, "42 FLOP"), (-2.5e6, "-2.5 MFLOP"),
])
def test_si_picks_the_prefix_of_the_value(value, text):
    assert si(value, "FLOP") == text


@pytest.mark.parametrize(("value", "text"), [
    (999.834e9, "1 TFLOP"),  # Gemma-3-4B's decode FLOPs at 1280x720 printed '1e+03 GFLOP'
    (999.7, "1 kFLOP"), (999_600.0, "1 MFLOP"), (-999.9e6, "-1 GFLOP"),
])
def test_si_never_prints_1000_of_a_prefix(value, text):
    """A value that rounds up to 1000 of a prefix takes the next prefix, not '1e+03'."""
    assert si(value, "FLOP") == text


@pytest.mark.parametrize(("value", "text"), [
    (0.0305, "30.5 ms"), (3.62, "3.62 s"), (82.3e-6, "82.3 us"), (0.9996, "1 s"),
    (999.7e-6, "1 ms"), (0.0, "0 us"),
])
def test_seconds_never_prints_1000_of_a_unit(value, text):
    assert seconds(value) == text
