"""The page's JSON for one state: the CLI's documents plus the text the page shows.

`baseline` is what `costmodel estimate ... -f json` prints; `compressed` and `rows` are what
`costmodel compare-compression ... -f json` prints under `compressed` and `rows`. The display
strings use the CLI's formatters (costmodel.units.si / seconds), so the page reads like the
CLI's tables. Every number comes from costmodel.ui.api; nothing is computed here but ratios
for the chart.
"""

from __future__ import annotations

import json
from typing import Any

from costmodel.analysis.compression import CompressionComparison, compare_rows
from costmodel.analysis.estimate import Estimate
from costmodel.analysis.prepare import video_text
from costmodel.cli.captions import device_text
from costmodel.cli.estimate_cmd import parallel_line, stage_csv
from costmodel.cli.output import _clean
from costmodel.errors import CostmodelError
from costmodel.ui import api
from costmodel.ui import state as st
from costmodel.units import count, seconds, si


def dumps(doc: Any) -> str:
    """Strict JSON as the CLI writes it (NaN/inf -> null), compact: the C encoder (an indented
    dump runs the pure-Python one, ~10 ms for a view)."""
    return json.dumps(_clean(doc), separators=(",", ":"))


def _stages(est: Estimate) -> list[dict[str, Any]]:
    steps = int(est.workload.output_tokens) - 1
    decode = f"decode ({steps} step{'' if steps == 1 else 's'})"
    return [{"stage": name, "label": decode if name == "decode" else name,
             "flops": si(s.flops, "FLOP"), "bytes": si(s.bytes, "B"),
             "intensity": f"{s.intensity_flops_per_byte:.1f}", "bound": seconds(s.bound_latency_s),
             "expected": seconds(s.latency_s), "compute": f"{100 * s.compute_share:.0f}%"}
            for name, s in est.stages.items()]


def _memory(est: Estimate) -> str:
    """The CLI's memory line; over several GPUs (--ep), the whole model and then the CLI's
    per-GPU line up to its verdict (the page shows the verdict beside it)."""
    m = est.memory
    whole = (f"weights {si(m.weights_bytes, 'B')} + KV cache {si(m.kv_cache_bytes, 'B')}"
             f" + activations {si(m.activation_bytes, 'B')} = {si(m.total_memory_bytes, 'B')}")
    if m.gpus == 1:
        return f"{whole} of {si(m.capacity_bytes, 'B')}"
    verdict = "fits" if m.fits else "DOES NOT FIT"
    return f"{whole} (whole model); {parallel_line(est).split(f': {verdict} | ')[0]}"


def _summary(est: Estimate) -> dict[str, str]:
    m = est.memory
    verdict = "fits" if m.fits else "DOES NOT FIT"
    return {"ttft": seconds(est.ttft_s), "tpot": seconds(est.tpot_s),
            "e2e": seconds(est.e2e_latency_s), "tokens_per_s": f"{est.tokens_per_s:.1f}",
            "bound_ttft": seconds(est.bound.ttft_s), "bound_tpot": seconds(est.bound.tpot_s),
            "bound_e2e": seconds(est.bound.e2e_latency_s),
            "memory": _memory(est),
            "fits": verdict}


