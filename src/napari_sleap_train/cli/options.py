"""Argument types and checks that refuse bad values with a message, before any work starts."""

from __future__ import annotations

import argparse
from pathlib import Path


def _number(text: str, kind: type, words: str) -> int | float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {words}") from None


def positive_int(text: str) -> int:
    """An integer of at least 1."""
    value = _number(text, int, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small: use 1 or more")
    return value


def non_negative_int(text: str) -> int:
    """An integer of at least 0."""
    value = _number(text, int, "a whole number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative: use 0 or more")
    return value


def positive_float(text: str) -> float:
    """A number above 0."""
    value = _number(text, float, "a number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value:g} is not positive")
    return value


def fraction(text: str) -> float:
    """A number strictly between 0 and 1."""
    value = _number(text, float, "a number")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{value:g} is outside (0, 1): use e.g. 0.2")
    return value


def quantile(text: str) -> float:
    """A number in (0, 1]."""
    value = _number(text, float, "a number")
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{value:g} is outside (0, 1]: use e.g. 0.95, or 1")
    return value


def unit_floor(text: str) -> float:
    """A number in [0, 1)."""
    value = _number(text, float, "a number")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{value:g} is outside [0, 1): use e.g. 0.1")
    return value


def video_dirs(p: argparse.ArgumentParser) -> None:
    """The ``--video-dir`` option."""
    p.add_argument("--video-dir", action="append", help="folder to look for moved videos in")


def check_output(out: Path, source: Path) -> None:
    """Refuse an output that is the input or cannot be written, before any work."""
    from ..atomic import check_writable
    from ..errors import ProjectError

    if out.resolve() == source.resolve():
        raise ProjectError(
            f"-o {out} is the input file: predictions are saved to a new file so your "
            "labels stay as they are. Choose another output name."
        )
    check_writable(out, ProjectError)
