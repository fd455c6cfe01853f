"""Atomic file writes: a temporary file beside the target, renamed over it when complete.

An interrupted write never leaves a half-written file where the user's file was; with
``backup`` the previous file is kept as ``<name>.bak``. A written file gets the mode of the
file it replaces, or the user's umask for a new one. Temporary files are named after their
host and process; those a killed process left behind are removed at the next write to
their folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import SleapTrainError, WriteError


@contextlib.contextmanager
def atomic_path(
    target: str | os.PathLike,
    *,
    backup: bool = False,
    error: type[SleapTrainError] = WriteError,
) -> Iterator[Path]:
    """A temporary path beside ``target``, renamed over it when the block ends cleanly.

    The temporary file keeps the target's suffix (some writers choose the format by it).
    A missing folder, a folder in the way, or failing to create or rename the file raise
    ``error`` naming the target, not the temporary file; an error inside the block removes
    the temporary file and leaves the target as it was.
    """
    target = Path(target)
    tmp = _temporary(target, error)
    try:
        yield tmp
        if backup and target.exists():
            shutil.copy2(target, target.with_name(target.name + ".bak"))
        try:
            mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o666 & ~_umask()
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except OSError as exc:
            raise _write_error(error, target, exc) from exc
    finally:
        tmp.unlink(missing_ok=True)


def check_writable(target: str | os.PathLike, error: type[SleapTrainError] = WriteError) -> None:
    """Prove that ``target`` can be written (its folder exists and takes files) before the
    work that ends by writing it; raises ``error`` naming it otherwise."""
    _temporary(Path(target), error).unlink()


def _temporary(target: Path, error: type[SleapTrainError]) -> Path:
    """A new empty file beside ``target``, named after it."""
    if not target.parent.is_dir():
        raise error(f"Cannot write {target}: folder {target.parent} does not exist.")
    if target.is_dir():
        raise error(f"Cannot write {target}: it is a folder. Name a file.")
    _remove_stale(target.parent)
    try:
        fd, name = tempfile.mkstemp(
            suffix=target.suffix, prefix=f".{target.stem}{_TMP_TAG}", dir=target.parent
        )
    except OSError as exc:
        raise _write_error(error, target, exc) from exc
    os.close(fd)
    return Path(name)


_TMP_TAG = f".tmp-{socket.gethostname()}-{os.getpid()}-"
_STALE = re.compile(rf"^\..*\.tmp-{re.escape(socket.gethostname())}-(\d+)-")


def _remove_stale(folder: Path) -> None:
    """Remove the temporary files of this host's processes that no longer run."""
    try:
        names = [e.name for e in os.scandir(folder) if e.name.startswith(".")]
    except OSError:
        return
    for name in names:
        m = _STALE.match(name)
        if m and not _alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                (folder / name).unlink()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _umask() -> int:
    """The process's umask, read without changing it where the system tells it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_error(error: type[SleapTrainError], target: Path, exc: OSError) -> SleapTrainError:
    reason = exc.strerror or str(exc)
    return error(f"Cannot write {target} ({reason}). Choose a folder you can write to.")


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write text atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    """Write JSON atomically."""
    write_text_atomic(path, json.dumps(data, indent=2))
