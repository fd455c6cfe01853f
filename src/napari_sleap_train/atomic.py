"""Atomic file writes: a temporary file beside the target, renamed over it when complete.

An interrupted write never leaves a half-written file where the user's file was; with
``backup`` the previous file is kept as ``<name>.bak``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
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
    try:
        fd, name = tempfile.mkstemp(
            suffix=target.suffix, prefix=f".{target.stem}.", dir=target.parent
        )
    except OSError as exc:
        raise _write_error(error, target, exc) from exc
    os.close(fd)
    return Path(name)


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
