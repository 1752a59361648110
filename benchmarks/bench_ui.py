"""Time the web page's interactions over real HTTP (uvicorn on 127.0.0.1, this machine).

Each interaction is what the page sends after one change of a field: GET /api/view (the
tables, cards and roofline) and then GET /api/sweep (the token sweep). A run starts from empty
result caches (first load excluded: imports), then changes one field at a time.

Run: python benchmarks/bench_ui.py [--runs N]   (needs pip install ".[ui]")
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import urllib.request
from urllib.parse import urlencode

import uvicorn

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


def get(url: str) -> float:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as r:
        r.read()
    return time.perf_counter() - t0


def one_run(base: str) -> list[tuple[float, float]]:
    for cache in (api._ESTIMATES, api._SWEEPS):
        cache.items.clear()
    state, out = dict(DEFAULTS), []
    for _, change in STEPS:
        state.update(change)
        q = urlencode(state)
        out.append((get(f"{base}api/view?{q}"), get(f"{base}api/sweep?{q}")))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    runs = ap.parse_args().runs
    sock = server.bind("127.0.0.1", 0)
    srv = uvicorn.Server(uvicorn.Config(server.create_app(), log_level="warning"))
    threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True).start()
    base = server.address(sock)
    one_run(base)  # warm-up: imports, bundled files, click commands
    results = [one_run(base) for _ in range(runs)]
    print(f"{runs} runs from empty caches; ms per interaction (view + sweep), median / max")
    print(f"{'interaction':30s} {'view':>7s} {'sweep':>7s} {'total':>7s} {'max':>7s}")
    for k, (name, _) in enumerate(STEPS):
        view = [r[k][0] * 1e3 for r in results]
        sweep = [r[k][1] * 1e3 for r in results]
        total = [a + b for a, b in zip(view, sweep, strict=True)]
        print(f"{name:30s} {statistics.median(view):7.1f} {statistics.median(sweep):7.1f} "
              f"{statistics.median(total):7.1f} {max(total):7.1f}")
    srv.should_exit = True


if __name__ == "__main__":
    main()
