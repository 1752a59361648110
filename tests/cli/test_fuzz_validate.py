"""Bugs found by fuzzing validate (--published, --kernels, --measurements), the catalog
commands (models / hardware / engines list and show) and the plot commands with malformed
files and options: each test is one reproducer (it failed before its fix)."""

from __future__ import annotations

import pytest

from tests.helpers import ROOT, run


def _refused(args, capsys, start):
    """Exit 2, nothing on stdout, one stderr line starting with `start`."""
    code, out, err = run(args, capsys)
    assert code == 2 and out == "" and "Traceback" not in err, err
    assert err.count("\n") == 1 and err.startswith(start), err
    return err


@pytest.mark.figures
@pytest.mark.parametrize("kind", ["roofline", "breakdown", "sweep"])
@pytest.mark.parametrize("comp", [["--keep", "0.5"], ["--kv-keep", "0.5"],
                                  ["--keep", "0.25", "--method", "fastv"]])
def test_plot_commands_take_the_compression_options(kind, comp, tmp_path, capsys):
    """plot roofline / breakdown / sweep list estimate's --keep, --kv-keep, --method, ... but
    passed them to Workload as fields: 'error: keep: Extra inputs are not permitted'."""
    pytest.importorskip("matplotlib")
    out = tmp_path / "fig.png"
    code, _, err = run(["plot", kind, "llava-1.5-7b", "-H", "a100-80gb", *comp, "-o", str(out)],
                       capsys)
    assert code == 0, err
    assert out.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("args", [
    ["sweep", "llava-1.5-7b", "-H", "a100-80gb,a100-80gb", "--visual-tokens", "0:64:64"],
    ["sweep", "llava-1.5-7b", "-H", "a100-80gb,A100-80GB", "--visual-tokens", "0:64:64"],
    ["plot", "sweep", "llava-1.5-7b", "-H", "a100-80gb,a100-80gb", "-o", "{tmp}/s.png"]])
def test_sweep_refuses_a_device_given_twice(args, tmp_path, capsys):
    """A device listed twice in sweep / plot sweep -H raised pandas' 'Categorical categories
    must be unique' (a traceback) after the whole grid was evaluated."""
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    _refused(args, capsys, "error: --hardware: a100-80gb appears twice; give each device once")
    assert not (tmp_path / "s.png").exists()


HEADER = ("id,model,hardware,engine,weight_dtype,act_dtype,kv_dtype,batch,visual_tokens,"
          "text_tokens,output_tokens,tp,metric,value,source")
ROW = ["r1", "llava-1.5-7b", "a100-80gb", "vllm", "bf16", "bf16", "bf16", "1", "576", "64",
       "128", "1", "ttft_s", "0.05", "x"]


def _published(tmp_path, *rows, header=HEADER, extra=()):
    """A published-runs CSV of `rows` (each a {column: cell} change of ROW, or a raw line)."""
    cols = header.split(",")
    lines = [header]
    for r in rows:
        cells = dict(zip(HEADER.split(","), ROW, strict=True))
        lines.append(r if isinstance(r, str) else ",".join({**cells, **r}.get(c, "")
                                                            for c in cols))
    path = tmp_path / "runs.csv"
    path.write_text("\n".join(lines) + "\n" if rows or header else "", encoding="utf-8")
    return ["validate", "--published", str(path), *extra]


def test_published_empty_file_is_one_line(tmp_path, capsys):
    """An empty CSV raised pandas' EmptyDataError (a traceback)."""
    _refused(_published(tmp_path, header=""), capsys, "error: --published: ")


def test_published_row_with_more_cells_than_the_header(tmp_path, capsys):
    """pandas took the first cells of a too-long row as an index and shifted the row: 'row 2
    (id a100-80gb): column act_dtype: '1'', naming the wrong id and column."""
    line = ",".join(ROW[:4] + ["x,y"] + ROW[4:])
    err = _refused(_published(tmp_path, line), capsys, "error: --published: ")
    assert "row 2 has more cells than the header" in err and "quote" in err


@pytest.mark.parametrize("column", ["batch", "visual_tokens", "text_tokens", "output_tokens",
                                    "tp"])
