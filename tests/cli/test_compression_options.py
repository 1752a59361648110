"""--method, --schedule, --kv-keep, --kv-policy in the workload commands; `capacity`; bad
input answered in one line naming the option, exit 2."""

from __future__ import annotations

import json

import pytest

from costmodel.cli.compression_options import compression_from_options
from costmodel.specs.compression import Compression, CompressionPlan
from tests.helpers import run

BASE = ["llava-1.5-7b", "-H", "a100-80gb"]


def test_options_build_the_plan():
    c = compression_from_options(schedule="0:576,8:288,16:144,24:72")
    assert isinstance(c, Compression) and c.schedule[-1] == (24, 72.0)
    plan = compression_from_options(keep="0.5", at="projector", schedule="8:0.5",
                                    kv_keep="0.25", kv_policy="pyramid")
    assert isinstance(plan, CompressionPlan)
    assert [s.where for s in plan.ordered] == ["projector", "llm_layer"]
    assert plan.kv.policy == "pyramid" and plan.kv.keep_ratio == 0.25
    assert compression_from_options(method="visionzip", keep="64").where == "encoder"
    razor = compression_from_options(kv_keep="64", kv_policy="retrieval_heads:0.25")
    assert razor.kv.policy == "retrieval_heads" and razor.kv.retrieval_heads == 0.25
    assert razor.kv.keep_tokens == 64
    assert compression_from_options(kv_keep="64", kv_policy="retrieval_heads").kv.retrieval_heads \
        == 0.15
    assert compression_from_options() is None


@pytest.mark.parametrize("cmd", ["estimate", "sweep", "compare", "energy", "plan", "batching",
                                 "capacity", "compare-compression"])
def test_every_workload_command_takes_the_schedule(cmd, capsys):
    extra = {"sweep": ["--visual-tokens", "576"], "plan": ["--ttft", "1"],
             "batching": ["--batch", "1,2"], "capacity": ["--tpot", "0.05", "--max-batch", "8"]}
    args = [cmd, *BASE, *extra.get(cmd, []), "--schedule", "8:288,16:144", "--kv-keep", "0.5",
            "-f", "json"]
    code, out, err = run(args, capsys)
    assert code == 0, err
    json.loads(out)


def test_compare_compression_json_has_paper_formulas(capsys):
    code, out, _ = run(["compare-compression", *BASE, "--method", "pyramiddrop", "-f", "json"],
                       capsys)
    doc = json.loads(out)
    names = [r["formula"] for r in doc["paper_formulas"]]
    assert names == ["FastV", "PyramidDrop", "Dynamic-LLaVA", "costmodel"]
    assert doc["paper_formulas"][0]["average_visual_tokens"] == 270.0
    assert {o["operator"] for o in doc["method_operators"]} >= {"compress/pyramiddrop_scores@L8"}


def test_capacity_grows_with_compression(capsys):
    code, out, _ = run(["capacity", *BASE, "--tpot", "0.05", "--ttft", "1", "--keep", "0.1",
                        "-f", "json"], capsys)
    recs = {r["scenario"]: r for r in json.loads(out)}
    assert code == 0
    assert recs["compressed"]["max_batch_in_memory"] > recs["baseline"]["max_batch_in_memory"]
    assert recs["compressed"]["requests_per_s_per_gpu"] > recs["baseline"]["requests_per_s_per_gpu"]


@pytest.mark.parametrize("args, option", [
    (["--schedule", "8:288,4:144"], "--schedule"),
    (["--schedule", "8:288,16:0.5"], "--schedule"),
    (["--schedule", "x"], "--schedule"),
    (["--schedule", "8:288", "--keep", "0.5", "--at", "llm-layer:2"], "--schedule"),
    (["--schedule", "0:576,40:10"], "--schedule: layer 40 must be below"),
    (["--keep", "0.5", "--at", "llm-layer:40"], "--at: layer 40 must be below"),
    (["--method", "nope"], "--method"),
    (["--kv-keep", "2.5"], "--kv-keep"),
    (["--kv-keep", "-1"], "--kv-keep"),
    (["--kv-policy", "pyramid"], "--kv-policy"),
    (["--kv-keep", "0.5", "--kv-policy", "zigzag"], "--kv-policy"),
    (["--kv-keep", "64", "--kv-policy", "pyramid:0.2"], "--kv-policy"),
    (["--kv-keep", "64", "--kv-policy", "retrieval_heads:2"], "--kv-policy"),
    (["--kv-keep", "64", "--kv-policy", "retrieval_heads:x"], "--kv-policy"),
    (["--at", "nowhere", "--keep", "0.5"], "--at"),
])
@pytest.mark.parametrize("cmd", ["estimate", "compare-compression", "capacity"])
def test_bad_compression_options_one_line(cmd, args, option, capsys):
    code, out, err = run([cmd, *BASE, *args], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"error: {option}"), err


@pytest.mark.parametrize("args", [["--keep", "0.5", "--cluster-iters", "5"],
                                  ["--keep", "0.5", "--method", "select", "--cluster-iters", "3"],
                                  ["--method", "fastv", "--keep", "0.5", "--cluster-iters", "10"]])
