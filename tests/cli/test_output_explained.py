"""Text tables say what their JSON says, and their notes apply: batching's TTFT column, plan's
tokens/s and capacity's req/s explained, energy's power-mode note only where it applies, a
--set that removes the bf16 peak named as the cause, sweep's capped keep counts labelled."""

from __future__ import annotations

import json

import pytest

from costmodel.units import seconds
from tests.helpers import LLAVA_7B_DIR as MODEL
from tests.helpers import run


def test_batching_table_shows_ttft_and_microbatches_change_it(capsys):
    """TTFT is among batching's outputs (methodology): the text table shows it as JSON does,
    so --microbatches under --pp (which changes only TTFT) shows in the table."""
    args = ["batching", MODEL, "-H", "h100-sxm", "--batch", "8", "--pp", "2",
            "--visual-tokens", "576"]
    code, out, _ = run(args, capsys)
    assert code == 0
    header = next(x for x in out.splitlines() if x.startswith("batch"))
    assert "TTFT" in header.split()
    _, js, _ = run(args + ["-f", "json"], capsys)
    ttft = seconds(json.loads(js)[0]["ttft_s"])
    assert ttft in out
    code, out4, _ = run(args + ["--microbatches", "4"], capsys)
    assert code == 0 and out4 != out


def test_plan_explains_tokens_per_s_for_the_replica_and_capacity_says_per_gpu(capsys):
    """plan's tokens/s is batch x output tokens / end-to-end latency at the max batch, for
    the whole replica (every GPU of --tp x --pp x --ep); capacity's req/s/GPU is per GPU and
    its output tok/s for the replica: the notes say which is which."""
    slo = ["--ttft", "1", "--tpot", "0.1", "--visual-tokens", "576", "--max-batch", "16"]
    code, out, _ = run(["plan", MODEL, "-H", "h100-sxm", "--tp", "2", *slo], capsys)
    assert code == 0
    note = next(x for x in out.splitlines() if x.startswith("tokens/s:"))
    assert "batch x output tokens / end-to-end latency" in note and "all 2 GPUs" in note
    code, out, _ = run(["plan", MODEL, "-H", "h100-sxm", *slo], capsys)
    assert "tokens/s: " in out and "the replica's 1 GPU" in out
    code, out, _ = run(["capacity", MODEL, "-H", "h100-sxm", "--tp", "2", *slo], capsys)
    assert code == 0
    assert "output tok/s there: " in out and "all 2 GPUs" in out and "per GPU" in out


def test_energy_power_mode_note_only_where_modes_apply(capsys):
    """'power modes cap clocks ...' is printed with --power-mode, or for a device that lists
    power modes; not for a TDP-only device without --power-mode."""
    cap = "power modes cap clocks"
    code, out, _ = run(["energy", MODEL, "-H", "h100-sxm"], capsys)
    assert code == 0 and "ESTIMATE" in out and cap not in out
    code, out, _ = run(["energy", MODEL, "-H", "jetson-agx-orin-64gb"], capsys)
    assert code == 0 and cap in out and "--power-mode" in out
    code, out, _ = run(["energy", MODEL, "-H", "jetson-agx-orin-64gb", "--power-mode", "15W"],
                       capsys)
    assert code == 0 and cap in out