def test_published_count_too_large_names_row_and_column(column, tmp_path, capsys):
    """1e30 overflowed the int64 column to a negative number: 'id r1: batch: Input should be
    greater than 0' (and for tp 'tp: ...' with no row at all)."""
    err = _refused(_published(tmp_path, {column: "1e30"}), capsys,
                   f"error: runs.csv row 2 (id r1): column {column}: '1e30' is too large")
    assert "greater" not in err


def test_published_duplicate_id_is_refused(tmp_path, capsys):
    """Two rows with one id were accepted (errors and JSON records name rows by their id)."""
    _refused(_published(tmp_path, {}, {"metric": "tpot_s", "value": "0.01"}), capsys,
             "error: runs.csv row 3 (id r1): column id: also the id of row 2")


@pytest.mark.parametrize("cells, start", [
    # named the command-line option, not the column, and no row: '--weight-group: ...'
    ({"weight_dtype": "int4", "weight_group": "1e9"}, "column weight_group: Input should be"),
    ({"weight_dtype": "int4", "weight_group_bytes": "1e300"}, "column weight_group_bytes: "),
    # named MODEL / --hardware / --engine, the options of estimate
    ({"model": "missing/config.json"}, "column model: no file "),
    ({"hardware": "missing.yaml"}, "column hardware: no file "),
    ({"engine": "missing.yaml"}, "column engine: no file "),
    ({"tp": "3"}, "column tp: 3 does not divide the 32 attention heads"),
    # accepted and priced as prompt tokens, where estimate refuses --visual-tokens
    ({"model": "llama-3-8b"}, "column visual_tokens: llama-3-8b has no vision tower; give 0"),
])
def test_published_model_errors_name_the_column(cells, start, tmp_path, capsys):
    header = HEADER + ",weight_group,weight_group_bytes"
    _refused(_published(tmp_path, cells, header=header), capsys, f"error: id r1: {start}")


def test_published_text_only_row_without_visual_tokens_still_runs(tmp_path, capsys):
    code, _, err = run(_published(tmp_path, {"model": "llama-3-8b", "visual_tokens": "0"}),
                       capsys)
    assert code == 0, err


def _kernel_table(tmp_path, column, cell):
    """The first 5 rows of the A100 vLLM context-attention table with one cell changed."""
    import pandas as pd

    from tests.helpers import KERNELS

    df = pd.read_csv(KERNELS / "a100_sxm_vllm_context_attention_perf.csv.gz").head(5)
    df = df.astype(str)
    df.loc[0, column] = cell
    path = tmp_path / "ctx.csv"
    df.to_csv(path, index=False)
    return ["validate", "--kernels", str(path), "-H", "a100-80gb"]


@pytest.mark.parametrize("column", ["batch_size", "isl", "num_heads", "num_key_value_heads",
                                    "head_dim", "step", "window_size"])
@pytest.mark.parametrize("cell", ["abc", "", "-1", "1.5", "nan"])
def test_kernel_table_shape_cells_are_whole_numbers(column, cell, tmp_path, capsys):
    """A shape cell that is text raised a traceback (float conversion); an empty, NaN,
    negative or fractional one was accepted: an empty predicted_s in --per-row -f csv, or a
    prediction for a shape that does not exist."""
    least = 0 if column in ("step", "window_size") else 1
    err = _refused(_kernel_table(tmp_path, column, cell), capsys,
                   f"error: --kernels: {tmp_path / 'ctx.csv'}: column {column}: row 1 is ")
    assert f"not a whole number >= {least}; fix or drop it" in err


def test_kernel_table_text_latency_is_one_line(tmp_path, capsys):
    _refused(_kernel_table(tmp_path, "latency", "abc"), capsys,
             f"error: --kernels: {tmp_path / 'ctx.csv'}: column latency: row 1 is not a "
             "positive number")


SAVINGS = ("metric,stage,unit,baseline,compressed,savings_pct\n"
           "flops,vision,FLOP,1e12,5e11,50\nttft_s,total,s,0.1,0.08,20\n")


