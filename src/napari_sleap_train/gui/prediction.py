"""Predicting frames from the dock: a worker, then the predictions as layers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
from napari.qt.threading import thread_worker
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QObject, Signal
from qtpy.QtWidgets import QProgressBar

from ..choices import ModelKind, PredictionMode
from ..errors import SleapTrainError
from ..inference.frames import FrameSelection
from ..models.folder import ModelFolder
from .layers import ProjectLayers, show_predictions


class PredictionJob(QObject):
    """Predicts the selected frames of the project's first video with a run's models.

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
    ):
        super().__init__()
        self.layers, self.models, self.selection, self.mode = layers, models, selection, mode
        self.peak_threshold, self.progress, self.say = peak_threshold, progress, say
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

        def work():
            lazy = LazyVideo(video)
            out = []
            try:
                for pred in predictor.predict_video(lazy, frames, stats=stats):
                    out.append(pred)
                    yield len(out)
            finally:
                lazy.close()
            return out

        self.project = project
        self.worker = thread_worker(work, start_thread=False)()
        self.progress.setRange(0, len(frames))
        self.worker.yielded.connect(self.progress.setValue)
        self.worker.returned.connect(lambda preds: self._show(preds, stats))
        self.worker.errored.connect(self._failed)
        self.worker.finished.connect(self._done)
        self.say(f"Predicting {len(frames)} frames …")
        self.worker.start()
        return True

    def _show(self, preds, stats) -> None:
        from ..inference.results import add_predictions

        project = self.project
        n = add_predictions(project, project.videos[0], preds, mode=self.mode)
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
        self.say(text)
        show_info(text)

    def _failed(self, exc: Exception) -> None:
        show_error(str(exc) if isinstance(exc, SleapTrainError) else f"Prediction failed: {exc}")
        self.say(f"Failed: {exc}")

    def _done(self) -> None:
        self.worker = None
        self.finished.emit()
