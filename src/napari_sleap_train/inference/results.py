"""Putting predictions into a project."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import sleap_io as sio

from ..choices import PredictionMode
from ..io.project import Project
from ..tracking.spreads import Spreads
from .topdown import FramePrediction


def add_predictions(
    project: Project,
    video: sio.Video,
    predictions: Iterable[FramePrediction],
    mode: PredictionMode | str = PredictionMode.REPLACE,
    spreads: Spreads | None = None,
) -> int:
    """Add predicted instances to ``project``; returns how many were added.

    ``replace`` drops older predictions on the predicted frames only, ``keep`` keeps them
    beside the new ones, ``clear_all`` first drops every prediction of the video. User
    instances are never touched. Identities named by an ID model become the instances'
    tracks (the project's track of that name, added when it has none) and their
    probability the tracking score. An ensemble's spreads go to ``spreads``.
    """
    mode = PredictionMode(mode)
    labels = project.labels
    skeleton = project.skeleton
    if mode is PredictionMode.CLEAR_ALL:
        for lf in labels.labeled_frames:
            if lf.video is video:
                lf.instances = list(lf.user_instances)
    added = 0
    for pred in predictions:
        lf = labels.get_frame(video, pred.frame_idx) if hasattr(labels, "get_frame") else None
        if lf is None:
            lf = sio.LabeledFrame(video=video, frame_idx=pred.frame_idx, instances=[])
            labels.append(lf)
        if mode is PredictionMode.REPLACE:
            lf.instances = list(lf.user_instances)
        names = pred.identities or [None] * pred.n_instances
        ids = pred.identity_scores if pred.identity_scores is not None else np.zeros(len(names))
        for i, (pts, scores, score, name, id_score) in enumerate(
            zip(pred.points, pred.point_scores, pred.scores, names, ids)
        ):
            if not np.isfinite(pts).any():
                continue
            inst = sio.PredictedInstance.from_numpy(
                pts, skeleton=skeleton, point_scores=scores, score=float(score)
            )
            if spreads is not None and pred.spread is not None:
                spreads.put(inst, pred.spread[i])
            if name is not None:
                inst.track = _track(labels, name)
                inst.tracking_score = float(id_score)
            lf.instances.append(inst)
            added += 1
    labels.labeled_frames = [lf for lf in labels.labeled_frames if lf.instances]
    if hasattr(labels, "reindex"):
        labels.reindex()
    return added


def _track(labels: sio.Labels, name: str) -> sio.Track:
    """The track of ``labels`` named ``name`` (added when there is none)."""
    track = next((t for t in labels.tracks if t.name == name), None)
    if track is None:
        track = sio.Track(name=name)
        labels.tracks.append(track)
    return track


def _frame(labels: sio.Labels, video: sio.Video, frame_idx: int) -> sio.LabeledFrame | None:
    return next(
        (lf for lf in labels.labeled_frames if lf.video is video and lf.frame_idx == frame_idx),
        None,
    )


class TemporaryPredictions:
    """Predictions shown for a while (live previews during training), then undone.

    :meth:`show` replaces the predictions of one frame, remembering what was there first;
    :meth:`restore` puts every touched frame back as it was. User instances are never touched.
    """

    def __init__(self, project: Project, video: sio.Video):
        self.project, self.video = project, video
        self._saved: dict[int, list[sio.PredictedInstance]] = {}

    def show(self, prediction: FramePrediction) -> int:
        f = prediction.frame_idx
        if f not in self._saved:
            lf = _frame(self.project.labels, self.video, f)
            self._saved[f] = list(lf.predicted_instances) if lf is not None else []
        return add_predictions(self.project, self.video, [prediction])

    def restore(self) -> None:
        labels = self.project.labels
        for f, saved in self._saved.items():
            lf = _frame(labels, self.video, f)
            if lf is not None:
                lf.instances = [*lf.user_instances, *saved]
        labels.labeled_frames = [lf for lf in labels.labeled_frames if lf.instances]
        if hasattr(labels, "reindex"):
            labels.reindex()
        self._saved.clear()