def _savings(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    def fmt(x: float, unit: str) -> str:
        return seconds(x) if unit == "s" else si(x, unit)

    return [{"metric": r["metric"], "stage": r["stage"], "baseline": fmt(r["baseline"], r["unit"]),
             "compressed": fmt(r["compressed"], r["unit"]),
             "savings": "-" if r["savings_pct"] is None
             else f"{round(r['savings_pct'], 1) + 0.0:.1f}%"} for r in rows]


def _roofline(est: Estimate) -> dict[str, Any]:
    """The device's roof and each stage at (FLOP/byte, FLOP/s at the expected latency)."""
    hw = est.hardware
    points = [{"stage": n, "intensity": s.intensity_flops_per_byte,
               "flops_per_s": s.flops / s.latency_s if s.latency_s else 0.0}
              for n, s in est.stages.items() if s.flops > 0 and s.bytes > 0]
    return {"peak_flops_per_s": hw.peak_flops_per_s(est.workload.act_dtype),
            "bandwidth_Bps": hw.memory_bytes_per_s, "points": points}


def _header(est: Estimate) -> str:
    hw, w, p = est.hardware, est.workload, est.plan
    vtext = video_text(est.model, w)
    extra = f" + {vtext} video text tokens" if vtext else ""
    return (f"{est.model.name} on {device_text(hw)} | batch {w.batch} | "
            f"{count(p.llm_tokens)} visual tokens + {w.text_tokens} text tokens{extra} -> "
            f"{w.output_tokens} output tokens | engine {est.prepared.engine.id}")


def _sweep(i: api.Inputs, base: Estimate) -> tuple[dict[str, Any] | None, list[str]]:
    """Baseline and compressed TTFT / TPOT / e2e / memory over 0:2880:96 visual tokens."""
    if i.spec.vision is None:
        return None, []
    grid = api.sweep_grid(base.plan.llm_tokens)
    out, warned = api.sweep(i, grid, None)
    sargv = sweep_argv(i, grid)
    doc: dict[str, Any] = {"grid": grid, "baseline": out, "compressed": None,
                           "point": base.plan.llm_tokens,
                           "command": st.command_line(sargv) if sargv else None}
    if i.compression is not None:
        doc["compressed"], more = api.sweep(i, grid, i.compression)
        warned = warned + more
    return doc, warned


def sweep_argv(i: api.Inputs, grid: str) -> list[str] | None:
    """`costmodel sweep ...` when the CLI can express it (no what-if, no --method)."""
    s = i.state
    if i.sets or s["method"] or st.model_arg(s) != s["model"]:
        return None
    keys = {k: o for k, o in st.WORKLOAD_OPTIONS.items()
            if k not in ("visual_tokens", "images", "image_size", "video_frames")}
    argv = ["sweep", s["model"], "--hardware", s["hardware"], "--visual-tokens", grid,
            "--batch", s["batch"] or "1"]
    argv += [a for k, o in keys.items() if k != "batch" and s[k] and s[k] != st.CLI_DEFAULTS.get(k)
             for a in (o, s[k])]
    return argv + (["--keep", s["keep"], "--at", s["at"]] if s["keep"] else [])


def view(state: dict[str, str]) -> dict[str, Any]:
    """The whole view of a checked state (raises CostmodelError & co. on bad input)."""
    with api.LOCK:
        i = api.inputs(state)
        base, warned = api.estimate(i, i.workload)
        comp = api.compressed(i, base)
    doc: dict[str, Any] = {
        "header": _header(base), "baseline": base.to_dict(), "compressed": None, "rows": None,
        "compression": None, "warnings": warned,
        "display": {"stages": _stages(base), "summary": _summary(base), "savings": None,
                    "compressed_stages": None, "compressed_summary": None},
        "roofline": {"baseline": _roofline(base), "compressed": None},
    }
    if comp is not None:
        new, extra = comp
        rows = compare_rows(base, new)
        doc.update(compressed=new.to_dict(), rows=rows, compression=i.compression.label
                   if i.compression else None)
        doc["warnings"] = list(dict.fromkeys(doc["warnings"] + extra))
        doc["display"].update(savings=_savings(rows), compressed_stages=_stages(new),
                              compressed_summary=_summary(new))
        doc["roofline"]["compressed"] = _roofline(new)
    return doc


def sweep_view(state: dict[str, str]) -> dict[str, Any]:
    """The token sweep of a state (its own request: the page draws it after the view)."""
    with api.LOCK:
        i = api.inputs(state)
        base, _ = api.estimate(i, i.workload)
        sweep, warned = _sweep(i, base)
    return {"sweep": sweep, "warnings": warned}


def commands(state: dict[str, str]) -> dict[str, str | None]:
    cargv = st.compare_argv(state)
    return {"estimate": st.command_line(st.estimate_argv(state)),
            "compare": st.command_line(cargv) if cargv else None}


def answer(query: dict[str, str], make: Any = None) -> tuple[int, str]:
    """(HTTP status, JSON text) for a query: the view (or `make`'s document, e.g.
    sweep_view), or the one-line error by field."""
    try:
        state = st.normalize(query)
    except CostmodelError as e:
        return 400, dumps({"errors": {"general": str(e)}})
    head = {"state": state, "commands": commands(state)}
    try:
        doc = (make or view)(state)
    except Exception as e:
        line = api.message(e)
        if line is None:
            raise
        return 400, dumps({**head, "errors": {st.field_of(line): line}})
    return 200, dumps({**head, "errors": {}, **doc})


def export_csv(query: dict[str, str]) -> str:
    """What `estimate -f csv` prints, or with a compression what `compare-compression -f csv`
    prints (the savings rows)."""
    state = st.normalize(query)
    with api.LOCK:
        i = api.inputs(state)
        base, _ = api.estimate(i, i.workload)
        comp = api.compressed(i, base)
    if comp is None:
        return stage_csv(base)
    from costmodel.cli.output import records_csv

    keeps = (state["keep"] or None,)  # the text as given, as the CLI's --keep
    return records_csv(CompressionComparison(base, (comp[0],), keeps).records())


def export_json(query: dict[str, str]) -> str:
    status, text = answer(query)
    if status != 200:
        raise CostmodelError(next(iter(json.loads(text)["errors"].values())))
    return text


def roofline_svg(query: dict[str, str]) -> str:
    """The per-operator roofline of `costmodel plot` (costmodel.plots) as SVG text."""
    import importlib.util
    import io

    if importlib.util.find_spec("matplotlib") is None:
        raise CostmodelError("roofline.svg: matplotlib not installed; run: "
                             "pip install \"costmodel[plot]\"")
    from costmodel.plots import roofline_figure

    with api.LOCK:
        i = api.inputs(st.normalize(query))
        base, _ = api.estimate(i, i.workload)
        fig = roofline_figure(base.to_frame(), base.hardware, base.workload.act_dtype)
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    return buf.getvalue()
