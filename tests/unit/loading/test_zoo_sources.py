"""Every zoo entry's config status (ZooEntry.config) is the one costmodel/zoo_configs/SOURCES.md
gives its file: VERBATIM or RECONSTRUCTED, read from the entry's summary-table row (`| id |`)
and its section heading (`### id.json — ...` or `## id — ...`)."""

from __future__ import annotations

import re

import pytest

from costmodel.loading.zoo import ZOO
from tests.helpers import ROOT

SOURCES = (ROOT / "costmodel" / "zoo_configs" / "SOURCES.md").read_text().splitlines()


def _status(mid: str) -> set[str]:
    """The statuses SOURCES.md's lines about `mid` name (its table rows and headings)."""
    found: set[str] = set()
    for line in SOURCES:
        row = line.startswith(f"| {mid} |")
        heading = line.startswith("#") and (f" {mid}.json " in line or line.startswith(f"## {mid} "))
        if row or heading:
            found |= set(re.findall(r"VERBATIM|RECONSTRUCTED", line))
    return found


@pytest.mark.parametrize("mid", sorted(ZOO))
def test_zoo_config_status_is_the_one_sources_md_gives(mid):
    assert _status(mid) == {ZOO[mid].config.upper()}


def test_the_reconstructed_ones_the_walkthrough_named():
    """The check above can fail: these are RECONSTRUCTED there, these VERBATIM."""
    for mid in ("llava-onevision-7b", "qwen2.5-vl-72b", "gemma-3-27b"):
        assert _status(mid) == {"RECONSTRUCTED"} and ZOO[mid].config == "reconstructed"
    for mid in ("llava-1.5-7b", "gemma-3-4b", "llama-3-8b"):
        assert _status(mid) == {"VERBATIM"} and ZOO[mid].config == "verbatim"
