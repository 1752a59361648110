"""The web page's endpoints (Starlette's test client): every number equals the CLI's JSON for
the same inputs, bad input gets the CLI's one line by field, no client path is read."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")
pytest.importorskip("uvicorn")
from starlette.testclient import TestClient  # noqa: E402

from costmodel.cli import main  # noqa: E402
from costmodel.ui import api, server, uploads  # noqa: E402
from tests.ui.conftest import run_cli  # noqa: E402

ZOO = Path(__file__).resolve().parents[2] / "costmodel" / "zoo_configs"

STATES = [
    {},
    {"visual_tokens": "144", "keep": "0.1", "at": "llm-layer:2"},
    {"hardware": "h100-sxm", "bw": "1.5", "compute": "2", "mem": "0.5", "engine": "vllm",
     "batch": "4", "kv_dtype": "int8", "keep": "64", "method": "cluster"},
    {"model": "qwen2-vl-2b", "images": "2", "image_size": "672x448", "keep": "0.5",
     "at": "llm-layer:3"},
    {"keep": "0.5", "at": "vit", "output_tokens": "16"},
    {"model": "llama-3-8b", "keep": "", "text_tokens": "512", "weight_dtype": "int4"},
    {"model": "qwen2-vl-7b", "video_frames": "16", "image_size": "448x448", "keep": "0.25"},
    {"model": "mixtral-8x7b", "hardware": "h100-sxm", "ep": "4", "keep": ""},
]


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(server.create_app())


def view(client: TestClient, state: dict[str, str], path: str = "/api/view") -> tuple[int, dict]:
    r = client.get(f"{path}?{urlencode(state)}")
    return r.status_code, r.json()


@pytest.mark.parametrize("state", STATES, ids=lambda s: ",".join(s) or "defaults")
def test_numbers_equal_the_cli(client, capsys, state):
    status, doc = view(client, state)
    assert status == 200, doc["errors"]
    code, out, _ = run_cli(capsys, doc["commands"]["estimate"], "-f", "json")
    assert code == 0
    assert doc["baseline"] == json.loads(out)
    if doc["commands"]["compare"] is None:
        assert doc["compressed"] is None and doc["rows"] is None
        return
    code, out, _ = run_cli(capsys, doc["commands"]["compare"], "-f", "json")
    cli = json.loads(out)
    assert (doc["compressed"], doc["rows"], doc["baseline"]) == (
        cli["compressed"], cli["rows"], cli["baseline"])
    assert doc["compression"] == cli["compression"]


def test_display_uses_the_cli_formatting(client, capsys):
    status, doc = view(client, {"visual_tokens": "144", "keep": ""})
    code, table, _ = run_cli(capsys, doc["commands"]["estimate"])
    s = doc["display"]["summary"]
    assert f"expected: TTFT {s['ttft']} | TPOT {s['tpot']} | end-to-end {s['e2e']}" in table
    assert f"bound:    TTFT {s['bound_ttft']} | TPOT {s['bound_tpot']}" in table
    assert f"memory: {s['memory']}: {s['fits']}" in table
    for row in doc["display"]["stages"]:
        assert re.search(r"\s+".join(re.escape(row[k]) for k in (
            "label", "flops", "bytes", "intensity", "bound", "expected", "compute")), table)


def test_expert_parallelism_reaches_the_estimate(client, capsys):
    """--ep 4 on mixtral-8x7b (h100-sxm): the command carries it, 4 GPUs hold 2 experts each,
    the memory shown is the CLI's whole-model and per-GPU lines; ep 1 is the CLI default
    (left out of the command); a dense model gets the CLI's line beside the field."""
    state = {"model": "mixtral-8x7b", "hardware": "h100-sxm", "ep": "4", "keep": ""}
    status, doc = view(client, state)
    assert status == 200, doc["errors"]
    assert "--ep 4" in doc["commands"]["estimate"]
    assert doc["baseline"]["parallel"]["ep"] == 4 and doc["baseline"]["parallel"]["gpus"] == 4
    code, table, _ = run_cli(capsys, doc["commands"]["estimate"])
    whole, per_gpu = doc["display"]["summary"]["memory"].split(" (whole model); ")
    assert f"memory: {whole} (whole model)" in table
    assert f"{per_gpu}: {doc['display']['summary']['fits']} | communication" in table
    assert "--ep" not in view(client, {**state, "ep": "1"})[1]["commands"]["estimate"]
    status, doc = view(client, {"ep": "2", "keep": ""})
    assert status == 400 and doc["errors"]["ep"].startswith(
        "--ep: llava-1.5-7b has no experts to split")


