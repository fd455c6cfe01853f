"""One way to write a file atomically."""

from __future__ import annotations

from pathlib import Path

import pytest

from napari_sleap_train.atomic import atomic_path, write_json_atomic
from napari_sleap_train.errors import ExportError, WriteError


def test_a_failed_write_leaves_the_file_and_no_temporary_behind(tmp_path):
    target = tmp_path / "labels.csv"
    target.write_text("before")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "before"
    assert [p.name for p in tmp_path.iterdir()] == ["labels.csv"]


def test_a_write_replaces_the_file_and_keeps_a_backup_when_asked(tmp_path):
    target = tmp_path / "project.slp"
    target.write_text("old")
    with atomic_path(target, backup=True) as tmp:
        assert tmp.suffix == ".slp" and tmp.parent == tmp_path
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert (tmp_path / "project.slp.bak").read_text() == "old"
    write_json_atomic(tmp_path / "c.json", {"a": 1})
    assert (tmp_path / "c.json").read_text().replace(" ", "").replace("\n", "") == '{"a":1}'


def test_errors_name_the_target_and_take_the_callers_class(tmp_path):
    with pytest.raises(WriteError, match="folder .* does not exist"):
        write_json_atomic(tmp_path / "no" / "c.json", {})
    folder_in_the_way = pytest.raises(ExportError, match="it is a folder")
    with folder_in_the_way, atomic_path(tmp_path, error=ExportError):
        pass
    # /proc takes no new files, whoever asks (root too): the message names the target
    target = Path("/proc/napari-sleap-train-test.json")
    if not target.parent.is_dir():
        pytest.skip("no /proc on this system")
    with pytest.raises(WriteError, match=f"Cannot write {target} .*Choose a folder") as info:
        write_json_atomic(target, {})
    assert ".napari" not in str(info.value)  # not the temporary file's name
