"""The host CPU (analysis/host_cpu.py; docs/methodology.md, "The host CPU"): a profile's
`host_cpu` describes a module's own host (the Jetsons), changes no figure, and makes the
estimate (compare-compression, and the tables over devices: compare, sweep, plan, energy,
capacity, batching) say that the engine's host figures come from data-centre
servers, applied unscaled. Expected strings are written out by hand from the engine YAMLs and
the units' formatting."""

from __future__ import annotations

import pytest

from costmodel.analysis.estimate import estimate
from costmodel.analysis.host_cpu import devices_host_note, host_note, host_terms
from costmodel.loading.load import hardware_ids, load_engine, load_hardware
from costmodel.specs.engine import Engine
from costmodel.specs.hardware import HardwareFile, HardwareProfile
from tests.helpers import run

JETSONS = {"jetson-agx-orin-64gb": "12-core Arm Cortex-A78AE v8.2 (64-bit), up to 2.2 GHz",
           "jetson-orin-nx-16gb": "8-core Arm Cortex-A78AE v8.2 (64-bit), up to 2 GHz",
           "jetson-orin-nano-8gb": "6-core Arm Cortex-A78AE v8.2 (64-bit), up to 1.5 GHz"}


def _without_host_cpu(hw: HardwareProfile) -> HardwareProfile:
    f = hw.source_file.model_copy(update={"host_cpu": None})
    return HardwareProfile.from_file(f)


@pytest.mark.parametrize(("engine", "terms"), [
    # hf-eager.yaml: host_overhead_per_kernel_us 59.6, step_overhead_us 1159.1 -> 1.16 ms
    ("hf-eager", ["59.6 us per kernel launch", "1.16 ms per decode step"]),
    # vllm.yaml: 10 us per launch (prefill only: decode replays CUDA graphs), 1669.7 us a step
    ("vllm", ["10 us per kernel launch", "1.67 ms per decode step"]),
    # trtllm.yaml: no host launches; step 111.2 us, prefill 3143.1 us
    ("trtllm", ["111 us per decode step", "3.14 ms per prefill"]),
    ("llama.cpp", ["5 us per kernel launch"]),
    ("ideal", []),  # the bound: no host time
    ("torch-cuda-graph", []),  # graph replay, no fixed overheads
    ("torch-eager", []),  # its launch cost is the device's kernel_launch_overhead_us
])
def test_host_terms_by_hand(engine, terms):
    assert host_terms(load_engine(engine)) == terms


def test_a_per_kernel_figure_without_host_launches_is_no_term():
    e = load_engine("hf-eager")
    f = e.source_file.model_copy(update={"launch_per_kernel": False, "step_overhead_us": 0.0})
    assert host_terms(Engine.from_file(f)) == []


def test_only_the_jetsons_name_their_host_cpu():
    named = {h: load_hardware(h).host_cpu for h in hardware_ids()}
    assert {h: c for h, c in named.items() if c is not None} == JETSONS
    for h in JETSONS:
        src = load_hardware(h).source_file.sources["host_cpu"]
        assert "Data Sheet" in src and "branes-ai/graphs b6c5e82" in src


def test_a_host_cpu_needs_a_source():
    data = load_hardware("jetson-agx-orin-64gb").source_file.model_dump()
    del data["sources"]["host_cpu"]
    with pytest.raises(ValueError, match="host_cpu"):
        HardwareFile.model_validate(data)


def test_the_note_by_hand():
    orin = load_hardware("jetson-agx-orin-64gb")
    assert host_note(orin, load_engine("hf-eager")) == (
        "host time: hf-eager's figures (59.6 us per kernel launch, 1.16 ms per decode step) "
        "come from data-centre GPU servers (fitted on their published runs, or assumed), not "
        "from this device's host (12-core Arm Cortex-A78AE v8.2 (64-bit), up to 2.2 GHz); "
        "applied unscaled (no sourced figure for this CPU), so the host time may be understated")
    assert host_note(orin, load_engine("ideal")) == ""
    assert host_note(load_hardware("a100-80gb"), load_engine("hf-eager")) == ""


def test_host_cpu_changes_no_figure(llava):
    orin = load_hardware("jetson-orin-nx-16gb")
    with_cpu = estimate(llava, orin, engine="hf-eager").to_dict()
    without = estimate(llava, _without_host_cpu(orin), engine="hf-eager").to_dict()
    assert with_cpu.pop("host_note") == host_note(orin, load_engine("hf-eager"))
    assert with_cpu == without and "host_note" not in without