def test_sweep_equals_the_cli(client, capsys):
    state = {"visual_tokens": "144", "keep": "0.25", "batch": "2"}
    status, doc = view(client, state, "/api/sweep")
    sweep = doc["sweep"]
    assert status == 200 and sweep["point"] == 144
    code, out, _ = run_cli(capsys, sweep["command"], "-f", "json")
    rows = [r for r in json.loads(out) if r["stage"] == "vision"]
    columns = sweep["compressed"].keys()
    assert len(columns) == 8 and {c: [r[c] for r in rows] for c in columns} == sweep["compressed"]
    plain = sweep["command"].replace(" --keep 0.25 --at projector", "")
    code, out, _ = run_cli(capsys, plain, "-f", "json")
    rows = [r for r in json.loads(out) if r["stage"] == "vision"]
    assert {c: [r[c] for r in rows] for c in columns} == sweep["baseline"]


def test_a_state_is_parsed_once_per_interaction(client, monkeypatch):
    calls = []
    parse = api.parse
    monkeypatch.setattr(api, "parse", lambda argv: calls.append(argv[0]) or parse(argv))
    state = {"visual_tokens": "123", "keep": "0.5", "batch": "3"}
    assert view(client, state)[0] == 200 and view(client, state, "/api/sweep")[0] == 200
    assert calls == ["estimate", "compare-compression"]


def test_a_dropped_upload_is_refused_after_it_was_used(client, monkeypatch):
    raw = (ZOO / "llava-1.5-7b.json").read_bytes()
    model_id = client.post("/api/upload?filename=again.json", content=raw).json()["id"]
    assert view(client, {"model": model_id})[0] == 200
    monkeypatch.setattr(uploads, "_held", type(uploads._held)())
    status, doc = view(client, {"model": model_id})
    assert status == 400 and "upload the file again" in doc["errors"]["model"]


BAD = [
    ({"batch": "0"}, "batch"), ({"visual_tokens": "-5"}, "visual_tokens"),
    ({"text_tokens": "abc"}, "text_tokens"), ({"dtype": "bf17"}, "dtype"),
    ({"image_size": "foo"}, "image_size"), ({"keep": "2000"}, "keep"), ({"keep": "abc"}, "keep"),
    ({"at": "llm-layer:99"}, "at"), ({"method": "foo"}, "method"), ({"bw": "abc"}, "bw"),
    ({"compute": "0"}, "compute"), ({"mem": "-1"}, "mem"), ({"hardware": "a100"}, "hardware"),
    ({"engine": "foo"}, "engine"), ({"model": "llava-1.6"}, "model"),
    ({"model": "llama-2-7b", "visual_tokens": "5"}, "visual_tokens"),
    ({"images": "2", "visual_tokens": "100"}, "images"),
    ({"ep": "2"}, "ep"), ({"model": "mixtral-8x7b", "keep": "", "ep": "3"}, "ep"),
    ({"ep": "0"}, "ep"), ({"ep": "abc"}, "ep"),
]


def test_ui_doc_counts_the_bad_inputs():
    """docs/ui.md, "How it works", says how many bad inputs this file checks."""
    text = " ".join((Path(__file__).parents[2] / "docs" / "ui.md").read_text().split())
    assert f"the CSV and {len(BAD)} bad inputs)" in text


