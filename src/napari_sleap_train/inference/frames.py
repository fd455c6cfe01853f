"""Which frames to predict on."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import sleap_io as sio

from ..errors import InferenceError
from ..project import Project

FRAME_CHOICES = "suggested | labeled | all | random:N | A:B | N | N,M,..."


def select_frames(
    project: Project,
    video: sio.Video,
    spec: str | int | Sequence[int],
    n_frames: int | None = None,
    seed: int = 0,
) -> list[int]:
    """Frame indices of ``video`` to predict on, sorted.

    ``spec`` is ``suggested`` (suggested frames not yet labelled), ``labeled`` (the
    user-labelled frames themselves, to evaluate against them), ``all``, ``random:N`` (N
    random unlabelled frames), ``A:B`` (frames A to B-1), one frame number, or a list of
    frame numbers. Except for ``labeled``, single frames and explicit lists, frames with
    user labels are skipped.
    """
    total = n_frames if n_frames is not None else int(video.shape[0])
    labelled = project.labelled_frame_indices(video)

    def unlabelled(frames) -> list[int]:
        return sorted(int(f) for f in frames if int(f) not in labelled and 0 <= int(f) < total)

    if isinstance(spec, (int, np.integer)):
        return _checked([int(spec)], total)
    if not isinstance(spec, str):
        return _checked(sorted({int(f) for f in spec}), total)
    text = spec.strip().lower()
    if text in ("suggested", "suggestions"):
        return unlabelled(project.suggested_frames(video))
    if text in ("labeled", "labelled", "user"):
        return sorted(labelled)
    if text in ("all", "video", "entire"):
        return unlabelled(range(total))
    if m := re.fullmatch(r"random:(\d+)", text):
        pool = np.array(unlabelled(range(total)))
        n = min(int(m.group(1)), len(pool))
        return sorted(np.random.default_rng(seed).choice(pool, n, replace=False).tolist())
    if m := re.fullmatch(r"(\d*):(\d*)", text):
        a = int(m.group(1) or 0)
        b = int(m.group(2) or total)
        return unlabelled(range(a, min(b, total)))
    if re.fullmatch(r"\d+(,\d+)*", text):
        return _checked(sorted({int(t) for t in text.split(",")}), total)
    raise InferenceError(f"Unknown frame selection {spec!r}; use {FRAME_CHOICES}.")


def _checked(frames: list[int], total: int) -> list[int]:
    bad = [f for f in frames if not 0 <= f < total]
    if bad:
        raise InferenceError(f"Frame {bad[0]} is outside the video (0 to {total - 1}).")
    return frames
