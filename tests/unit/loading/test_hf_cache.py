"""Hub ids (`org/name`) read the config.json from a local Hugging Face cache, never the network.

Every cache here is a fake one built in tmp_path with the Hub's layout
(models--{org}--{name}/refs/main + snapshots/<commit>/config.json); where huggingface_hub is
installed its own `try_to_load_from_cache` is asked about the same folders, so the layouts agree.
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costmodel.cli import app
from costmodel.errors import CostmodelError
from costmodel.loading import hf_cache
from costmodel.loading.load import _PKG, _load_model, load_model
from tests.helpers import run

REPO = "Qwen/Qwen2-VL-7B-Instruct"
ZOO_CFG = _PKG / "zoo_configs" / "qwen2-vl-7b.json"


def fill(cache: Path, repo: str = REPO, commit: str = "c0ffee", ref: str | None = "main",
         files: dict[str, str] | None = None) -> Path:
    """A cache entry for `repo` at `commit` (refs/<ref> -> commit unless ref is None)."""
    folder = cache / ("models--" + repo.replace("/", "--"))
    snap = folder / "snapshots" / commit
    snap.mkdir(parents=True, exist_ok=True)
    for name, text in (files if files is not None else {"config.json": ZOO_CFG.read_text()}).items():
        (snap / name).write_text(text)
    if ref is not None:
        (folder / "refs").mkdir(exist_ok=True)
        (folder / "refs" / ref).write_text(commit)
    return folder


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty hub cache named by HF_HUB_CACHE; no socket may be opened while it is used."""
    hub = tmp_path / "hub"
    hub.mkdir()
    for var in ("HF_HOME", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))

    def no_network(*_a: object, **_k: object) -> None:
        raise AssertionError("costmodel opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    _load_model.cache_clear()
    yield hub
    _load_model.cache_clear()


@pytest.mark.parametrize("name, ok", [
    ("Qwen/Qwen2-VL-7B-Instruct", True), ("llava-hf/llava-1.5-7b-hf", True), ("a/b", True),
    ("qwen2-vl-7b", False), ("a/b/c", False), ("./x/config.json", False), ("org/cfg.json", False),
    ("a--b/c", False), ("a/b..c", False), ("-a/b", False), ("a/b.", False), ("/abs", False),
])
def test_what_counts_as_a_hub_id(name, ok):
    assert hf_cache.is_repo_id(name) is ok


def test_hub_id_loads_from_the_cache_named_by_hf_hub_cache(cache):
    fill(cache)
    spec = load_model(REPO)
    assert spec.name == REPO
    assert spec.param_counts() == load_model("qwen2-vl-7b").param_counts()
    assert spec.source == f"https://huggingface.co/{REPO}/blob/c0ffee/config.json"


def test_hf_home_is_honoured_and_hf_hub_cache_wins(tmp_path, cache, monkeypatch):
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert hf_cache.hub_cache_dir() == tmp_path / "home" / "hub"
    fill(tmp_path / "home" / "hub")
    assert load_model(REPO).name == REPO
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))  # empty: it wins over HF_HOME
    _load_model.cache_clear()
    with pytest.raises(CostmodelError, match=str(cache)):
        load_model(REPO)


def test_default_cache_under_xdg_then_home(tmp_path, cache, monkeypatch):
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hf_cache.hub_cache_dir() == tmp_path / "xdg" / "huggingface" / "hub"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert hf_cache.hub_cache_dir() == tmp_path / ".cache" / "huggingface" / "hub"


def test_refs_main_picks_the_snapshot(cache):
    fill(cache, commit="old", ref=None, files={"config.json": json.dumps({"model_type": "mamba"})})
    fill(cache, commit="new")
    assert load_model(REPO).source.endswith("/blob/new/config.json")


@pytest.mark.parametrize("how", ["no folder", "no ref", "ref to a missing snapshot",
                                 "no config.json", "recorded absent"])