COMMANDS = {  # each command that prices one workload on a device given by -H, with its axis
    "estimate": ["estimate", MODEL],
    "sweep": ["sweep", MODEL, "--visual-tokens", "64,576"],
    "compare-compression": ["compare-compression", MODEL, "--keep", "0.1"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("args, cause", [
    (["-H", "h100-sxm", "--set", "peak_tflops.bf16=null"], "--set peak_tflops.bf16=null removed"),
    (["-H", "t4"], "the t4 profile has no bf16 peak"),
])
def test_default_dtype_missing_names_the_cause(command, args, cause, capsys):
    """Without --dtype on the command line, a device lacking the default bf16 peak is not
    blamed on --dtype: the line names the cause (a --set that removed it, or the profile),
    the command and the fix (--dtype fp16), in one line, exit 2; with --dtype bf16 given, the
    --dtype wording."""
    code, out, err = run([*COMMANDS[command], *args], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert not err.startswith("error: --dtype:") and cause in err and "--dtype fp16" in err
    assert f"{command} computes in bf16" in err
    code, out, err = run([*COMMANDS[command], *args, "--dtype", "bf16"], capsys)
    assert code == 2 and err.startswith("error: --dtype: ") and "has no bf16 peak" in err


SWEEP_CAPPED = ["sweep", "llava-1.5-7b", "-H", "a100-80gb", "--visual-tokens", "64,576",
                "--keep", "288"]


def test_sweep_labels_the_points_where_a_kept_count_is_capped(capsys):
    """--keep 288 over 64 and 576 visual tokens keeps all 64 at the first point (counts are
    capped at N): that point's rows say so in text (a note line), CSV and JSON alike, and the
    Python sweep labels them the same; the uncapped point keeps its plain label."""
    code, out, _ = run(SWEEP_CAPPED, capsys)
    assert code == 0
    note = next(x for x in out.splitlines() if x.startswith("capped:"))
    assert "288" in note and "visual 64" in note and "576" not in note
    capped, plain = "select@projector keep 288 (capped at 64)", "select@projector keep 288"
    _, js, _ = run([*SWEEP_CAPPED, "-f", "json"], capsys)
    labels = {r["visual_tokens"]: r["compression"] for r in json.loads(js)}
    assert labels == {64: capped, 576: plain}
    _, csv, _ = run([*SWEEP_CAPPED, "-f", "csv"], capsys)
    assert sum(capped in x for x in csv.splitlines()) == 4  # the 4 stages of the 64 point
    from costmodel.specs.compression import Compression
    from costmodel.sweep import sweep
    df = sweep("llava-1.5-7b", "a100-80gb", visual_tokens=[64, 576],
               compression=Compression(where="projector", keep_tokens=288))
    got = dict(zip(df["visual_tokens"], df["compression"].astype(str), strict=False))
    assert got == {64: capped, 576: plain}


def test_sweep_labels_a_schedule_capped_at_the_tokens_reaching_the_llm(capsys):
    """A schedule count above the visual tokens reaching the LLM keeps them all (estimate
    refuses it; a sweep caps it): --schedule 0:576,8:100 over 32 and 576 tokens keeps all 32
    at every layer, so that point is labelled '(capped at 32)' and its prefill FLOPs are the
    uncompressed point's; the 576 point stays plain. After a projector keep of 64, the
    schedule's 100 is above the 64 reaching the LLM whatever the visual tokens."""
    import numpy as np

    from costmodel.analysis.arguments import model_arg
    from costmodel.analysis.prepare import points
    from costmodel.core.compression.points import capped_at
    from costmodel.specs.compression import Compression, CompressionPlan
    from costmodel.specs.workload import Workload
    from costmodel.sweep import sweep

    args = ["sweep", "llava-1.5-7b", "-H", "a100-80gb", "--visual-tokens", "32,576",
            "--schedule", "0:576,8:100"]
    code, out, _ = run(args, capsys)
    note = next(x for x in out.splitlines() if x.startswith("capped:"))
    assert code == 0 and note.startswith("capped: at visual 32 a count prune@L")
    _, js, _ = run([*args, "-f", "json"], capsys)
    rows = [r for r in json.loads(js) if r["stage"] == "prefill"]
    _, plain_js, _ = run(args[:6] + ["-f", "json"], capsys)
    plain = {r["visual_tokens"]: r["flops"] for r in json.loads(plain_js) if r["stage"] == "prefill"}
    assert [(r["visual_tokens"], r["compression"]) for r in rows] == [
        (32, "prune@L 0:576,8:100 (capped at 32)"), (576, "prune@L 0:576,8:100")]
    assert rows[0]["flops"] == plain[32] and rows[1]["flops"] < plain[576]
    plan = CompressionPlan(stages=(Compression(where="projector", keep_tokens=64),
                                   Compression(where="llm_layer", schedule=((0, 100), (8, 50)))))
    spec = model_arg("llava-1.5-7b")
    pts = points(spec, Workload(), {"visual_tokens": np.array([32.0, 64.0, 576.0])}, 3)
    assert np.array_equal(capped_at(spec, pts, plan), [[32.0, 64.0, 64.0]])
    df = sweep("llava-1.5-7b", "a100-80gb", visual_tokens=[576], compression=plan)
    assert set(df["compression"].astype(str)) == {f"{plan.label} (capped at 64)"}


def test_a_schedule_after_a_video_method_is_capped_and_refused_at_the_cores_count(capsys):
    """dycoke:0.5 over 2, 4 and 8 OneVision frames (393, 785 and 1,569 visual tokens, 196 a
    frame + 1 newline) leaves 2 x 196 - 98 + 1 = 295, 4 x 196 - 3 x 98 + 1 = 491 and
    8 x 196 - 7 x 98 + 1 = 883 for the LLM (core/compression/video.py), the count the core
    reports entering the LLM. A schedule count of 600 is above the first two: the sweep labels
    exactly those points '(capped at N)' with the core's N, estimate refuses exactly those,
    naming N, and a capped point is priced as N uncompressed tokens (prefill sees the LLM
    only). Before, the sweep skipped the video stage (393 'capped at 393', 785 unlabelled) and
    estimate counted floor(1.0 x N) (both ran, keeping 295 and 491 silently)."""
    from costmodel.analysis.estimate import estimate
    from costmodel.analysis.prepare import points
    from costmodel.core.compression.formulas import visual_token_counts
    from costmodel.loading.load import load_model
    from costmodel.specs.compression import Compression, CompressionPlan
    from costmodel.specs.workload import Workload

    args = ["llava-onevision-0.5b", "-H", "a100-80gb", "--method", "dycoke:0.5",
            "--schedule", "0:600"]
    code, js, err = run(["sweep", *args, "--video-frames", "2,4,8", "-f", "json"], capsys)
    assert code == 0, err
    rows = {r["video_frames"]: r for r in json.loads(js) if r["stage"] == "prefill"}
    label = "dycoke@projector keep 1/frame merge 0.5 + prune@L 0:600"
    assert {f: r["compression"] for f, r in rows.items()} == {
        2: f"{label} (capped at 295)", 4: f"{label} (capped at 491)", 8: label}
    spec = load_model("llava-onevision-0.5b")
    dycoke = Compression(method="dycoke", temporal_merge=0.5)
    plan = CompressionPlan(stages=(dycoke, Compression(where="llm_layer", schedule=((0, 600),))))
    for frames, reach in ((2, 295), (4, 491), (8, 883)):
        pts = points(spec, Workload(video_frames=frames), {}, 1)
        assert visual_token_counts(spec, pts, dycoke)[0].item() == reach
        code, _, err = run(["estimate", *args, "--video-frames", str(frames)], capsys)
        assert (code, err) == ((2, f"error: --schedule: keeps 600 tokens, but {reach} visual "
                                   f"tokens reach the LLM (after --method dycoke); give counts "
                                   f"up to {reach} or ratios\n") if reach < 600 else (0, ""))
    plain = estimate(spec, "a100-80gb", Workload(visual_tokens=295)).stages["prefill"].flops
    alone = estimate(spec, "a100-80gb", Workload(video_frames=8, compression=dycoke))
    assert rows[2]["flops"] == plain
    assert rows[8]["flops"] == estimate(spec, "a100-80gb", Workload(
        video_frames=8, compression=plan)).stages["prefill"].flops < alone.stages["prefill"].flops
