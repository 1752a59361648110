"""analysis/engine_fleets.evaluate_engines: one Fleet per engine over the same devices, each
equal to estimate on that device and engine; refusals kept per engine, unknown ids refused."""

from __future__ import annotations

import pytest

import costmodel
from costmodel.analysis.engine_fleets import evaluate_engines
from costmodel.errors import CostmodelError
from costmodel.specs.workload import Workload


@pytest.fixture(scope="module")
def spec():
    return costmodel.load_model("llava-1.5-7b")


def test_each_fleet_is_estimate_on_its_engine(spec):
    devices = [costmodel.load_hardware(h) for h in ("a100-80gb", "l4")]
    w = Workload(batch=2, text_tokens=80)
    runs = evaluate_engines(spec, w, ["vllm", "ideal"], devices)
    assert runs.engines == ("vllm", "ideal") and runs.refused == {}
    for f in runs.fleets:
        assert f.workload.engine == f.engine
        for d, h in enumerate(f.profiles):
            est = costmodel.estimate(spec, h, batch=2, text_tokens=80, engine=f.engine)
            assert float(f.ev.e2e_latency_s[d, 0]) == pytest.approx(est.e2e_latency_s, rel=1e-12)
    assert w.engine is None  # the caller's workload is left as it was


def test_refusals_are_kept_and_unknown_engines_refused(spec):
    devices = [costmodel.load_hardware("a100-80gb")]
    w = Workload(convention="llm-viewer")
    runs = evaluate_engines(spec, w, ["vllm", "ideal"], devices)
    assert runs.engines == ("ideal",) and "llm-viewer computes the roofline bound" in \
        runs.refused["vllm"]
    with pytest.raises(CostmodelError, match="llm-viewer computes the roofline bound"):
        evaluate_engines(spec, w, ["vllm", "trtllm"], devices)
    with pytest.raises(CostmodelError, match="unknown 'vlm'"):
        evaluate_engines(spec, Workload(), ["ideal", "vlm"], devices)


def test_an_engine_listed_twice_is_refused(spec):
    devices = [costmodel.load_hardware("a100-80gb")]
    with pytest.raises(CostmodelError, match="engine: vllm appears twice; give each engine once"):
        evaluate_engines(spec, Workload(), ["vllm", "ideal", "vllm"], devices)
