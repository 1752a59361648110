"""loading/load.py's caches: a local file is read again when it changes, by its stamp
(modification and change time, size, inode), even where an edit keeps its size and
modification time."""

from __future__ import annotations

import json
import os
import time

from costmodel.loading.load import load_model
from tests.helpers import ROOT


def _write(path, layers: int) -> None:
    data = json.loads((ROOT / "costmodel" / "zoo_configs" / "llama-3-8b.json").read_text())
    data["num_hidden_layers"] = layers
    path.write_text(json.dumps(data))


def test_same_size_and_mtime_edit_is_read_again(tmp_path):
    """A copy or archive that restores the modification time (os.utime, as `cp -p`, tar and
    rsync -t do) over a same-size edit: the change time tells it apart."""
    path = tmp_path / "config.json"
    _write(path, 30)
    assert load_model(str(path)).llm.num_layers == 30
    mtime = path.stat().st_mtime_ns
    time.sleep(0.05)  # past a coarse file-system clock tick
    _write(path, 31)  # the same size
    os.utime(path, ns=(mtime, mtime))
    assert load_model(str(path)).llm.num_layers == 31


def test_a_replaced_file_and_a_directory_are_read_again(tmp_path):
    """A file replaced by rename (an editor's or costmodel's own atomic write) is another inode;
    a folder is stamped by its config.json."""
    path = tmp_path / "config.json"
    _write(path, 30)
    assert load_model(str(tmp_path)).llm.num_layers == 30
    mtime = path.stat().st_mtime_ns
    _write(tmp_path / "new.json", 29)
    os.utime(tmp_path / "new.json", ns=(mtime, mtime))
    os.replace(tmp_path / "new.json", path)
    assert load_model(str(tmp_path)).llm.num_layers == 29


def test_an_edited_base_file_is_read_again(tmp_path):
    """A profile inheriting with `base:` is read again when a file it inherits from changes,
    two levels down, and when the child then names another base."""
    from costmodel.loading.load import load_hardware

    (tmp_path / "grand.yaml").write_text("base: h100-sxm\nid: grand\nmemory_GB: 100\n")
    (tmp_path / "parent.yaml").write_text("base: grand.yaml\nid: parent\n")
    (tmp_path / "other.yaml").write_text("base: h100-sxm\nid: other\nmemory_GB: 40\n")
    child = tmp_path / "child.yaml"
    child.write_text("base: parent.yaml\nid: child\n")
    assert load_hardware(str(child)).memory_bytes == 100e9
    time.sleep(0.05)
    (tmp_path / "grand.yaml").write_text("base: h100-sxm\nid: grand\nmemory_GB: 120\n")
    assert load_hardware(str(child)).memory_bytes == 120e9
    time.sleep(0.05)
    child.write_text("base: other.yaml\nid: child\n")
    assert load_hardware(str(child)).memory_bytes == 40e9
    (tmp_path / "other.yaml").write_text("base: h100-sxm\nid: other\nmemory_GB: 60\n")
    assert load_hardware(str(child)).memory_bytes == 60e9