def test_ui_doc_operator_counts():
    """docs/ui.md, "Speed": how many operators one evaluate call prices, small and large."""
    import costmodel

    text = " ".join((Path(__file__).parents[2] / "docs" / "ui.md").read_text().split())
    small = len(costmodel.estimate("llava-1.5-7b", "a100-80gb").evaluation.op_costs)
    large = len(costmodel.estimate("llama-3.2-11b-vision", "a100-80gb").evaluation.op_costs)
    assert f"operators ({small} for LLaVA-1.5-7B; {large} for Llama-3.2-11B-Vision," in text


@pytest.mark.parametrize(("state", "field"), BAD, ids=lambda x: str(x))
def test_bad_input_gets_the_cli_line_by_field(client, capsys, state, field):
    status, doc = view(client, state)
    assert status == 400
    assert list(doc["errors"]) == [field]
    line = doc["errors"][field]
    command = doc["commands"]["compare"] or doc["commands"]["estimate"]
    code, _, err = run_cli(capsys, command)
    assert (code, err) == (2, f"error: {line}\n")


@pytest.mark.parametrize("state", [{"hardware": "../../etc/passwd"}, {"model": "/etc/passwd"},
                                   {"engine": "../engines/vllm.yaml"}, {"model": "x.json"}])
def test_no_client_path_is_read(client, monkeypatch, state):
    def refuse(*_, **__):
        raise AssertionError("a client-named path reached a loader")

    monkeypatch.setattr("costmodel.loading.load.read_text", refuse)
    monkeypatch.setattr("costmodel.loading.load.read_yaml", refuse)
    status, doc = view(client, state)
    assert status == 400
    (line,) = doc["errors"].values()
    assert "looks like a path" in line and "\n" not in line


def test_state_is_normalised_and_values_bounded(client):
    status, doc = view(client, {"visual_tokens": " 144 ", "nonsense": "1"})
    assert status == 200 and doc["state"]["visual_tokens"] == "144"
    assert "nonsense" not in doc["state"] and doc["state"]["keep"] == "0.25"
    status, doc = view(client, {"image_size": "9" * 500})
    assert status == 400 and doc["errors"] == {"general": "image_size: 500 characters; at most 100"}


def test_upload_parses_with_the_same_validators(client, capsys, tmp_path):
    raw = (ZOO / "llava-1.5-7b.json").read_bytes()
    r = client.post("/api/upload?filename=llava-custom.json", content=raw)
    assert r.status_code == 200
    model_id = r.json()["id"]
    assert model_id.startswith("upload:") and r.json()["name"] == "llava-custom"
    status, doc = view(client, {"model": model_id, "visual_tokens": "64", "keep": "0.5"})
    assert status == 200 and doc["commands"]["estimate"].startswith("costmodel estimate config.json")
    (tmp_path / "llava-custom.json").write_bytes(raw)
    code, out, _ = run_cli(capsys, doc["commands"]["estimate"].replace(
        "config.json", str(tmp_path / "llava-custom.json")), "-f", "json")
    assert doc["baseline"] == json.loads(out)


def test_upload_is_size_limited_and_checked(client, capsys, tmp_path):
    big = b" " * (uploads.MAX_UPLOAD_BYTES + 1)
    r = client.post("/api/upload", content=big)
    assert r.status_code == 413 and "KiB" in r.json()["errors"]["model"]
    r = client.post("/api/upload?filename=config.json", content=b"{not json")
    assert r.json() == {"errors": {"model": "config.json: not valid JSON (line 1); fix the file"}}
    bad = json.dumps({"model_type": "bert", "hidden_size": 768}).encode()
    r = client.post("/api/upload?filename=config.json", content=bad)
    (tmp_path / "config.json").write_bytes(bad)
    code, _, err = run_cli(capsys, f"costmodel estimate {tmp_path / 'config.json'} -H l4")
    assert r.status_code == 400 and (code, err) == (2, f"error: {r.json()['errors']['model']}\n")
    status, doc = view(client, {"model": "upload:0000000000000000"})
    assert status == 400 and "upload the file again" in doc["errors"]["model"]


