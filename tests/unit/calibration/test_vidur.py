"""Vidur ground truth: loading, operator mapping, the fit, and the held-out Llama-3-8B check.

The A100/H100 profiles `*-vidur.yaml` are fitted on the Llama-2-7B files only; the
Llama-3-8B file (another FFN size and 8 KV heads) is never fitted and checks the A100 fit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from costmodel.calibration import vidur
from costmodel.loading.load import hardware_file, load_hardware, read_yaml
from costmodel.specs.hardware import HardwareProfile
from tests.helpers import DATA, ROOT

VIDUR = DATA / "vidur"
L2_A100 = VIDUR / "a100_Llama-2-7b-hf_mlp.csv"
L2_H100 = VIDUR / "h100_Llama-2-7b-hf_mlp.csv"
L3_A100 = VIDUR / "a100_Meta-Llama-3-8B_mlp.csv"


@pytest.fixture(scope="module")
def held_out() -> pd.DataFrame:
    return vidur.load(L3_A100)


def test_load_converts_ms_to_s_and_keeps_tp1(held_out):
    # num_tokens 128, mlp_up_proj median 0.191 ms in the file (tp=1 row)
    row = held_out[(held_out.op == "mlp_up_proj") & (held_out.num_tokens == 128)]
    assert len(row) == 1 and row.measured_s.iloc[0] == pytest.approx(0.191e-3)
    assert set(held_out.op) == set(vidur.VIDUR_OPS)
    assert (held_out.n_kv_head == 8).all() and (held_out.n_expanded_embd == 14336).all()


def test_fused_operators_have_the_fused_shape():
    b = vidur.op_builders((4096, 14336, 32, 8))
    rows = np.asarray([3.0])
    # QKV: 4096 -> 4096 + 2 * 8 * 128; gate+up: 4096 -> 2 * 14336 (FLOPs = 2 * rows * in * out)
    assert b["attn_pre_proj"](rows).matmul_flops[0] == 2 * 3 * 4096 * (4096 + 2 * 1024)
    assert b["mlp_up_proj"](rows).matmul_flops[0] == 2 * 3 * 4096 * 2 * 14336
    assert b["mlp_act"](rows).act_read_bytes[0] == 2 * 3 * 14336 * 2


def _bucket_medians(hw_id: str, frame: pd.DataFrame) -> dict[str, float]:
    err = vidur.errors(frame, load_hardware(hw_id))
    return err.groupby("bucket")["ape_pct"].median().to_dict()


def test_held_out_llama3_median_error_within_10pct_from_64_tokens(held_out):
    """The A100 curves come from Llama-2-7B only; on Llama-3-8B the median per-operator error
    must stay within 10% for every bucket of 64 tokens and more."""
    cal = _bucket_medians("a100-80gb-vidur", held_out)
    bare = _bucket_medians("a100-80gb", held_out)
    for bucket in ("64-511", "512-4096", "4097-32768"):
        assert cal[bucket] <= 10.0, (bucket, cal[bucket])
        assert bare[bucket] > 16.0  # the bare roofline is far off: the check can fail
    summ = vidur.summary(vidur.errors(held_out, load_hardware("a100-80gb-vidur")))
    assert len(summ) == len(vidur.VIDUR_OPS) * 4  # every operator reported in every bucket


@pytest.mark.parametrize("path, hw_id", [(L2_A100, "a100-80gb-vidur"), (L2_H100, "h100-sxm-vidur")])
def test_fit_reproduces_its_own_data(path, hw_id):
    med = _bucket_medians(hw_id, vidur.load(path))
    assert med["64-511"] <= 10.0 and med["512-4096"] <= 10.0


@pytest.mark.parametrize("path, base, shipped", [
    (L2_A100, "a100-80gb", "a100-80gb-vidur"), (L2_H100, "h100-sxm", "h100-sxm-vidur")])
def test_shipped_profiles_are_the_fit(path, base, shipped):
    """The shipped curves are exactly what `calibrate --from-vidur` fits (no hand edits)."""
    fitted = vidur.fit_curves(vidur.load(path), load_hardware(base))
    f = hardware_file(read_yaml(ROOT / "hardware_profiles" / f"{shipped}.yaml"),
                      shipped)
    assert f.efficiency_curves.model_dump(exclude_none=True) == fitted
    assert "Vidur" in f.sources["efficiency_curves"]
    p = HardwareProfile.from_file(f)
    assert p.peak_flops_per_s_by_dtype == load_hardware(base).peak_flops_per_s_by_dtype


def test_validation_doc_results_tables(held_out):
    """docs/validation.md, "Vidur ground truth" / "Results": the median APE by token count for
    each file and profile, and the held-out file's per-operator medians and maxima."""
    from tests.helpers import DOCS

    text = (DOCS / "validation.md").read_text().split("## Vidur ground truth", 1)[1]
    text = text.split("\n## ", 1)[0]
    buckets = [f"{lo}-{hi}" for lo, hi in vidur.BUCKETS]
    files = {"A100 Llama-3-8B (held out)": held_out, "A100 Llama-2-7B (fitted)": vidur.load(L2_A100),
             "H100 Llama-2-7B (fitted)": vidur.load(L2_H100)}
    for name, frame in files.items():
        bare, fitted = ("h100-sxm", "h100-sxm-vidur") if "H100" in name else \
            ("a100-80gb", "a100-80gb-vidur")
        for hw_id, role in ((bare, f"{bare} (datasheet)"), (fitted, fitted)):
            med = _bucket_medians(hw_id, frame)
            cells = " | ".join(f"{med[b]:.1f}" if b in med else "-" for b in buckets)
            assert f"| {name} | {role} | {cells} |" in text, (name, hw_id)
    summ = vidur.summary(vidur.errors(held_out, load_hardware("a100-80gb-vidur")))
    for op, rows in summ.groupby("op"):
        by = rows.set_index("bucket")
        cells = " | ".join(f"{by.loc[b, 'median_ape_pct']:.1f} / {by.loc[b, 'max_ape_pct']:.1f}"
                           for b in buckets)
        assert f"| {op} | {cells} |" in text, op
