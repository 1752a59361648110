"""`costmodel ui`: a local web page over the CLI's own parsing and the analysis layer.

server.py   the Starlette app and `serve` (uvicorn, 127.0.0.1 by default)
views.py    one state -> the page's JSON (the CLI's documents + display strings), CSV export
api.py      state -> parsed options (the CLI's click commands) -> estimates, savings, sweep
state.py    the query string <-> the `estimate` / `compare-compression` command lines
uploads.py  uploaded config.json: size-limited, parsed in memory, held by content hash
static/     the page: hand-written HTML, CSS and JavaScript (no CDN, no framework, no fonts)

Starlette and uvicorn are the optional extra `costmodel[ui]`; only this package and the `ui`
command import them (docs/ui.md).
"""
