"""host_overlap: async (core/host_overlap.py): a stage takes max(device time, host launch time),
decode sums max(d_j, h) over the steps; checked by hand and against a step loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from costmodel.analysis.estimate import estimate
from costmodel.analysis.prepare import prepare
from costmodel.core import host_overlap
from costmodel.core.ops import Op
from costmodel.core.pricing import OpCost, static_cost
from costmodel.core.stages import decode_ops
from costmodel.specs.engine import EngineFile
from costmodel.specs.workload import Workload
from costmodel.units import MICRO

ENGINES = Path(__file__).resolve().parents[3] / "costmodel" / "engines"


def _cost(name: str, device_us: float, launch_us: float) -> OpCost:
    """A prefill operator of `device_us` on the device and `launch_us` of launches."""
    z = np.zeros((1, 1))
    op = Op(name=name, stage="prefill", op_class="linear", matmul_flops=z, vector_flops=z,
            useful_flops=z, weight_bytes=z, act_read_bytes=z, act_write_bytes=z)
    return OpCost(op, z, z, z, z, z, z, z, np.full((1, 1), (device_us + launch_us) * MICRO), z,
                  np.full((1, 1), launch_us * MICRO))


def _stage(costs: list[OpCost]) -> tuple[float, float, list[OpCost]]:
    rows, times = host_overlap.static(costs, ("prefill",), np.zeros((1, 1)))
    return float(times["prefill"][0, 0]), float(rows[-1].latency_s[0, 0]), rows


def test_two_operators_host_bound():
    """Device 3 + 5 = 8 us, launches 20 + 20 = 40 us: the stage takes 40 us (serial: 48); the
    operators keep their device time and the exposed row the other 32 us."""
    t, exposed, rows = _stage([_cost("a", 3.0, 20.0), _cost("b", 5.0, 20.0)])
    assert t == pytest.approx(40e-6, rel=1e-12)
    assert exposed == pytest.approx(32e-6, rel=1e-12)
    assert [float(r.latency_s[0, 0]) for r in rows[:2]] == pytest.approx([3e-6, 5e-6])
    assert rows[-1].op.name == host_overlap.EXPOSED
    assert sum(float(r.latency_s[0, 0]) for r in rows) == pytest.approx(t, rel=1e-12)


def test_two_operators_device_bound():
    """Device 100 + 50 = 150 us, launches 20 + 20 = 40 us: the stage takes 150 us, nothing of
    the host is exposed."""
    t, exposed, _ = _stage([_cost("a", 100.0, 20.0), _cost("b", 50.0, 20.0)])
    assert t == pytest.approx(150e-6, rel=1e-12)
    assert exposed == 0.0


@pytest.mark.parametrize(("h", "expect"), [
    (2.2, 2.2 * 3 + 2.5 + 3.0 + 3.5),  # the knee inside: host-bound for steps 0-2
    (10.0, 60.0),  # host-bound throughout: n h
    (0.5, 13.5),  # device-bound throughout: the device total
])
def test_decode_sum_with_the_knee_inside(h, expect):
    """d_j = 1 + 0.5 j over n = 6 steps (1, 1.5, ..., 3.5: total 13.5): sum_j max(d_j, h)."""
    got = host_overlap.decode_s(np.array(1.0), np.array(13.5), np.array(h), np.array(6.0))
    assert float(got) == pytest.approx(expect, rel=1e-12)


def test_decode_sum_one_step_and_none():
    d0, h = np.array(3.0), np.array(5.0)
    assert float(host_overlap.decode_s(d0, d0, h, np.array(1.0))) == 5.0
    assert float(host_overlap.decode_s(d0, 0.0 * d0, h, np.array(0.0))) == 0.0


def _engine(tmp_path: Path, host_us: float) -> str:
    """hf-eager with another host overhead per kernel, no step overhead and none of its own KV
    traffic (core/engine_traffic.py: tests/unit/core/test_engine_traffic.py)."""
    data = yaml.safe_load((ENGINES / "hf-eager.yaml").read_text())
    data.update(host_overhead_per_kernel_us=float(host_us), step_overhead_us=0.0,
                kv_append="in_place", gqa_expand=False)
    path = tmp_path / f"eager-{host_us:g}.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _steps(spec, gpu, w: Workload) -> tuple[np.ndarray, np.ndarray]:
    """Per decode step, the device time and the launch time, priced step by step."""
    prep = prepare(spec, [gpu], w)
    dev, host = [], []
    for j in range(w.output_tokens - 1):
        cs = [static_cost(op, prep.rates, "roofline")
              for op in decode_ops(spec, prep.points, float(j), prep.precision, True)]
        host.append(sum(float(np.ravel(c.launch_s)[0]) for c in cs))
        dev.append(sum(float(np.ravel(c.latency_s)[0]) for c in cs) - host[-1])
    return np.array(dev), np.array(host)


def test_decode_equals_step_loop_with_the_knee_inside(llava, gpu, tmp_path):
    """Batch 32 over a growing KV cache: the device time per step grows; the host overhead
    per kernel is set so that the host time per step falls halfway between the first step's
    device time and the last's. The closed form equals sum_j max(d_j, h) of a step loop."""
    w = Workload(visual_tokens=576, text_tokens=40, output_tokens=200, batch=32)
    dev, host = _steps(llava, gpu, w.model_copy(update={"engine": _engine(tmp_path, 1.0)}))
    kernels = host[0] / 1e-6  # my-gpu has no device launch overhead: 1 us per launch
    mid = (dev[0] + dev[-1]) / 2
    w = w.model_copy(update={"engine": _engine(tmp_path, mid / kernels / MICRO)})
    dev, host = _steps(llava, gpu, w)
    assert dev[0] < host[0] < dev[-1]  # the knee falls inside the steps
    e = estimate(llava, gpu, w)
    total = float(np.sum(np.maximum(dev, host)))
    assert e.stages["decode"].latency_s == pytest.approx(total, rel=1e-9)
    assert e.stages["decode"].device_s == pytest.approx(dev.sum(), rel=1e-9)
    assert e.stages["decode"].launch_s == pytest.approx(host.sum(), rel=1e-9)
    assert e.tpot_s == pytest.approx(total / 199, rel=1e-9)
    ops = [c for c in e.evaluation.op_costs if c.op.stage == "decode"]
    assert sum(float(np.ravel(c.latency_s)[0]) for c in ops) == pytest.approx(total, rel=1e-9)


def test_serial_engine_adds_the_launches(llava, gpu, tmp_path):
    """The same YAML with host_overlap: serial charges device + launches."""
    data = yaml.safe_load(Path(_engine(tmp_path, 50.0)).read_text())
    data["host_overlap"] = "serial"
    path = tmp_path / "serial.yaml"
    path.write_text(yaml.safe_dump(data))
    w = Workload(visual_tokens=576, text_tokens=40, output_tokens=20, engine=str(path))
    e = estimate(llava, gpu, w)
    dev, host = _steps(llava, gpu, w)
    assert e.stages["decode"].latency_s == pytest.approx(float(np.sum(dev + host)), rel=1e-9)
    p = e.stages["prefill"]
    assert p.latency_s == pytest.approx(p.device_s + p.launch_s, rel=1e-12)


def test_host_overlap_needs_a_source():
    data = yaml.safe_load((ENGINES / "hf-eager.yaml").read_text())
    del data["sources"]["host_overlap"]
    with pytest.raises(ValueError, match="host_overlap"):
        EngineFile.model_validate(data)
    del data["host_overlap"]  # unset: serial, no source needed
    assert EngineFile.model_validate(data).host_overlap == "serial"
