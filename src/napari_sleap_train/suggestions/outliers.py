"""Outlier frames of predictions: where a body part jumps between neighbouring frames or
leaves the smooth path of its track, ranked, each with its reason (``outliers``).

Each track's body parts are followed with the Kalman smoother of
:mod:`~napari_sleap_train.tracking.smoothing`, whose noise levels are read from the
predictions themselves: a body part it sets aside is a jump; one further than
:data:`DEPARTURE_SD` of its track's usual spread from the smoothed path departs from it.
Either counts only when it is off by at least :data:`MIN_SHARE` of its animal's size. A
frame's rank is its count of such body parts.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import sleap_io as sio

from ..errors import SuggestionError, TrackingError
from ..tracking.smoothing import smooth_trajectories, trajectories

DEPARTURE_SD = 4.0
MIN_SHARE = 0.1  # a body part off by less than this share of its animal's size is no outlier


@dataclass(frozen=True)
class OutlierFrame:
    """A frame of predictions that looks wrong, and why."""

    frame: int
    flagged: int
    reason: str


def outlier_frames(
    labels: sio.Labels, video: sio.Video, excluded: Iterable[int] = ()
) -> list[OutlierFrame]:
    """Every frame of ``video`` with a body part that jumps or departs from its track's
    smooth path, most flagged first (ties by frame). Raises :class:`SuggestionError`
    without predictions, or with several animals' predictions without tracks."""
    try:
        paths = trajectories(labels, video)
    except TrackingError as exc:
        raise SuggestionError(str(exc)) from None
    if paths is None:
        raise SuggestionError(
            f"{video.filename} has no predictions to look for outliers in: predict an entire "
            "video or a frame range first."
        )
    t, k, n, _ = paths.xy.shape
    out = smooth_trajectories(paths.xy.reshape(t, k * n, 2), paths.score.reshape(t, k * n))
    jumped = out.rejected.reshape(t, k, n)
    away = np.linalg.norm(paths.xy - out.points.reshape(t, k, n, 2), axis=-1)
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # a body part never predicted
        spread = np.nanmedian(away, axis=0, keepdims=True) * 1.4826 + 0.5
        sides = np.nanmax(paths.xy, axis=2) - np.nanmin(paths.xy, axis=2)  # (T, K, 2)
        size = np.nanmedian(sides.max(-1), axis=0)[None, :, None]  # each track's animal
        far = away > np.maximum(DEPARTURE_SD * spread, MIN_SHARE * np.nan_to_num(size))
        jumped &= far
        departs = far & ~jumped
    nodes = paths.frames[0].predicted_instances[0].skeleton.node_names
    skip = {int(f) for f in excluded}
    found = []
    for i in np.flatnonzero((jumped | departs).any(axis=(1, 2))):
        frame = paths.start + int(i)
        if frame in skip:
            continue
        parts = []
        for j, track in enumerate(paths.tracks):
            for what, mask in (("jumps", jumped[i, j]), ("leaves its path", departs[i, j])):
                names = [nodes[m] for m in np.flatnonzero(mask)]
                if names:
                    who = f"{track.name}: " if track is not None else ""
                    parts.append(
                        f"{who}{', '.join(names[:3])}{' …' if len(names) > 3 else ''} {what}"
                    )
        flagged = int(jumped[i].sum() + departs[i].sum())
        found.append(OutlierFrame(frame, flagged, "; ".join(parts)))
    return sorted(found, key=lambda o: (-o.flagged, o.frame))