def test_estimate_prints_the_note_on_a_jetson_only():
    code, out, _ = run(["estimate", "llava-1.5-7b", "-H", "jetson-agx-orin-64gb",
                        "--engine", "hf-eager"])
    assert code == 0
    assert out.rstrip("\n").splitlines()[-1] == host_note(
        load_hardware("jetson-agx-orin-64gb"), load_engine("hf-eager"))
    code, out, _ = run(["estimate", "llava-1.5-7b", "-H", "a100-80gb", "--engine", "hf-eager"])
    assert code == 0 and "host time:" not in out


def test_compare_compression_prints_the_note_on_a_jetson_only():
    """compare-compression's text prices the same device and engine as estimate: the same note
    on a Jetson with an engine charging host time, none on a discrete GPU or the bound."""
    note = host_note(load_hardware("jetson-agx-orin-64gb"), load_engine("hf-eager"))
    args = ["compare-compression", "llava-1.5-7b", "--keep", "0.1"]
    code, out, _ = run([*args, "-H", "jetson-agx-orin-64gb", "--engine", "hf-eager"])
    assert code == 0 and out.splitlines().count(note) == 1
    for hw, engine in (("a100-80gb", "hf-eager"), ("jetson-agx-orin-64gb", "ideal")):
        code, out, _ = run([*args, "-H", hw, "--engine", engine])
        assert code == 0 and "host time:" not in out


def test_the_note_over_several_devices_by_hand():
    """One line per engine however many devices: each host CPU once, in the order given; a
    discrete GPU among them adds nothing; none without a host CPU or with the bound."""
    orin, nano, a100 = (load_hardware(h) for h in ("jetson-agx-orin-64gb",
                                                   "jetson-orin-nano-8gb", "a100-80gb"))
    vllm = load_engine("vllm")
    assert devices_host_note([a100, orin, orin], vllm) == host_note(orin, vllm)
    assert devices_host_note([orin, a100, nano], vllm) == (
        "host time: vllm's figures (10 us per kernel launch, 1.67 ms per decode step) come from "
        "data-centre GPU servers (fitted on their published runs, or assumed), not from these "
        "devices' hosts (12-core Arm Cortex-A78AE v8.2 (64-bit), up to 2.2 GHz; 6-core Arm "
        "Cortex-A78AE v8.2 (64-bit), up to 1.5 GHz); applied unscaled (no sourced figure for "
        "these CPUs), so the host time may be understated")
    assert devices_host_note([a100], vllm) == "" == devices_host_note([orin], load_engine("ideal"))


FLEET_COMMANDS = [["compare"], ["energy"], ["capacity"], ["batching", "--batch", "1,4"],
                  ["plan", "--ttft", "1", "--tpot", "0.2"],
                  ["sweep", "--visual-tokens", "144,576"]]


@pytest.mark.parametrize("cmd", FLEET_COMMANDS, ids=[c[0] for c in FLEET_COMMANDS])
def test_the_tables_over_devices_end_with_the_note(cmd):
    """A table with a Jetson among its devices ends with the note of the devices (once, its
    last line), as estimate ends with it; none over discrete GPUs, and none in JSON."""
    note = devices_host_note([load_hardware("jetson-agx-orin-64gb")], load_engine("hf-eager"))
    args = [cmd[0], "llava-1.5-7b", *cmd[1:], "--engine", "hf-eager"]
    code, out, _ = run([*args, "-H", "a100-80gb,jetson-agx-orin-64gb"])
    assert code == 0 and out.rstrip("\n").splitlines()[-1] == note and out.count("host time:") == 1
    code, out, _ = run([*args, "-H", "a100-80gb,h100-sxm"])
    assert code == 0 and "host time:" not in out
    code, out, _ = run([*args, "-H", "jetson-agx-orin-64gb", "-f", "json"])
    assert code == 0 and "host time:" not in out


def test_compare_over_engines_says_each_engines_note():
    code, out, _ = run(["compare", "llava-1.5-7b", "-H", "jetson-agx-orin-64gb,a100-80gb",
                        "--engine", "vllm,ideal,llama.cpp"])
    orin = load_hardware("jetson-agx-orin-64gb")
    notes = [n for n in out.splitlines() if n.startswith("host time:")]
    assert code == 0 and notes == [host_note(orin, load_engine("vllm")),
                                   host_note(orin, load_engine("llama.cpp"))]
