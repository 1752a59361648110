"""`estimate --format json` round-trips the Python estimate in base units, for any zoo model,
engine and workload (README, "What it prints"); under `--convention llm-viewer` the expected
latency is the roofline bound (engine ideal, docs/methodology.md "LLM-Viewer convention")."""

from __future__ import annotations

import json
import warnings

from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel.analysis.estimate import estimate
from costmodel.errors import ContextWarning
from costmodel.loading.load import load_model
from costmodel.loading.zoo import ZOO
from tests.helpers import FLEET_DEVICES, ROOT, run

SPECS = {m: load_model(m) for m in sorted(ZOO)}
ENGINES = sorted(p.stem for p in (ROOT / "costmodel" / "engines").glob("*.yaml"))
VIEWER_IDS = [m for m, s in SPECS.items() if s.llm.moe is None and s.cross_vision is None]


def _cli(args: list[str]) -> dict:
    code, out, err = run(["estimate", *args, "-f", "json"])
    assert code == 0, err
    return json.loads(out)


def _vlm(mid: str) -> bool:
    return SPECS[mid].vision is not None or SPECS[mid].cross_vision is not None


@settings(max_examples=6, deadline=None)
@given(mid=st.sampled_from(sorted(SPECS)), hw=st.sampled_from(FLEET_DEVICES),
       engine=st.sampled_from(ENGINES), visual=st.integers(0, 3000), text=st.integers(1, 2000),
       out=st.integers(1, 300), batch=st.integers(1, 16))
def test_json_is_the_estimate_in_base_units(mid, hw, engine, visual, text, out, batch):
    v = visual if _vlm(mid) else 0
    fields = {"visual_tokens": v, "text_tokens": text, "output_tokens": out, "batch": batch,
              "engine": engine}
    args = [mid, "-H", hw, "--engine", engine, "--visual-tokens", str(v), "--text-tokens",
            str(text), "--output-tokens", str(out), "--batch", str(batch)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ContextWarning)
        e = estimate(mid, hw, **fields)
    doc = _cli(args)
    assert doc == json.loads(json.dumps(e.to_dict()))  # floats survive JSON exactly
    for s, r in e.stages.items():
        j = doc["stages"][s]
        assert (j["flops"], j["latency_s"], j["kv_bytes"]) == (r.flops, r.latency_s, r.kv_bytes)
        assert j["bytes"] == j["weight_bytes"] + j["act_bytes"] + j["kv_bytes"]
        assert doc["bound"]["stages"][s]["latency_s"] == r.bound_latency_s
    m = doc["memory"]
    assert m["total_memory_bytes"] == m["weights_bytes"] + m["kv_cache_bytes"] + m["activation_bytes"]
    assert doc["ttft_s"] == sum(doc["stages"][s]["latency_s"]
                                for s in ("vision", "projector", "prefill"))
    assert doc["e2e_latency_s"] == doc["ttft_s"] + doc["stages"]["decode"]["latency_s"]
    assert doc["tokens_per_s"] == batch * out / doc["e2e_latency_s"]
    assert (doc["engine"], doc["workload"]["batch"], doc["workload"]["output_tokens"]) == (
        engine, batch, out)


@settings(max_examples=5, deadline=None)
@given(mid=st.sampled_from(VIEWER_IDS), hw=st.sampled_from(["llm-viewer-a100", "llm-viewer-h100"]),
       visual=st.integers(0, 3000), text=st.integers(1, 2000), out=st.integers(1, 300))
def test_llm_viewer_convention_prints_the_bound_as_expected(mid, hw, visual, text, out):
    v = visual if _vlm(mid) else 0
    doc = _cli([mid, "-H", hw, "--convention", "llm-viewer", "--engine", "ideal",
                "--visual-tokens", str(v), "--text-tokens", str(text), "--output-tokens",
                str(out)])
    assert (doc["convention"], doc["engine"]) == ("llm-viewer", "ideal")
    for s, r in doc["stages"].items():
        assert r["latency_s"] == doc["bound"]["stages"][s]["latency_s"]
        assert r["launch_s"] == 0.0 and r["device_s"] == r["latency_s"]
    for q in ("ttft_s", "tpot_s", "e2e_latency_s"):
        assert doc[q] == doc["bound"][q]
    assert doc["workload"]["flash_attention"] is False  # LLM-Viewer's own default
