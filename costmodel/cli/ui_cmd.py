"""`costmodel ui`: the local web page (costmodel/ui, docs/ui.md).

Its libraries (Starlette, uvicorn) are an optional extra: they are imported here, inside the
command, so the other commands never load them; without them the command prints one line
saying how to install them and exits 2.
"""

from __future__ import annotations

import importlib.util

import typer

from costmodel.errors import CostmodelError

UI_LIBRARIES = ("starlette", "uvicorn")


def missing_libraries() -> list[str]:
    """The UI's libraries that are not installed."""
    return [m for m in UI_LIBRARIES if importlib.util.find_spec(m) is None]


def ui(
    port: int = typer.Option(8765, min=0, max=65535, help="TCP port (0: any free port)."),
    host: str = typer.Option("127.0.0.1", help="Address to bind: this machine only by default."),
) -> None:
    """A local web page: model, device, workload and compression in, stage table, roofline,
    token sweep and savings out. Needs the extra: pip install "costmodel[ui]"."""
    if not host.strip():  # the socket reads '' as every interface, not this machine only
        raise CostmodelError(f"--host: '{host}' is empty, which would listen on every "
                             "interface; give 127.0.0.1 (this machine) or 0.0.0.0 (all)")
    missing = missing_libraries()
    if missing:
        raise CostmodelError(f"ui: {', '.join(missing)} not installed; run: "
                             "pip install \"costmodel[ui]\"")
    from costmodel.ui.server import serve

    serve(host, port)