@pytest.mark.parametrize("text, start", [
    (SAVINGS.splitlines()[0] + "\n", "error: --from: "),  # IndexError in the caption
    (SAVINGS.replace(",50\n", ",inf\n"), "error: savings frame: row 1, savings_pct: inf "),
    (SAVINGS.replace("1e12", "inf"), "error: savings frame: row 1, baseline: inf "),
    (SAVINGS.replace("5e11", ""), "error: savings frame: row 1, compressed: nan "),
])
def test_plot_savings_refuses_empty_and_non_finite_frames(text, start, tmp_path, capsys):
    """A header-only CSV raised IndexError (a traceback), an inf figure matplotlib's 'Axis
    limits cannot be NaN or Inf' (a traceback); an empty baseline / compressed cell was
    drawn as 'nan'."""
    pytest.importorskip("matplotlib")
    src, out = tmp_path / "cc.csv", tmp_path / "sv.png"
    src.write_text(text)
    _refused(["plot", "savings", "--from", str(src), "-o", str(out)], capsys, start)
    assert not out.exists()


VIDUR = "tests/data/vidur/a100_Llama-2-7b-hf_mlp.csv"
GEMM = "tests/data/kernels/a100_sxm_vllm_gemm_perf.csv.gz"
PUBLISHED = "costmodel/calibration/data/published_runs.csv"


@pytest.mark.parametrize("args, start", [
    # each was silently ignored: the command ran as if the option were not there
    (["--published", PUBLISHED, "-H", "a100-80gb"], "--hardware: validate --published"),
    (["--published", PUBLISHED, "--held-out"], "--held-out: validate --published"),
    (["--published", PUBLISHED, "--points"], "--points: validate --published"),
    (["--kernels", GEMM, "-H", "a100-80gb", "--plot", "{tmp}/k.png"],
     "--plot: validate --kernels"),
    (["--kernels", GEMM, "-H", "a100-80gb", "--kind", "vidur"], "--kind: validate --kernels"),
    (["--kernels", GEMM, "-H", "a100-80gb", "--execution", "engine"],
     "--execution: validate --kernels"),
    (["-m", VIDUR, "-H", "a100-80gb", "--per-row"], "--per-row: validate --measurements"),
    (["-m", VIDUR, "-H", "a100-80gb", "--held-out"], "--held-out: validate --measurements"),
    # --kernels ran and -m was ignored
    (["--kernels", GEMM, "-H", "a100-80gb", "-m", VIDUR], "validate: give --published FILE, "),
    # 'give the device' when nothing was asked for
    ([], "validate: give --published FILE, "),
])
def test_validate_refuses_options_its_mode_does_not_read(args, start, tmp_path, capsys):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    _refused(["validate", *args], capsys, f"error: {start}")
    assert not (tmp_path / "k.png").exists()


def test_validate_modes_still_take_their_own_options(capsys):
    code, _, err = run(["validate", "-m", VIDUR, "-H", "a100-80gb", "--kind", "vidur",
                        "--execution", "cuda_graph", "--points", "-f", "json"], capsys)
    assert code == 0, err
    code, _, err = run(["validate", "--kernels", GEMM, GEMM, "-H", "a100-80gb", "--per-row",
                        "--held-out", "-f", "json"], capsys)
    assert code == 0, err


@pytest.mark.parametrize(("key", "value", "says"), [
    ("memory_bandwidth_GBps", True, "memory_bandwidth_GBps: true / false is not a number"),
    ("tdp_W", False, "tdp_W: true / false is not a number"),
])
def test_a_boolean_figure_in_a_hardware_yaml_is_refused(capsys, tmp_path, key, value, says):
    """YAML `true` where a figure goes: pydantic read it as 1 (1 GB/s); refused in one line."""
    import yaml

    data = yaml.safe_load((ROOT / "hardware_profiles" / "a100-80gb.yaml").read_text())
    data[key] = value
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump(data))
    code, out, err = run(["estimate", "llava-1.5-7b", "-H", str(path)], capsys)
    assert code == 2 and out == "" and says in err and "\n" not in err.strip()


