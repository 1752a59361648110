"""Time the web page's interactions over real HTTP (uvicorn on 127.0.0.1, this machine).

Each interaction is what the page sends after one change of a field: GET /api/view (the
tables, cards and roofline) and then GET /api/sweep (the token sweep); its time is the two
together, as the page waits for both. A run starts from empty caches (results, parsed states
and the core's held operators; the first run, which also imports and reads the bundled files,
is not counted), then changes one field at a time. Printed per interaction over the runs: the
median and 90th percentile of the wall time, and the median CPU time of this process (server
and client: on a shared machine the wall time also holds the time other jobs had the cores).
The load average is printed before and after.

Run: python benchmarks/bench_ui.py [--runs N]   (needs pip install ".[ui]")
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
import urllib.request
from urllib.parse import urlencode

import uvicorn

from costmodel.core import evaluate
from costmodel.ui import api, server
from costmodel.ui.state import DEFAULTS

STEPS = [
    ("first view (defaults)", {}),
    ("visual tokens 576 -> 144", {"visual_tokens": "144"}),
    ("drag tokens 144 -> 160", {"visual_tokens": "160"}),
    ("drag tokens 160 -> 176", {"visual_tokens": "176"}),
    ("keep 0.25 -> 0.1", {"keep": "0.1"}),
    ("where -> llm-layer:2", {"at": "llm-layer:2"}),
    ("device -> h100-sxm", {"hardware": "h100-sxm"}),
    ("what-if bandwidth x1.5", {"bw": "1.5"}),
    ("engine -> vllm", {"engine": "vllm"}),
    ("batch 1 -> 8", {"batch": "8"}),
    ("model -> qwen2-vl-7b", {"model": "qwen2-vl-7b"}),
]


def get(url: str) -> None:
    with urllib.request.urlopen(url, timeout=30) as r:
        r.read()


def one_run(base: str) -> list[tuple[float, float, float]]:
    """(view wall s, view + sweep wall s, view + sweep CPU s) of each interaction, from empty
    caches."""
    for cache in (api._ESTIMATES, api._SWEEPS):
        cache.items.clear()
    api._held_inputs.cache_clear()
    evaluate._held_ops.cache_clear()
    state, out = dict(DEFAULTS), []
    for _, change in STEPS:
        state.update(change)
        q = urlencode(state)
        t0, c0 = time.perf_counter(), time.process_time()
        get(f"{base}api/view?{q}")
        view = time.perf_counter() - t0
        get(f"{base}api/sweep?{q}")
        out.append((view, time.perf_counter() - t0, time.process_time() - c0))
    return out


def p90(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=10, method="inclusive")[-1]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    runs = ap.parse_args().runs
    sock = server.bind("127.0.0.1", 0)
    srv = uvicorn.Server(uvicorn.Config(server.create_app(), log_level="warning"))
    threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True).start()
    base = server.address(sock)
    one_run(base)  # warm-up: imports, bundled files, click commands
    before = load()
    results = [one_run(base) for _ in range(runs)]
    print(f"load average (1, 5, 15 min): {before} before, {load()} after; nproc {os.cpu_count()}")
    print(f"{runs} runs from empty caches; ms per interaction: the view request alone, and the "
          "view + sweep requests (wall median, p90; CPU median)")
    print(f"{'interaction':30s} {'view':>7s} {'view p90':>8s} {'total':>7s} {'total p90':>9s} "
          f"{'CPU':>7s}")
    for k, (name, _) in enumerate(STEPS):
        view, wall, cpu = ([r[k][j] * 1e3 for r in results] for j in range(3))
        print(f"{name:30s} {statistics.median(view):7.1f} {p90(view):8.1f} "
              f"{statistics.median(wall):7.1f} {p90(wall):9.1f} {statistics.median(cpu):7.1f}")
    srv.should_exit = True


if __name__ == "__main__":
    main()
