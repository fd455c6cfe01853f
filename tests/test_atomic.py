"""One way to write a file atomically."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
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


def test_modes_follow_the_replaced_file_or_the_umask(tmp_path):
    old = tmp_path / "poses.csv"
    old.write_text("a")
    old.chmod(0o664)
    with atomic_path(old) as tmp:
        tmp.write_text("b")
    assert stat.S_IMODE(old.stat().st_mode) == 0o664  # kept, not mkstemp's 0600
    mask = os.umask(0o027)
    try:
        write_json_atomic(tmp_path / "new.json", {})
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o640


def test_temporary_files_of_a_killed_writer_go_at_the_next_write(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)
    host = socket.gethostname()
    stale = tmp_path / f".best.tmp-{host}-{pid}-x1y2.pt"
    stale.write_bytes(b"half a checkpoint")
    other_host = tmp_path / f".best.tmp-elsewhere-{pid}-x1y2.pt"  # may still be writing
    other_host.write_bytes(b"")
    foreign = tmp_path / ".hidden_user_file"
    foreign.write_text("mine")
    write_json_atomic(tmp_path / "model_info.json", {})
    assert not stale.exists() and other_host.exists() and foreign.exists()


def test_a_save_killed_midway_leaves_the_old_file_or_the_new_one(tmp_path):
    """A process saving a real project over and over is killed (SIGKILL) before its first
    save ends and at moments of later ones; the project file always opens, holding the
    old instances or the new ones."""
    import signal
    import subprocess
    import sys
    import textwrap
    import time

    import sleap_io as sio

    from .conftest import require_data

    source = require_data("centered_pair_predictions.slp")
    target = tmp_path / "project.slp"

    def count() -> int:
        return sum(len(lf.instances) for lf in sio.load_slp(str(target)).labeled_frames)

    script = textwrap.dedent(
        f"""
        from napari_sleap_train.io.project import load_project
        project = load_project({str(target)!r}, search_dirs=[{str(source.parent)!r}])
        lfs = project.labels.labeled_frames
        del lfs[: len(lfs) // 2]
        print("ready", flush=True)
        while True:
            project.save({str(target)!r}, backup=False)
            print("saved", flush=True)
        """
    )
    outcomes = set()
    for saves, pause in ((0, 0.0), (0, 0.1), (1, 0.0), (1, 0.05), (2, 0.2)):
        target.write_bytes(source.read_bytes())
        n_old = count()
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"ready"
        for _ in range(saves):  # waits for whole saves, however long they take
            assert proc.stdout.readline().strip() == b"saved"
        time.sleep(pause)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        n = count()
        assert n == n_old or 0 < n < n_old
        outcomes.add(n == n_old)
    assert False in outcomes  # the kills after a whole save find the new instances
