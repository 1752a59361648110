"""Hugging Face model ids (`Qwen/Qwen2-VL-7B-Instruct`) -> the config.json in the user's local
Hugging Face cache. Never the network; huggingface_hub is not imported (it is not a dependency).

The lookup follows huggingface_hub 2.x `file_download.try_to_load_from_cache` and
`constants.HF_HUB_CACHE` (tests check it agrees with that function when it is installed):

- cache folder: $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE (legacy), else $HF_HOME/hub, else
  $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub (~ and $VARS expanded);
- repo folder: models--{org}--{name};
- revision `main` -> the commit hash written in refs/main (a missing ref: `main` is looked up
  as a snapshot name, which fails unless the folder is literally called main);
- the file: snapshots/<commit>/config.json; `.no_exist/<commit>/config.json` records that the
  Hub had no such file at that commit.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from costmodel.errors import CostmodelError

_PART = r"[A-Za-z0-9](?:[\w.\-]{0,94}[A-Za-z0-9])?"
_REPO_ID = re.compile(rf"{_PART}/{_PART}", re.ASCII)
REVISION = "main"


def is_repo_id(name: str) -> bool:
    """`org/name` as the Hub spells repo ids (one slash; letters, digits, - _ .; no -- or ..;
    not a .json/.yaml file name). A bare `name` is never taken for a Hub id (zoo ids look alike)."""
    return (_REPO_ID.fullmatch(name) is not None and "--" not in name and ".." not in name
            and not name.endswith((".json", ".yaml", ".yml")))


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache folder, from the same variables huggingface_hub reads."""
    home = os.getenv("HF_HOME") or os.path.join(
        os.getenv("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "huggingface")
    hub = os.getenv("HF_HUB_CACHE") or os.getenv("HUGGINGFACE_HUB_CACHE") or os.path.join(home, "hub")
    return Path(os.path.expandvars(os.path.expanduser(hub)))


def repo_folder(repo_id: str, cache_dir: Path | None = None) -> Path:
    return (cache_dir or hub_cache_dir()) / ("models--" + repo_id.replace("/", "--"))


def cached_file(repo_id: str, filename: str = "config.json", cache_dir: Path | None = None,
                revision: str = REVISION) -> Path | None:
    """The cached file of `repo_id` at `revision`, or None when it is not in the cache (or the
    cache records that the Hub has no such file)."""
    repo = repo_folder(repo_id, cache_dir)
    if not repo.is_dir():
        return None
    ref = repo / "refs" / revision
    commit = ref.read_text(encoding="utf-8") if ref.is_file() else revision
    if (repo / ".no_exist" / commit / filename).is_file():
        return None
    path = repo / "snapshots" / commit / filename
    return path if path.is_file() else None


def cached_config(repo_id: str, cache_dir: Path | None = None, zoo_id: str = "") -> Path:
    """The config.json of `repo_id` from the cache; one line naming the folder searched and
    how to fill it (or the bundled `zoo_id` of the same repo) when it is not there."""
    path = cached_file(repo_id, "config.json", cache_dir)
    if path is None:
        where = repo_folder(repo_id, cache_dir)
        raise CostmodelError(
            f"MODEL: '{repo_id}' is no local path and has no config.json in the Hugging Face "
            f"cache (searched {where}/"
            f"snapshots/<refs/{REVISION}>/; set HF_HUB_CACHE or HF_HOME to use another cache); "
            f"fetch it with `hf download {repo_id} config.json` (huggingface_hub < 1.0: "
            "`huggingface-cli download`; costmodel never downloads)"
            + (f" or use the bundled zoo id '{zoo_id}'" if zoo_id else ""))
    return path


def commit_of(path: Path) -> str:
    """The snapshot (commit) folder a cached file lies in."""
    return path.parent.name
