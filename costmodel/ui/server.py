"""The web app: a hand-written page and a small JSON API (Starlette), served by uvicorn.

Routes (GET unless noted; the query string is the page's state, costmodel.ui.state):
  /                     the page          /static/...       its script and style
  /api/catalog          models (grouped by family), devices, engines, dtypes, defaults
  /api/view             the view: estimates, savings, sweep, display strings; 400 + the
                        one-line message by field on bad input
  /api/sweep            the token sweep of the state (drawn after the view)
  /api/export.json      the view as a download    /api/export.csv   stages or savings rows
  /api/roofline.svg     the per-operator roofline of costmodel.plots (needs matplotlib)
  POST /api/upload      a config.json (raw body, at most uploads.MAX_UPLOAD_BYTES)
The server reads only its own package files; model, device and engine are bundled ids.
"""

from __future__ import annotations

import socket
from functools import lru_cache
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from costmodel.errors import CostmodelError
from costmodel.ui import api, uploads, views
from costmodel.ui import state as st

JSON = "application/json"


@lru_cache(maxsize=1)
def catalog() -> dict[str, Any]:
    from costmodel.loading.load import engine_ids, hardware_ids, load_hardware, model_ids
    from costmodel.loading.zoo import ZOO
    from costmodel.units import DType

    models = [{"id": m, "family": _family(m), "kind": ZOO[m].kind, "note": ZOO[m].note}
              for m in model_ids()]
    devices = [{"id": h, "name": load_hardware(h).name} for h in hardware_ids()]
    return {"models": models, "hardware": devices, "engines": engine_ids(),
            "dtypes": [d.value for d in DType], "defaults": st.DEFAULTS,
            "max_upload_bytes": uploads.MAX_UPLOAD_BYTES}


def _family(model_id: str) -> str:
    """'llava-1.5-7b' -> 'llava-1.5', 'qwen2-vl-2b' -> 'qwen2-vl' (the id less its size)."""
    head, _, size = model_id.rpartition("-")
    return head if head and size[:1].isdigit() else model_id


def _query(request: Request) -> dict[str, str]:
    return dict(request.query_params)


def _error(e: Exception, status: int = 400) -> Response:
    line = api.message(e)
    if line is None:
        raise e
    return JSONResponse({"errors": {st.field_of(line): line}}, status_code=status)


async def page(_: Request) -> Response:
    return HTMLResponse(_static_text("index.html"))


async def catalog_route(_: Request) -> Response:
    return JSONResponse(catalog())


def view_route(request: Request) -> Response:
    status, text = views.answer(_query(request))
    return Response(text, status_code=status, media_type=JSON)


def sweep_route(request: Request) -> Response:
    status, text = views.answer(_query(request), views.sweep_view)
    return Response(text, status_code=status, media_type=JSON)


def export_json(request: Request) -> Response:
    try:
        text = views.export_json(_query(request))
    except CostmodelError as e:
        return _error(e)
    return Response(text, media_type=JSON, headers=_attachment("costmodel-view.json"))


def export_csv(request: Request) -> Response:
    try:
        text = views.export_csv(_query(request))
    except Exception as e:
        return _error(e)
    return PlainTextResponse(text, media_type="text/csv",
                             headers=_attachment("costmodel-view.csv"))


def roofline_svg(request: Request) -> Response:
    try:
        svg = views.roofline_svg(_query(request))
    except Exception as e:
        return _error(e)
    return Response(svg, media_type="image/svg+xml")


async def upload(request: Request) -> Response:
    """The body is the file's bytes (no multipart); the size is checked while reading."""
    name = request.query_params.get("filename", "config.json")[:200]
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > uploads.MAX_UPLOAD_BYTES:
            return _error(CostmodelError(
                f"config.json: over {uploads.MAX_UPLOAD_BYTES // 1024} KiB; a config.json is "
                "a few kB"), 413)
    try:
        model_id, spec = uploads.add(bytes(raw), name)
    except CostmodelError as e:
        return _error(e)
    return JSONResponse({"id": model_id, "name": spec.name})


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def _static_text(name: str) -> str:
    return resources.files("costmodel.ui").joinpath("static").joinpath(name).read_text(encoding="utf-8")


def create_app() -> Starlette:
    static = StaticFiles(directory=str(resources.files("costmodel.ui").joinpath("static")))
    return Starlette(routes=[
        Route("/", page), Route("/api/catalog", catalog_route), Route("/api/view", view_route),
        Route("/api/sweep", sweep_route),
        Route("/api/export.json", export_json), Route("/api/export.csv", export_csv),
        Route("/api/roofline.svg", roofline_svg), Route("/api/upload", upload, methods=["POST"]),
        Mount("/static", app=static, name="static"),
    ])


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free one), or one line saying why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)  # connectable as soon as the address is printed
    except (OSError, OverflowError) as e:
        sock.close()
        reason = getattr(e, "strerror", None) or str(e)
        raise CostmodelError(f"--port: cannot listen on {host}:{port} ({reason}); choose "
                             "another --port or --host") from None
    return sock


def address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(host: str = "127.0.0.1", port: int = 8765) -> None:
    """Run the app until interrupted; prints its address first."""
    import uvicorn

    sock = bind(host, port)
    catalog()  # load the bundled lists before the first request
    server = uvicorn.Server(uvicorn.Config(create_app(), log_level="warning"))
    print(f"costmodel ui: {address(sock)}  (Ctrl+C stops it)", flush=True)
    server.run(sockets=[sock])