def test_kernel_rows_a_device_cannot_price_are_named(capsys, tmp_path):
    """fp8 GEMM rows on a V100 (no fp8 peak): the table says they were not priced and why."""
    path = tmp_path / "fp8.csv"
    path.write_text("framework,version,device,op_name,kernel_source,gemm_dtype,m,n,k,latency\n"
                    "TRTLLM,1.3.0rc20,NVIDIA H100 80GB HBM3,gemm,default,fp8,64,4096,4096,0.02\n")
    code, out, _ = run(["validate", "--kernels", str(path), "-H", "v100"], capsys)
    assert code == 0
    assert "not priced (rows): gemm:fp8 1: v100 has no peak for their dtype" in out


def test_huge_errors_print_in_powers_of_ten():
    from costmodel.cli.kernels_cmd import _pct as kernel_pct
    from costmodel.cli.published_cmd import _pct as published_pct

    assert published_pct(0.1234) == "+12.3%" and published_pct(1e300) == "+1e+302%"
    assert kernel_pct(0.1234) == "12.3" and len(kernel_pct(3e298)) < 10


MAX_LOAD = {"metric": "max_load_output_tokens_per_s", "value": "1000", "batch": "256"}


def test_published_max_load_row_past_the_context_warns_once(tmp_path, capsys):
    """A max-load row longer than the model's context printed the ContextWarning twice: once
    from the search for its in-flight batch (capacity_of), once from the prediction."""
    code, _, err = run(_published(tmp_path, {**MAX_LOAD, "text_tokens": "1000",
                                             "output_tokens": "3000"}), capsys)
    assert code == 0 and err.count("\n") == 1, err
    assert err.startswith("warning: llava-1.5-7b: a sequence of 4575 positions"), err


def test_published_max_load_row_that_does_not_fit_is_one_line_naming_the_column(tmp_path,
                                                                              capsys):
    """A max-load row that does not fit at batch 1: 'error: id r1: llava-1.5-7b does not fit
    on a100-80gb at batch 1, ...' named no column, and (past the context) came after a
    warning line."""
    row = {**MAX_LOAD, "text_tokens": "100000", "output_tokens": "100000"}
    _refused(_published(tmp_path, row), capsys,
             "error: id r1: column hardware: llava-1.5-7b does not fit on a100-80gb at batch 1")


def test_published_multi_gpu_row_on_a_device_without_a_link_names_the_columns(tmp_path,
                                                                            capsys):
    """tp 2 on a device without GPU-to-GPU link bandwidth: 'error: id r1: interconnect: ...
    add interconnect.bandwidth_GBps (--set ...) or use --tp 1 --pp 1 --ep 1' named no column
    and gave command-line options a CSV does not have."""
    err = _refused(_published(tmp_path, {"hardware": "jetson-orin-nano-8gb", "tp": "2"}),
                   capsys, "error: id r1: columns tp and pp: jetson-orin-nano-8gb has no GPU-")
    assert "--" not in err


@pytest.mark.parametrize("column, cell", [("batch", "100000"), ("text_tokens", "2000000"),
                                          ("output_tokens", "2000000")])
def test_published_count_above_the_workload_limit_names_its_own_row(column, cell, tmp_path,
                                                                    capsys):
    """A count above Workload's limit (batch 65536, tokens 1048576) in the second row of a
    group was refused as the first row's: 'error: id r1: batch: Input should be less than or
    equal to 65536'."""
    _refused(_published(tmp_path, {}, {"id": "r2", column: cell}), capsys,
             f"error: runs.csv row 3 (id r2): column {column}: '{cell}' is too large (at most ")


@pytest.mark.parametrize("cells, start", [
    ({"model": "nope"}, "column model: unknown 'nope'"),  # was 'models: unknown ...'
    ({"hardware": "nope"}, "column hardware: unknown 'nope'"),  # was 'hardware: unknown ...'
    ({"engine": "nope"}, "column engine: unknown 'nope'"),  # was 'engines: unknown ...'
])
def test_published_unknown_ids_name_the_column(cells, start, tmp_path, capsys):
    """An unknown model / hardware / engine id named the catalog ('id r1: models: unknown
    ...'), not the column (a missing file already said 'column model: no file ...')."""
    _refused(_published(tmp_path, cells), capsys, f"error: id r1: {start}")
