"""csvfile.exact_floats: read_csv reads each float as float() does on every supported pandas
(before 3.1 its default converter can be a bit off: the CLI's CSV output read back then
differed from the API's numbers, and a kernel table's timings from the file's)."""

from __future__ import annotations

import io

import pandas as pd

from costmodel.calibration.csvfile import exact_floats

# decimal texts that pandas 2.0-3.0's default converter reads one bit off (found by the CLI's
# CSV output: 0.013886800000000001 read as 0.0138868)
TEXTS = ["0.013886800000000001", "0.028038700000000003", "0.026879600000000003",
         "0.0014537969013262911", "0.1", "1e-300", "123456789.123456789"]


def test_exact_floats_reads_as_float_does():
    frame = pd.read_csv(io.StringIO("x\n" + "\n".join(TEXTS) + "\n"), **exact_floats())
    assert [float(v).hex() for v in frame["x"]] == [float(t).hex() for t in TEXTS]


def test_a_float_written_by_to_csv_reads_back_unchanged():
    values = [0.013886800000000001, 0.1 + 0.2, 2.0 / 3.0, 1e-310]
    text = pd.DataFrame({"x": values}).to_csv(index=False)
    assert list(pd.read_csv(io.StringIO(text), **exact_floats())["x"]) == values
