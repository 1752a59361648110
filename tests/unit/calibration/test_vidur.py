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


def _regenerate_commands() -> list[list[str]]:
    """The commands docs/validation.md gives to regenerate the shipped Vidur profiles."""
    from tests.helpers import DOCS

    text = (DOCS / "validation.md").read_text().split("Regenerate with", 1)[1]
    block = text.split("```", 2)[1]
    return [line.split()[1:] for line in block.splitlines() if line.startswith("costmodel ")]


def test_docs_regenerate_both_shipped_profiles():
    outputs = [c[c.index("-o") + 1] for c in _regenerate_commands()]
    assert outputs == ["hardware_profiles/a100-80gb-vidur.yaml",
                       "hardware_profiles/h100-sxm-vidur.yaml"]


@pytest.mark.parametrize("args", _regenerate_commands(), ids=lambda a: a[a.index("--base") + 1])
def test_shipped_profiles_are_the_fit(args, tmp_path, capsys):
    """The docs' regenerate command writes the shipped file byte for byte (no hand edits, no
    figure the fit does not set): the datasheet figures of --base, the fitted curves, and none
    of the base's kernel figures, which would replace the curves' times."""
    from costmodel.calibration.profile_writer import KERNEL_FIGURES
    from tests.helpers import run

    shipped = ROOT / args[args.index("-o") + 1]
    out = tmp_path / shipped.name
    args = [*args[:args.index("-o")], "-o", str(out)]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)  # the docs' paths are relative to the repository
        code, _, err = run([*args, "-q"], capsys)
    assert code == 0, err
    assert out.read_text() == shipped.read_text()
    f = hardware_file(read_yaml(shipped), shipped.stem)
    assert not any(getattr(f, k) for k in KERNEL_FIGURES)
    assert "Vidur" in f.sources["efficiency_curves"]
    base = load_hardware(args[args.index("--base") + 1])
    assert HardwareProfile.from_file(f).peak_flops_per_s_by_dtype == base.peak_flops_per_s_by_dtype
    assert base.sm_count is not None  # the base has kernel figures: the check above can fail


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