def test_exports_are_what_the_cli_prints(client, capsys):
    state = {"visual_tokens": "144", "keep": "0.1"}
    r = client.get(f"/api/export.csv?{urlencode(state)}")
    _, doc = view(client, state)
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    assert r.text == run_cli(capsys, doc["commands"]["compare"], "-f", "csv")[1]
    state["keep"] = ""
    r = client.get(f"/api/export.csv?{urlencode(state)}")
    assert r.text == run_cli(capsys, doc["commands"]["estimate"], "-f", "csv")[1]
    r = client.get(f"/api/export.json?{urlencode(state)}")
    assert r.json()["baseline"] == view(client, state)[1]["baseline"]


def test_page_and_assets_come_from_the_package(client):
    page = client.get("/").text
    assert '<script src="/static/app.js"' in page
    for path in ("/", "/static/app.js", "/static/style.css"):
        text = client.get(path).text
        urls = re.findall(r"https?://[^\s\"'`)]+", text)
        assert all(u.startswith("http://www.w3.org/") for u in urls), urls
        assert "@import" not in text and "@font-face" not in text
    catalog = client.get("/api/catalog").json()
    assert {m["family"] for m in catalog["models"]} >= {"llava-1.5", "qwen2-vl"}
    assert "a100-80gb" in [h["id"] for h in catalog["hardware"]] and "vllm" in catalog["engines"]


def test_roofline_svg(client):
    pytest.importorskip("matplotlib")
    r = client.get("/api/roofline.svg?visual_tokens=144")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in r.text


def test_ui_command_without_its_libraries(monkeypatch, capsys):
    monkeypatch.setattr("costmodel.cli.ui_cmd.missing_libraries", lambda: ["starlette"])
    with pytest.raises(SystemExit) as e:
        main(["ui"])
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert err == 'error: ui: starlette not installed; run: pip install "costmodel[ui]"\n'


def test_other_commands_do_not_import_the_ui_libraries():
    code = ("import sys, costmodel, costmodel.cli; "
            "from costmodel.cli import main; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('starlette', 'uvicorn', 'httpx', 'anyio', 'costmodel.ui')]; "
            "assert not bad and 'costmodel.ui' not in sys.modules, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_ui_command_prints_its_address_and_serves():
    proc = subprocess.Popen([sys.executable, "-m", "costmodel", "ui", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line
        import urllib.request

        with urllib.request.urlopen(match.group(0), timeout=10) as r:
            assert b"costmodel" in r.read()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_busy_port_is_one_line():
    with server.bind("127.0.0.1", 0) as taken:
        port = taken.getsockname()[1]
        taken.listen()
        with pytest.raises(Exception, match=r"^--port: cannot listen on 127\.0\.0\.1:\d+ "):
            server.bind("127.0.0.1", port)


def test_video_frames_reach_the_estimate(client):
    """16 frames of 448x448 on qwen2-vl-7b: 2,048 visual tokens (temporal patches of 2), the
    field shown next to a bad value in the CLI's words."""
    status, doc = view(client, {"model": "qwen2-vl-7b", "video_frames": "16",
                                "image_size": "448x448", "keep": ""})
    assert status == 200, doc["errors"]
    assert "--video-frames" in doc["commands"]["estimate"]
    assert doc["baseline"]["workload"]["visual_tokens"] == 2048
    # the sweep leaves the video out (the tokens are its axis), in its command too
    status, doc = view(client, {"model": "qwen2-vl-7b", "video_frames": "16", "keep": ""},
                       "/api/sweep")
    assert status == 200 and "--video-frames" not in doc["sweep"]["command"]
    status, doc = view(client, {"model": "llava-1.5-7b", "video_frames": "8", "keep": ""})
    assert status != 200 and "video_frames" in doc["errors"]
