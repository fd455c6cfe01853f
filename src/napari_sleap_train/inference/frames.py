"""Which frames to predict on: a typed selection, and the frames it picks in a video."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import sleap_io as sio

from ..choices import FrameTarget
from ..errors import InferenceError
from ..io.project import Project

FRAME_CHOICES = "suggested | labeled | all | random:N | A:B | N | N,M,..."


@dataclass(frozen=True)
class FrameSelection:
    """Which frames to predict on.

    ``SUGGESTED`` (suggested frames not yet labelled), ``LABELED`` (the user-labelled frames
    themselves, to evaluate against them), ``ALL``, ``RANDOM`` (``count`` random unlabelled
    frames), ``RANGE`` (frames ``start`` to ``stop - 1``; ``stop`` None: to the end), or
    ``LIST``/``CURRENT`` (the given ``frames``). Except for ``LABELED`` and given frames,
    frames with user labels are skipped.
    """

    target: FrameTarget
    count: int = 0
    start: int = 0
    stop: int | None = None
    frames: tuple[int, ...] = ()

    @classmethod
    def of(cls, frames: Iterable[int]) -> FrameSelection:
        """The given frames."""
        return cls(FrameTarget.LIST, frames=tuple(int(f) for f in frames))

    @classmethod
    def parse(cls, text: str) -> FrameSelection:
        """Read the command line's words (see :data:`FRAME_CHOICES`)."""
        spec = str(text).strip().lower()
        named = {
            "suggested": FrameTarget.SUGGESTED,
            "suggestions": FrameTarget.SUGGESTED,
            "labeled": FrameTarget.LABELED,
            "labelled": FrameTarget.LABELED,
            "user": FrameTarget.LABELED,
            "all": FrameTarget.ALL,
            "video": FrameTarget.ALL,
            "entire": FrameTarget.ALL,
        }
        if spec in named:
            return cls(named[spec])
        if m := re.fullmatch(r"random:(\d+)", spec):
            return cls(FrameTarget.RANDOM, count=int(m.group(1)))
        if m := re.fullmatch(r"(\d*):(\d*)", spec):
            stop = int(m.group(2)) if m.group(2) else None
            return cls(FrameTarget.RANGE, start=int(m.group(1) or 0), stop=stop)
        if re.fullmatch(r"\d+(,\d+)*", spec):
            return cls.of(int(t) for t in spec.split(","))
        raise InferenceError(f"Unknown frame selection {text!r}; use {FRAME_CHOICES}.")


def select_frames(
    project: Project,
    video: sio.Video,
    selection: FrameSelection,
    n_frames: int | None = None,
    seed: int = 0,
) -> list[int]:
    """Frame indices of ``video`` that ``selection`` picks, sorted."""
    total = n_frames if n_frames is not None else int(video.shape[0])
    labelled = project.labelled_frame_indices(video)

    def unlabelled(frames) -> list[int]:
        return sorted(int(f) for f in frames if int(f) not in labelled and 0 <= int(f) < total)

    target = selection.target
    if target in (FrameTarget.LIST, FrameTarget.CURRENT):
        return _checked(sorted(set(selection.frames)), total)
    if target is FrameTarget.SUGGESTED:
        return unlabelled(project.suggested_frames(video))
    if target is FrameTarget.LABELED:
        return sorted(labelled)
    if target is FrameTarget.ALL:
        return unlabelled(range(total))
    if target is FrameTarget.RANDOM:
        pool = np.array(unlabelled(range(total)))
        n = min(selection.count, len(pool))
        return sorted(np.random.default_rng(seed).choice(pool, n, replace=False).tolist())
    stop = total if selection.stop is None else min(selection.stop, total)
    return unlabelled(range(selection.start, stop))


def _checked(frames: list[int], total: int) -> list[int]:
    bad = [f for f in frames if not 0 <= f < total]
    if bad:
        raise InferenceError(f"Frame {bad[0]} is outside the video (0 to {total - 1}).")
    return frames