def test_missing_entry_is_one_line_naming_the_path_and_the_fix(cache, how):
    if how == "no ref":
        fill(cache, ref=None)
    elif how == "ref to a missing snapshot":
        folder = fill(cache)
        shutil.rmtree(folder / "snapshots" / "c0ffee")
    elif how == "no config.json":
        fill(cache, files={"model.safetensors": ""})
    elif how == "recorded absent":
        folder = fill(cache)
        (folder / ".no_exist" / "c0ffee").mkdir(parents=True)
        (folder / ".no_exist" / "c0ffee" / "config.json").write_text("")
    with pytest.raises(CostmodelError) as e:
        load_model(REPO)
    msg = str(e.value)
    assert "\n" not in msg
    assert str(cache / "models--Qwen--Qwen2-VL-7B-Instruct") in msg
    assert f"`hf download {REPO} config.json`" in msg
    assert "'qwen2-vl-7b'" in msg  # the bundled zoo id of the same repo


@pytest.mark.parametrize("layout", ["full", "no ref", "no config.json", "recorded absent",
                                    "two snapshots"])
def test_lookup_agrees_with_huggingface_hub(tmp_path, layout):
    hub = pytest.importorskip("huggingface_hub")
    cache = tmp_path / "hub"
    folder = fill(cache, ref=None if layout == "no ref" else "main",
                  files={"weights.bin": ""} if layout == "no config.json" else None)
    if layout == "recorded absent":
        (folder / ".no_exist" / "c0ffee").mkdir(parents=True)
        (folder / ".no_exist" / "c0ffee" / "config.json").write_text("")
    if layout == "two snapshots":
        fill(cache, commit="other", ref=None)
    theirs = hub.try_to_load_from_cache(REPO, "config.json", cache_dir=str(cache))
    ours = hf_cache.cached_file(REPO, "config.json", cache)
    assert ours == (Path(theirs) if isinstance(theirs, str) else None)
    assert hf_cache.cached_file("Qwen/absent", "config.json", cache) is None
    assert hub.try_to_load_from_cache("Qwen/absent", "config.json", cache_dir=str(cache)) is None


def test_local_folder_wins_over_the_cache(tmp_path, cache, monkeypatch):
    # `org/name` that is also a folder holding config.json (relative to the working directory)
    # is the local file; the cache is not consulted.
    fill(cache)
    local = tmp_path / "Qwen" / "Qwen2-VL-7B-Instruct"
    local.mkdir(parents=True)
    (local / "config.json").write_text(_PKG.joinpath("zoo_configs", "qwen2-vl-2b.json").read_text())
    monkeypatch.chdir(tmp_path)
    spec = load_model(REPO)
    assert spec.source == str(Path(REPO) / "config.json")
    assert spec.param_counts() == load_model("qwen2-vl-2b").param_counts()


def test_a_folder_without_config_json_says_so(tmp_path, cache, monkeypatch):
    """A folder with no config.json was 'no file <folder>', or, named like a Hub id, 'is no local
    path'; a folder named like a Hub id that the cache holds still loads from the cache."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weights").mkdir()
    (tmp_path / "Qwen" / "Qwen2-VL-7B-Instruct").mkdir(parents=True)
    for name in ("weights", str(tmp_path / "weights"), REPO, Path("weights")):
        with pytest.raises(CostmodelError, match=r"^MODEL: the folder .* holds no config\.json; "
                           "give a zoo id, a config.json path or a model folder with one$"):
            load_model(name)
    fill(cache)
    _load_model.cache_clear()
    assert load_model(REPO).source.startswith(f"https://huggingface.co/{REPO}/blob/c0ffee")


def test_cli_estimate_names_the_hub_id(cache):
    fill(cache)
    r = CliRunner().invoke(app, ["estimate", REPO, "-H", "h100-sxm", "-f", "json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["model"] == REPO


def test_cli_missing_cache_entry_exit_2(cache, capsys):
    # through the console entry point, which owns the one-line error and exit code 2
    code, out, err = run(["estimate", "someorg/some-model", "-H", "h100-sxm"], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "models--someorg--some-model" in err and "`hf download someorg/some-model config.json`" in err