def test_cluster_iters_without_cluster_is_refused(args, capsys):
    """--cluster-iters only changes --method cluster; elsewhere it was silently ignored."""
    code, out, err = run(["compare-compression", *BASE, *args], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: --cluster-iters: only --method cluster runs k-means"), err


def test_cluster_iters_scales_the_cluster_cost(capsys):
    def flops(extra):
        code, out, err = run(["compare-compression", *BASE, "--keep", "0.5", "--method",
                              "cluster", *extra, "-f", "json"], capsys)
        assert code == 0, err
        return json.loads(out)["method_operators"][0]["flops"]

    assert flops(["--cluster-iters", "5"]) == pytest.approx(flops([]) / 2)  # default 10


@pytest.mark.parametrize("cmd", [["estimate", "llava-1.5-7b"],
                                 ["sweep", "llava-1.5-7b", "--visual-tokens", "576"]])
def test_a_keep_list_outside_compare_compression_points_there(cmd, capsys):
    code, out, err = run([*cmd, "-H", "a100-80gb", "--keep", "0.1,0.5"], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "--keep: one value here" in err and "compare-compression" in err


@pytest.mark.parametrize(("extra", "said"), [
    (["--keep", "0.1", "--schedule", "0:576,8:288"], "576 tokens, but 57 visual tokens reach "
                                                     "the LLM (after --keep)"),
    (["--schedule", "0:1000,8:288"], "1000 tokens, but 576 visual tokens reach the LLM;"),
    (["--at", "vit", "--keep", "0.5", "--schedule", "0:301"],
     "301 tokens, but 300 visual tokens reach the LLM (after --keep)")])
def test_a_schedule_count_above_the_tokens_reaching_the_llm_is_refused(extra, said, capsys):
    # capped to the tokens there are, the schedule did nothing: TTFT equal to --keep 0.1 alone
    for cmd in (["estimate"], ["compare-compression"]):
        code, out, err = run([*cmd, *BASE, *extra], capsys)
        assert code == 2 and out == "" and said in err and len(err.strip().splitlines()) == 1


def test_a_schedule_within_the_tokens_still_runs(capsys):
    # 288 tokens reach the LLM after --keep 0.5; a schedule below that prunes further
    code, out, _ = run(["estimate", *BASE, "--keep", "0.5", "--schedule", "8:200,16:100",
                        "-f", "json"], capsys)
    assert code == 0
    _, half, _ = run(["estimate", *BASE, "--keep", "0.5", "-f", "json"], capsys)
    pre = [json.loads(x)["stages"]["prefill"]["flops"] for x in (out, half)]
    assert pre[0] < pre[1]


def test_a_schedule_after_tome_is_held_to_the_tokens_tome_leaves(capsys):
    """ToMe keeping 0.5 of LLaVA-1.5's 576 patches merges r = floor(576 x 0.5 / 23) = 12 a
    layer over 23 executed layers: 576 - 12 x 23 = 300 tokens reach the LLM (the core's
    count), not floor(0.5 x 576) = 288, which the refusal counted before (0:290 was refused,
    0:301 ran capped). 0:300 keeps them all: priced as ToMe alone; 0:290 prunes further."""
    from costmodel.analysis.arguments import model_arg
    from costmodel.analysis.prepare import points
    from costmodel.core.compression.formulas import visual_token_counts
    from costmodel.specs.workload import Workload

    spec = model_arg("llava-1.5-7b")
    tome = Compression(where="vit", keep_ratio=0.5)
    assert visual_token_counts(spec, points(spec, Workload(), {}, 1), tome)[0].item() == 300

    def prefill(*extra):
        code, out, err = run(["estimate", *BASE, "--at", "vit", "--keep", "0.5", *extra,
                              "-f", "json"], capsys)
        assert code == 0, err
        return json.loads(out)["stages"]["prefill"]["flops"]

    assert prefill("--schedule", "0:300") == prefill() > prefill("--schedule", "0:290")


def test_estimate_and_sweep_take_the_method_knobs(capsys):
    """--no-overhead, --cluster-iters and --merge-per-layer, which compare-compression had
    alone, work on estimate and sweep too and give compare-compression's compressed figures."""
    import io

    import pandas as pd

    base = BASE
    for extra in (["--method", "fastv", "--keep", "0.25", "--no-overhead"],
                  ["--method", "cluster", "--keep", "64", "--cluster-iters", "3"],
                  ["--at", "vit", "--merge-per-layer", "8"]):
        code, out, err = run(["estimate", *base, *extra, "-f", "json"], capsys)
        assert code == 0, err
        est = json.loads(out)
        code, out, _ = run(["compare-compression", *base, *extra, "-f", "json"], capsys)
        cmp_doc = json.loads(out)
        assert est["ttft_s"] == pytest.approx(cmp_doc["compressed"]["ttft_s"], rel=1e-12)
        code, out, _ = run(["sweep", *base, "--visual-tokens", "576", *extra, "-f", "csv"],
                           capsys)
        df = pd.read_csv(io.StringIO(out))
        assert df.ttft_s.iloc[0] == pytest.approx(est["ttft_s"], rel=1e-12)
    with_cost, without = (json.loads(run(["estimate", *base, "--method", "fastv", "--keep",
                                          "0.25", *x, "-f", "json"], capsys)[1])
                          for x in ([], ["--no-overhead"]))
    assert without["stages"]["prefill"]["flops"] < with_cost["stages"]["prefill"]["flops"]


def test_no_overhead_without_a_method_is_refused(capsys):
    """--no-overhead with no token compression would change nothing: one line, as an unused
    --cluster-iters or --merge-per-layer is."""
    code, out, err = run(["estimate", *BASE, "--no-overhead"], capsys)
    assert code == 2 and out == "" and err.startswith("error: --no-overhead:")
    assert err.count("\n") == 1
