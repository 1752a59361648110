"""validate --published: the bundled published end-to-end runs, the bound, bad rows (the
command: tests/cli/test_validate_published.py)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from costmodel.calibration import published
from costmodel.errors import CostmodelError

# Issue 9's target for the bundled set is median |error| <= 15% (on the way to 10%). With the
# device's fitted kernel model in the evaluate path, the engines' fused qkv / gate_up GEMMs
# (Engine.fused_gemms) and the engine host figures fitted by benchmarks/fit_engines.py on the
# stated fit rows (hf-eager's each on the rows that identify it, STAGES: host figures on those
# the host bounds, copy_fraction on those with a prompt), the bundled set reaches 5.6% overall
# and 7.0% on the 76 held-out rows (docs/validation.md; 5.7% and 7.2% on 96 with the 20 max-load
# rows since, none fitted; 5.6% and 6.8% since the Qwen2.5 vLLM 0.6.3 rows are priced as
# vllm-0.6, prompts over 32K in 512-token chunks): the 15% target and the 10% way-point
# are both met. (It was 8.7% held out before hf-eager's copy_fraction, 9.9% before its
# host-bound fit; 10.3% before
# the fused GEMMs; 10.5% with the TensorRT-LLM v0.5/v0.6.1 rows priced with XQA, engine
# trtllm; 11.7% before hf-eager's host launches overlapped the device, `host_overlap: async`;
# 11.3% before each engine's own prefill-attention figures.)
TARGET_MEDIAN = 0.15
HELD_OUT_REACHED = 0.08
# The published figures are rounded (TTFT to whole ms: 7 ms is 6.5..7.5, i.e. 7%).
ROUNDING = 0.075


@pytest.fixture(scope="module")
def bundled() -> tuple[pd.DataFrame, dict]:
    """The bundled set, validated once; its Qwen2.5 rows at 128K tokens run past the configs'
    max_position_embeddings (32,768): a ContextWarning each, expected."""
    import warnings

    from costmodel.errors import ContextWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ContextWarning)
        return published.validate(published.BUNDLED)


def test_bundled_median_error(bundled):
    _, summary = bundled
    assert summary["rows"] >= 100
    assert summary["median_abs_error"] <= TARGET_MEDIAN
    assert set(summary["by_split"]) == {"fit", "held-out"}
    # the rows no figure was fitted on, on their own
    assert summary["by_split"]["held-out"]["median_abs_error"] <= HELD_OUT_REACHED


def test_bound_is_never_slower_than_the_measurement(bundled):
    """The roofline bound is a lower bound on time: on every published row it is at least as
    fast as what was measured, up to the rounding of the published figure."""
    frame, _ = bundled
    slack = published.bound_slack(frame)
    assert np.all(slack >= -ROUNDING), frame.loc[slack < -ROUNDING, "id"].tolist()


def test_expected_is_slower_than_the_bound(bundled):
    frame, _ = bundled
    rate = frame["metric"].isin(published.RATES)
    ok = np.where(rate, frame["predicted"] <= frame["bound"] * (1 + 1e-9),
                  frame["predicted"] >= frame["bound"] * (1 - 1e-9))
    assert ok.all()


def test_metric_values_by_hand():
    m = np.array(["ttft_s", "tpot_s", "decode_tokens_per_s", "output_tokens_per_s", "e2e_s",
                  "max_load_output_tokens_per_s", "memory_bytes"])
    one = np.ones(7)
    got = published.metric_values(m, 0.1 * one, 0.01 * one, 2.0 * one, 4 * one, 100 * one,
                                  3e9 * one)
    assert got.tolist() == pytest.approx([0.1, 0.01, 100.0, 200.0, 2.0, 200.0, 3e9])


# The max-load rows (TensorRT-LLM >= 0.19 trtllm-bench, Llama 3.1 8B fp8 on H100 and H200):
# no figure of any engine or device is fitted on them; 7.2% median (6.7% first, with a static
# batch's prefill activations in the batch rule: docs/validation.md, "Max load").
MAX_LOAD_REACHED = 0.08


def test_max_load_rows_held_out(bundled):
    frame, summary = bundled
    rows = frame[frame["metric"] == published.MAX_LOAD]
    assert len(rows) == 20 and set(rows["hardware"]) == {"h100-sxm", "h200"}
    assert (rows["split"] == "held-out").all()
    assert summary["by_metric"][published.MAX_LOAD]["median_abs_error"] <= MAX_LOAD_REACHED
    # the batch run is the largest whose weights + whole-sequence KV cache + one request's
    # activations fit, or the cap (128/128 on both devices): checked against estimate
    from costmodel import estimate
    from costmodel.specs.workload import Workload

    for _, r in rows[rows["id"].isin(["e2e-0395", "e2e-0405-h200", "e2e-0387"])].iterrows():
        b = int(r["run_batch"])

        def held(n: int, r=r) -> tuple[float, float, float]:
            """(weights + KV cache at batch n, one request's activations, device memory)."""
            w = Workload(visual_tokens=0, text_tokens=int(r["text_tokens"]), engine="trtllm",
                         output_tokens=int(r["output_tokens"]), batch=n, act_dtype="fp8",
                         weight_dtype="fp8", kv_dtype="fp8")
            m = estimate(r["model"], r["hardware"], w).memory
            one = estimate(r["model"], r["hardware"], w.model_copy(update={"batch": 1})).memory
            return m.weights_bytes + m.kv_cache_bytes, one.activation_bytes, m.capacity_bytes

        kept, one_request, cap = held(b)
        assert kept + one_request <= cap
        if b < int(r["batch"]):  # memory binds: one more request does not fit
            assert held(b + 1)[0] + one_request > cap
        else:  # the cap binds (128/128)
            assert held(b + 1)[0] + one_request <= cap


def _max_load_csv(tmp_path: Path, model: str, hardware: str, cap: int) -> Path:
    path = tmp_path / "ml.csv"
    path.write_text(",".join(published.COLUMNS) + "\n" + f"m1,{model},{hardware},trtllm,bf16,"
                    f"bf16,bf16,{cap},0,1000,1000,1,max_load_output_tokens_per_s,1000,x\n")
    return path


def test_max_load_is_capacity_at_its_max_load_batch(tmp_path):
    """One path: the row's prediction is `costmodel capacity`'s output tokens/s at its max
    batch, and a cap below that batch is the batch run."""
    from costmodel.analysis.plan import Slo, capacity_of
    from costmodel.loading.load import load_hardware, load_model
    from costmodel.specs.workload import Workload

    frame, _ = published.validate(_max_load_csv(tmp_path, "llama-2-7b", "a100-80gb", 4096))
    spec, hw = load_model("llama-2-7b"), load_hardware("a100-80gb")
    w = Workload(visual_tokens=0, text_tokens=1000, output_tokens=1000, engine="trtllm")
    c = capacity_of(spec, [hw], w, Slo(), 4096, auto_dtype=False)
    assert 1 < c.max_load_batch[0] < 4096
    assert frame["run_batch"].iloc[0] == c.max_load_batch[0]
    assert frame["predicted"].iloc[0] == pytest.approx(c.output_tokens_per_s[0], rel=1e-9)
    capped, _ = published.validate(_max_load_csv(tmp_path, "llama-2-7b", "a100-80gb", 8))
    assert capped["run_batch"].iloc[0] == 8


def test_max_load_model_that_does_not_fit(tmp_path):
    with pytest.raises(CostmodelError, match=r"id m1: .* does not fit on l4 at batch 1"):
        published.validate(_max_load_csv(tmp_path, "mixtral-8x7b", "l4", 64))


def test_missing_column_refused(tmp_path):
    path = tmp_path / "cols.csv"
    pd.read_csv(published.BUNDLED).drop(columns=["kv_dtype"]).head(2).to_csv(path, index=False)
    with pytest.raises(CostmodelError, match="kv_dtype"):
        published.read(path)


def test_bundled_configs_and_note_are_shipped():
    data = published.BUNDLED.parent
    assert (data / "NOTE.md").is_file()
    models = pd.read_csv(published.BUNDLED)["model"]
    for m in models[models.str.endswith(".json")].unique():
        assert (data / Path(m)).is_file()


def test_weight_group_column(tmp_path):
    """Optional weight_group / weight_group_bytes: read as numbers, empty (or a non-int4 row)
    = NaN, the engine's own int4 format; the bundled gpt-fast int4 rows are groups of 32 with
    4 B (bf16 scale + zero)."""
    frame = published.read(published.BUNDLED)
    int4 = frame[frame["weight_dtype"] == "int4"].set_index("id")
    assert sorted(int4.index) == ["e2e-0197", "e2e-0199", "e2e-0218"]
    assert (int4["weight_group"] == 32).all() and (int4["weight_group_bytes"] == 4.0).all()
    rest = frame[frame["weight_dtype"] != "int4"]
    assert rest["weight_group"].isna().all() and rest["weight_group_bytes"].isna().all()
    path = tmp_path / "no_group.csv"
    pd.read_csv(published.BUNDLED).drop(columns=["weight_group", "weight_group_bytes"]).head(
        2).to_csv(path, index=False)
    assert published.read(path)["weight_group"].isna().all()


def test_weight_group_changes_only_the_int4_rows(tmp_path):
    """The same int4 row at g128 / 2 B (0.515625 B / weight) decodes faster than at g32 / 4 B
    (0.625 B / weight): the column reaches the prediction; left empty, the row takes the
    engine's own format (torch-compile: gpt-fast's g32 / 4 B), the bundled row's figure."""
    rows = pd.read_csv(published.BUNDLED, dtype=str, keep_default_na=False)
    rows = rows[rows["id"] == "e2e-0197"]
    both = pd.concat([rows, rows.assign(id="d", weight_group="128", weight_group_bytes="2"),
                      rows.assign(id="e", weight_group="", weight_group_bytes="")])
    path = tmp_path / "two.csv"
    both.to_csv(path, index=False)
    pred = published.predict(published.read(path)).set_index("id")["predicted"]
    assert pred["d"] > pred["e2e-0197"]  # tokens / s: fewer bytes, faster
    assert pred["e"] == pred["e2e-0197"]
    records = published.records(published.predict(published.read(path)))
    assert [r["weight_group"] for r in records] == [32, 128, None]


def test_bad_weight_group_names_row_and_column(tmp_path):
    rows = pd.read_csv(published.BUNDLED, dtype=str, keep_default_na=False).head(3)
    rows.loc[1, "weight_group_bytes"] = "inf"
    path = tmp_path / "bad.csv"
    rows.to_csv(path, index=False)
    with pytest.raises(CostmodelError, match=r"row 3 .*column weight_group_bytes"):
        published.read(path)


def test_max_load_cap_limited_before_any_work(tmp_path):
    with pytest.raises(CostmodelError, match=r"row 2 \(id m1\): column batch: .* at most 65536"):
        published.validate(_max_load_csv(tmp_path, "llama-2-7b", "a100-80gb", 10**9))


def test_summed_peak_bytes_by_hand():
    from costmodel.core.metrics import summed_peak_bytes

    # 3 GPUs: one copy of weights + KV (100) and each GPU's activation peak (7)
    assert summed_peak_bytes(np.array(107.0), np.array(7.0), 3) == 121.0
    assert summed_peak_bytes(np.array(107.0), np.array(7.0), 1) == 107.0


# Peak GPU memory of Qwen2.5's HF Transformers runs (sum over GPUs of max_memory_allocated):
# nothing fitted; 1.5% median, 9.0% max (all but one predicted low) when first priced.
MEMORY_REACHED, MEMORY_MAX = 0.03, 0.10
MEMORY = published.BUNDLED.with_name("published_memory.csv")


def test_bundled_memory_rows():
    frame, summary = published.validate(MEMORY)
    assert summary["rows"] == 28 and set(frame["metric"]) == {"memory_bytes"}
    assert (frame["split"] == "held-out").all()
    assert summary["median_abs_error"] <= MEMORY_REACHED
    assert summary["max_abs_error"] <= MEMORY_MAX
    assert (frame["bound"] == frame["predicted"]).all()  # memory has no engine / bound split


def test_memory_on_several_gpus_counts_each_gpus_activation_peak():
    """A 3-GPU pipeline row: one copy of weights and KV cache, three activation peaks."""
    from costmodel import estimate
    from costmodel.specs.workload import Parallelism, Workload

    frame, _ = published.validate(MEMORY)
    row = frame[frame["id"] == "e2e-0281-mem"].iloc[0]
    assert (row["tp"], row["pp"]) == (1, 3)
    e = estimate(row["model"], "a100-80gb", Workload(
        visual_tokens=0, text_tokens=30720, output_tokens=2048, engine="hf-eager",
        parallel=Parallelism(pp=3)))
    m = e.memory
    want = m.weights_bytes + m.kv_cache_bytes + 3 * m.activation_bytes
    assert row["predicted"] == pytest.approx(want, rel=1e-12)


def test_unknown_split_names_row_and_column(tmp_path):
    rows = pd.read_csv(published.BUNDLED, dtype=str, keep_default_na=False).head(2)
    rows.loc[1, "split"] = "heldout"  # was grouped as a split of its own, never fitted on
    path = tmp_path / "bad.csv"
    rows.to_csv(path, index=False)
    with pytest.raises(CostmodelError, match=r"row 3 .*column split: 'heldout'; use fit\|held-out"):
        published.read(path)


def _validation_doc() -> str:
    from tests.helpers import DOCS

    return (DOCS / "validation.md").read_text()


def test_validation_doc_results_table(bundled):
    """docs/validation.md, "Results": the summary block is what `validate --published` prints."""
    from costmodel.cli.published_cmd import summary_table

    section = _validation_doc().split("## Accuracy against published runs", 1)[1]
    block = section.split("### Results\n", 1)[1].split("```\n", 2)[1]
    assert block.rstrip() == summary_table(bundled[1]).rstrip()


def test_validation_doc_fit_and_held_out_per_engine(bundled):
    """docs/validation.md's table of fitted and held-out rows per engine (today's columns)."""
    frame = bundled[0].assign(abs_err=lambda f: f["error"].abs(),
                              abs_bound=lambda f: f["bound_error"].abs())
    lines = _validation_doc().split("Fitted and held-out rows per engine", 1)[1].splitlines()

    def pct(x: float) -> str:
        return f"{100 * x:.1f}%"

    for engine, rows in [*frame.groupby("engine"), ("all", frame)]:
        line = next(ln for ln in lines if re.match(rf"\| {re.escape(engine)}( |\|)", ln))
        cells = [c.strip() for c in line.strip("|").split("|")]
        for col, split in ((1, "fit"), (3, "held-out")):
            part = rows[rows["split"] == split]
            assert cells[col].split()[0] == str(len(part)), (engine, split)
            shown = "-" if part.empty else \
                f"{pct(part['abs_err'].median())} / {pct(part['abs_err'].max())}"
            assert cells[col + 1].startswith(shown), (engine, split, cells[col + 1])
        assert cells[5].startswith(pct(rows["abs_bound"].median())), engine


def test_validation_doc_max_load_table(bundled):
    """docs/validation.md, "Max load": each ISL/OSL row (batch run, measured, expected, error on
    the H100 and the H200) and the medians under the table."""
    frame, summary = bundled
    rows = frame[frame["metric"] == published.MAX_LOAD]
    text = " ".join(_validation_doc().split())

    def cells(r: pd.Series) -> str:
        run = f"{r['run_batch']:.0f}" + (" (cap)" if r["run_batch"] == r["batch"] else "")
        return f"{run} | {r['value']:,.0f} | {r['predicted']:,.0f} | {100 * r['error']:+.1f}%"

    h100 = rows[rows["hardware"] == "h100-sxm"]
    h200 = rows[rows["hardware"] == "h200"].set_index("id")
    for _, r in h100.iterrows():
        twin = h200.loc[f"{r['id']}-h200"]
        line = (f"| {r['text_tokens']}/{r['output_tokens']} | {cells(r)} | {cells(twin)} |")
        assert line in text, line
    err = {hw: g["error"] for hw, g in rows.groupby("hardware")}
    s = summary["by_metric"][published.MAX_LOAD]
    assert (f"Median |error| {100 * s['median_abs_error']:.1f}% (H100 "
            f"{100 * err['h100-sxm'].abs().median():.1f}%, nine of ten too fast, max "
            f"{100 * err['h100-sxm'].abs().max():.1f}%; H200 "
            f"{100 * err['h200'].abs().median():.1f}%, signed {100 * err['h200'].median():+.1f}%, "
            f"max {100 * err['h200'].abs().max():.1f}%); the bound is "
            f"{100 * summary['bound']['by_metric'][published.MAX_LOAD]['median_abs_error']:.1f}% "
            "above") in text
    assert (err["h100-sxm"] > 0).sum() == 9
    ratio = {c: np.median(h200.loc[[f"{i}-h200" for i in h100["id"]], c].to_numpy()
                          / h100[c].to_numpy()) for c in ("value", "predicted")}
    assert f"(measured {ratio['value']:.2f}x, predicted {ratio['predicted']:.2f}x" in text


def test_validation_doc_named_rows_and_medians(bundled):
    """docs/validation.md's prose figures of today's rows: the "Today" errors of the TensorRT-LLM
    rows, the chunked-prefill table's "after" column, the int4 rows and "What is and is not
    met" (medians, the bound's ratio, the rows it names)."""
    frame, summary = bundled
    text = " ".join(_validation_doc().split())
    err = frame.set_index("id")["error"]

    def signed(*ids: str) -> str:
        return ", ".join(f"{100 * err[f'e2e-{i}']:+.1f}%" for i in ids)

    def median(rows: pd.DataFrame, digits: int = 1) -> str:
        return f"{100 * rows['error'].abs().median():.{digits}f}%"

    assert (f"H100 70B {signed('0363', '0364', '0365', '0366')}; A100 70B e2e-0375..0377 "
            f"{signed('0375', '0376', '0377')}; 7B e2e-0371..0374 "
            f"{signed('0371', '0372', '0373', '0374')}; H100 first-token e2e-0379..0381 "
            f"{signed('0379', '0380', '0381')}.") in text
    assert f"now {signed('0197', '0199')} and {signed('0218')} (nothing refitted" in text
    for a, b in (("0256", "0257"), ("0266", "0267"), ("0276", "0277"), ("0287", "0288")):
        assert f"| {signed(a)} / {signed(b)} |" in text, a
    chunked = frame[frame["id"].isin([f"e2e-{i}" for i in
                                      ("0256", "0257", "0266", "0267", "0276", "0277", "0287",
                                       "0288")])]
    assert f"| the 8 rows over 32K, median | 9.2% | {median(chunked)} |" in text
    vllm = frame[frame["engine"] == "vllm-0.6"]
    held, fit = frame[frame["split"] == "held-out"], frame[frame["split"] == "fit"]
    assert (f"{median(vllm, 2)} ({median(vllm[vllm['split'] == 'fit'])} / "
            f"{median(vllm[vllm['split'] == 'held-out'])}) |") in text
    assert (f"| all {len(frame)} rows / held out {len(held)} / fit {len(fit)} | 5.66% / 7.17% / "
            f"4.04% | {median(frame, 2)} / {median(held, 2)} / {median(fit, 2)} |") in text
    assert (f"**met**, {median(frame)} on {len(frame)} rows (held out: {median(held)} on "
            f"{len(held)};") in text
    bound = summary["bound"]["median_abs_error"]
    assert (f"{bound / summary['median_abs_error']:.1f}x closer than the bound overall (median "
            f"{median(frame)} vs {100 * bound:.1f}%;") in text
    assert (f"e2e-0205 {signed('0205')}; Llama-3.1-405B int8, e2e-0221, {signed('0221')}: "
            f"{frame.set_index('id').loc['e2e-0221', 'predicted']:.1f} tokens/s predicted") in text
    worst = vllm[vllm["split"] == "held-out"]["error"].abs().idxmax()
    assert frame.loc[worst, "id"] == "e2e-0237"
    assert f"(e2e-0237 {signed('0237')}, the largest held-out vllm-0.6 error;" in text
    long_hf = frame[frame["id"].isin([f"e2e-{i}" for i in ("0250", "0251", "0270", "0271",
                                                            "0280", "0281")])]
    assert f"are within {100 * long_hf['error'].abs().max():.1f}% since copy_fraction" in text
    by = {e: median(rows[rows["split"] == "held-out"]) for e, rows in frame.groupby("engine")}
    assert (f"held-out median is vllm-0.6 {by['vllm-0.6']} (8.0% as `vllm`, one pass), trtllm-0.6 "
            f"{by['trtllm-0.6']}, torch-compile {by['torch-compile']} (9.6% before the 405B "
            f"row), hf-eager {by['hf-eager']} (") in text
