"""compare / plan / batching / energy: checked against independent point estimates (the
commands: tests/cli/test_fleet_cmds.py)."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel import load_hardware
from costmodel.analysis.devices import energy, evaluate_fleet, power_W
from costmodel.analysis.estimate import estimate
from costmodel.analysis.plan import FACTORS, Slo, batching, plan
from costmodel.specs.workload import Workload
from tests.helpers import FLEET_DEVICES as DEVICES
from tests.helpers import MY_GPU_YAML

MY_GPU = str(MY_GPU_YAML)


def _meets(e, slo: Slo) -> bool:
    return e.ttft_s <= slo.ttft_s and e.tpot_s <= slo.tpot_s and e.memory.fits


def test_fleet_equals_point_estimates(llava):
    hw = [load_hardware(h) for h in DEVICES]
    w = Workload(visual_tokens=2880, batch=3)
    f = evaluate_fleet(llava, hw, w)
    for d, h in enumerate(hw):
        e = estimate(llava, h, w)
        assert f.ev.ttft_s[d, 0] == pytest.approx(e.ttft_s, rel=1e-12)
        assert f.ev.tpot_s[d, 0] == pytest.approx(e.tpot_s, rel=1e-12)
        assert f.ev.total_memory_bytes[d, 0] == pytest.approx(e.memory.total_memory_bytes, rel=1e-12)


@pytest.mark.parametrize("slo", [Slo(0.3, 0.05), Slo(0.5, 0.02), Slo(np.inf, 0.03)])
def test_plan_largest_batch_is_the_boundary(llava, slo):
    hw = [load_hardware(h) for h in DEVICES]
    # an engine without fitted host times, so the SLOs keep meaning what they were chosen for
    # (hf-eager's fitted per-kernel host time puts every device's TPOT above 20 ms)
    w = Workload(visual_tokens=2880, engine="torch-cuda-graph")
    res = plan(llava, hw, w, slo, max_batch=512)
    assert (res.largest > 0).any()  # the SLOs are chosen so some device meets them
    for d, h in enumerate(hw):
        b = int(res.largest[d])
        if b > 0:
            assert _meets(estimate(llava, h, w.model_copy(update={"batch": b})), slo)
        if b < 512:
            assert not _meets(estimate(llava, h, w.model_copy(update={"batch": b + 1})), slo)


def test_plan_limit_capacity_and_compute(llava, gpu):
    # no TPOT limit, generous TTFT: the batch grows until the 80 GB fill up
    res = plan(llava, [gpu], Workload(visual_tokens=576, output_tokens=512), Slo(100.0),
               max_batch=1024)
    b = int(res.largest[0])
    e = estimate(llava, gpu, Workload(visual_tokens=576, output_tokens=512, batch=b + 1))
    assert not e.memory.fits and res.limit[0] == "capacity"
    res = plan(llava, [gpu], Workload(visual_tokens=2880), Slo(0.01))  # prefill compute-bound
    assert res.largest[0] == 0 and res.limit[0] == "compute (TTFT)"


@pytest.mark.parametrize("slo, resource, keys", [
    (Slo(0.1), "compute", ("peak_tflops",)),  # TTFT: compute-bound prefill
    (Slo(np.inf, 0.005), "bandwidth", ("memory_bandwidth_GBps",)),  # TPOT: memory-bound decode
    (Slo(0.1, 0.005), "both", ("peak_tflops", "memory_bandwidth_GBps")),
])
@pytest.mark.parametrize("device", [MY_GPU, "a100-80gb"])  # without / with kernel figures
def test_plan_scaling_factor_is_the_smallest_that_meets(llava, slo, resource, keys, device):
    """The factor plan finds is the one `--set KEY=xF` gives: on a device with fitted kernel
    figures too, whose per-SM rates (attention softmax, decode SM work) scale with the peaks
    (plan scaled only the rates: a100-80gb met the SLO one 1% step below its factor)."""
    w = Workload(visual_tokens=2880, engine="torch-cuda-graph")  # no fixed host time to scale
    res = plan(llava, [load_hardware(device)], w, slo, max_batch=8)
    assert res.largest[0] == 0
    f = float(res.scale[resource][0])
    assert 1.0 < f < 1000.0
    prev = float(FACTORS[int(np.searchsorted(FACTORS, f)) - 1])
    faster = load_hardware(device, tuple(f"{k}=x{f!r}" for k in keys))  # through the profile
    slower = load_hardware(device, tuple(f"{k}=x{prev!r}" for k in keys))
    assert _meets(estimate(llava, faster, w), slo)
    assert not _meets(estimate(llava, slower, w), slo)


def test_batching_crossing(llava, gpu):
    grid = np.arange(1.0, 400.0)
    # torch-eager: launches in series (under hf-eager's async launches small batches are
    # host-bound and TPOT is flat until the device time passes the host's)
    res = batching(llava, [gpu], Workload(visual_tokens=576, output_tokens=16,
                                          engine="torch-eager"), grid)
    lin = float(res.linears_compute[0])
    k = int(lin) - 1
    assert res.linear_share[0, k] >= 0.5 > res.linear_share[0, k - 1]
    # linear layers in bf16: intensity ~ batch FLOP/byte, ridge = 300e12 / 2000e9 = 150
    assert 150 <= lin <= 170
    assert np.all(np.diff(res.decode_tokens_per_s[0]) > 0)  # throughput grows with batch
    assert np.all(np.diff(res.fleet.ev.tpot_s[0]) > 0)  # and so does TPOT


def test_energy_by_hand(llava, gpu):
    w = Workload(visual_tokens=576, batch=4, output_tokens=100)
    f = evaluate_fleet(llava, [gpu], w)
    en = energy(f, power_W([gpu]))
    e = estimate(llava, gpu, w)
    assert en.request_J[0, 0] == pytest.approx(400.0 * e.e2e_latency_s / 4)  # TDP 400 W
    assert en.stage_J["decode"][0, 0] == pytest.approx(400.0 * e.stages["decode"].latency_s / 4)
    assert en.output_token_J[0, 0] == pytest.approx(en.request_J[0, 0] / 100)
    orin = load_hardware("jetson-agx-orin-64gb")
    assert power_W([orin], "30w")[0, 0] == 30.0 and power_W([orin])[0, 0] == 60.0


def test_plan_limit_host_where_compare_says_host(llava):
    """On hf-eager a batch-1 decode step waits for Python: plan said 'bandwidth (TPOT)' while
    compare marked the same decode H (host-bound) and no bandwidth scaling met the SLO."""
    from costmodel.analysis.devices import stage_bounds

    h100 = load_hardware("h100-sxm")
    for engine, limit in (("hf-eager", "host (TPOT)"), ("vllm", "bandwidth (TPOT)")):
        w = Workload(visual_tokens=576, engine=engine)
        res = plan(llava, [h100], w, Slo(np.inf, 0.004))
        decode = str(stage_bounds(evaluate_fleet(llava, [h100], w).ev)["decode"][0, 0])
        assert res.largest[0] == 0 and res.limit[0] == limit, engine
        assert decode == ("host" if engine == "hf-eager" else "memory")


def test_interconnect_is_named_where_it_holds_most_of_a_stage(llava):
    """With --tp the all-reduces are neither compute- nor memory-bound operators: plan said
    'bandwidth (TTFT)' and compare 'M' for a prefill most of whose time is link time (scaling
    the memory bandwidth does not shorten it). On one GPU the rule is the old one."""
    from costmodel.analysis.devices import comm_share, resource, stage_bounds
    from costmodel.core.metrics import compute_share
    from costmodel.specs.workload import Parallelism

    hw = [load_hardware(h) for h in ("h100-sxm", "l4", "a100-80gb")]
    ttft = ("vision", "projector", "prefill")
    one = evaluate_fleet(llava, hw, Workload(engine="vllm", batch=4))
    share = compute_share(one.ev.op_costs, ttft, one.ev.ttft_s)
    assert not comm_share(one.ev.op_costs, ttft, one.ev.ttft_s).any()
    assert (resource(one.ev, ttft) == np.where(share >= 0.5, "compute", "memory")).all()
    tp8 = evaluate_fleet(llava, hw[:1], Workload(engine="vllm", parallel=Parallelism(tp=8)))
    c = compute_share(tp8.ev.op_costs, ttft, tp8.ev.ttft_s)[0, 0]
    k = comm_share(tp8.ev.op_costs, ttft, tp8.ev.ttft_s)[0, 0]
    assert k > c and k > 1.0 - c - k  # H100 SXM, 8 GPUs: the link holds the most of TTFT
    assert resource(tp8.ev, ttft)[0, 0] == "comm"
    assert stage_bounds(tp8.ev)["prefill"][0, 0] == "comm"
    res = plan(llava, hw[:1], Workload(engine="vllm", parallel=Parallelism(tp=8)), Slo(0.001),
               max_batch=2)
    assert res.limit == ["interconnect (TTFT)"]


def test_link_beside_the_engines_host_time_is_named_interconnect(llava):
    """vLLM --tp 8 decode on h100-sxm: link 36%, the engine's per-step host time 33%,
    memory-bound operators 30%. The host time is no memory work: the stage is 'comm' (compare
    said M, plan 'bandwidth (TPOT)' with no bandwidth factor that meets). hf-eager's KV-cache
    copies (op class overhead) are memory traffic, not host time."""
    from costmodel.analysis.devices import ENGINE_COPIES, comm_share, host_share, resource
    from costmodel.core.metrics import compute_share
    from costmodel.specs.workload import Parallelism

    h100 = [load_hardware("h100-sxm")]
    ev = evaluate_fleet(llava, h100, Workload(engine="vllm", parallel=Parallelism(tp=8))).ev
    c, k, host = (f(ev.op_costs, ("decode",), ev.ttft_s)[0, 0]
                  for f in (compute_share, comm_share, host_share))
    assert k > c and k < 1.0 - c - k and k > 1.0 - c - k - host  # memory-bound ops: the least
    assert resource(ev, ("decode",))[0, 0] == "comm"
    res = plan(llava, h100, Workload(engine="vllm", parallel=Parallelism(tp=8)),
               Slo(tpot_s=0.004), max_batch=2)
    assert res.limit == ["interconnect (TPOT)"]
    eager = evaluate_fleet(llava, h100, Workload(engine="hf-eager")).ev
    copies = sum(float(np.sum(x.latency_s)) for x in eager.op_costs
                 if x.op.stage == "decode" and x.op.name in ENGINE_COPIES)
    total = sum(float(np.sum(x.latency_s)) for x in eager.op_costs if x.op.stage == "decode")
    overhead = sum(float(np.sum(x.latency_s)) for x in eager.op_costs
                   if x.op.stage == "decode" and x.op.op_class == "overhead")
    assert copies > 0
    assert host_share(eager.op_costs, ("decode",), eager.ttft_s)[0, 0] == pytest.approx(
        (overhead - copies) / total)


def test_batching_with_one_output_token_is_refused(llava, gpu, capsys):
    """With 1 output token no decode step runs: the decode shares read 0% at every batch and
    'turns compute-bound at -', while the TPOT column is one step's latency (compute-bound
    from batch ~160 on this device). batching studies the decode: refused in one line."""
    from costmodel.errors import CostmodelError
    from tests.helpers import run

    with pytest.raises(CostmodelError, match="output_tokens: with 1 output token no decode"):
        batching(llava, [gpu], Workload(visual_tokens=576, output_tokens=1), np.arange(1, 9))
    code, out, err = run(["batching", "llava-1.5-7b", "-H", "a100-80gb", "--output-tokens", "1"],
                         capsys)
    assert code == 2 and out == "" and err.startswith("error: --output-tokens: with 1 output")
