"""Predicting frames from the dock: a worker, then the predictions as layers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
from napari.qt.threading import thread_worker
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QObject, Signal
from qtpy.QtWidgets import QProgressBar

from ..choices import FrameTarget, ModelKind, PredictionMode
from ..config.parts import TrackingConfig
from ..errors import SleapTrainError
from ..inference.frames import FrameSelection
from ..models.folder import ModelFolder
from .layers import ProjectLayers, show_predictions

TRACKED_TARGETS = (FrameTarget.ALL, FrameTarget.RANGE)


class PredictionJob(QObject):
    """Predicts the selected frames of the project's first video with a run's models, and
    tracks them when ``tracking`` is on and the frames are an entire video or a range.

    ``finished`` is emitted when the worker ended (also after an error).
    """

    finished = Signal()

    def __init__(
        self,
        layers: ProjectLayers,
        models: Mapping[ModelKind, ModelFolder | Path],
        selection: FrameSelection,
        mode: PredictionMode,
        peak_threshold: float,
        progress: QProgressBar,
        say: Callable[[str], None],
        tracking: TrackingConfig | None = None,
    ):
        super().__init__()
        self.layers, self.models, self.selection, self.mode = layers, models, selection, mode
        self.peak_threshold, self.progress, self.say = peak_threshold, progress, say
        self.tracking = tracking
        self.note = ""
        self.project = None
        self.worker = None

    def start(self) -> bool:
        """Start predicting; False (with a message) when there is nothing to predict."""
        from ..inference.frames import select_frames
        from ..inference.topdown import PredictionStats, TopDownPredictor
        from ..video import LazyVideo

        try:
            project = self.layers.rebuild()
            predictor = TopDownPredictor.from_folders(
                self.models, peak_threshold=self.peak_threshold
            )
            predictor.check_skeleton(project.node_names)
            video = project.videos[0]
            frames = select_frames(project, video, self.selection)
        except SleapTrainError as exc:
            show_error(str(exc))
            return False
        if not frames:
            show_warning("No frames to predict on for this choice (they may all be labelled).")
            return False
        stats = PredictionStats()
        track = self.tracking is not None and self.tracking.enabled
        if track and self.selection.target not in TRACKED_TARGETS:
            track = False
            self.note = (
                f" Not tracked: {self.selection.target.label} are not consecutive; predict "
                "the entire video or a frame range to track."
            )

        def work():
            from ..inference.results import add_predictions
            from ..tracking import track_video

            lazy = LazyVideo(video)
            out = []
            try:
                for pred in predictor.predict_video(lazy, frames, stats=stats):
                    out.append(pred)
                    yield len(out)
                n = add_predictions(project, video, out, mode=self.mode)
                summary = None
                if track and n:
                    span = (frames[0], frames[-1] + 1)
                    try:
                        summary = track_video(
                            project.labels, video, self.tracking, lazy.frame, frame_range=span
                        )
                    except SleapTrainError as exc:  # the predictions still show
                        self.note = f" Not tracked: {exc}"
            finally:
                lazy.close()
            return out, n, summary

        self.project = project
        self.worker = thread_worker(work, start_thread=False)()
        self.progress.setRange(0, len(frames))
        self.worker.yielded.connect(self.progress.setValue)
        self.worker.returned.connect(lambda result: self._show(*result, stats))
        self.worker.errored.connect(self._failed)
        self.worker.finished.connect(self._done)
        self.say(f"Predicting {len(frames)} frames …")
        self.worker.start()
        return True

    def _show(self, preds, n, summary, stats) -> None:
        project = self.project
        with self.layers.quiet():
            show_predictions(self.layers.viewer, project)
        if preds:
            self.layers.viewer.dims.set_current_step(0, preds[0].frame_idx)
        scores = np.concatenate([p.scores for p in preds]) if preds else np.zeros(0)
        mean = scores.mean() if len(scores) else float("nan")
        text = (
            f"Predicted {stats.frames} frames: {n} instances, mean score {mean:.2f} "
            f"({stats.fps:.1f} frames/s)."
        )
        if summary is not None:
            text += f" {summary.text()}"
        text += self.note
        self.say(text)
        show_info(text)

    def _failed(self, exc: Exception) -> None:
        show_error(str(exc) if isinstance(exc, SleapTrainError) else f"Prediction failed: {exc}")
        self.say(f"Failed: {exc}")

    def _done(self) -> None:
        self.worker = None
        self.finished.emit()
