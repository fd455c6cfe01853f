"""Predicting frames from the dock: a worker, then the predictions as layers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QObject, Signal
from qtpy.QtWidgets import QProgressBar

from ...choices import FrameTarget, ModelKind, PredictionMode, Smoothing, VideoScope
from ...config.tracking import TrackingConfig
from ...errors import SleapTrainError
from ...inference.frames import FrameSelection
from ...models.folder import ModelFolder
from ...tracking.spreads import Spreads
from ..layers.project_layers import (
    ProjectLayers,
    show_predictions,
    show_raw_predictions,
    show_uncertainty,
)
from ..workers import cause, worker

TRACKED_TARGETS = (FrameTarget.ALL, FrameTarget.RANGE)


class PredictionJob(QObject):
    """Predicts the selected frames of the current video (or of every video) with a run's
    models, and tracks them when ``tracking`` is on and the frames are an entire video or a
    range.

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
        videos: VideoScope = VideoScope.CURRENT,
    ):
        super().__init__()
        self.layers, self.models, self.selection, self.mode = layers, models, selection, mode
        self.peak_threshold, self.progress, self.say = peak_threshold, progress, say
        self.tracking, self.videos = tracking, VideoScope(videos)
        self.notes: list[str] = []
        self.scores: list[float] = []
        self.smoothed: dict[int, object] = {}  # video index: raw labels
        self.uncertainty: dict[int, dict] = {}  # video index: (frame, track) -> px
        self.spreads = Spreads()  # an ensemble's, per instance
        self.project = None
        self.worker = None

    def start(self) -> bool:
        """Start predicting; False (with a message) when there is nothing to predict."""
        from ...inference.frames import select_frames
        from ...inference.pipelines import predictor_for
        from ...inference.topdown import PredictionStats

        try:
            project = self.layers.rebuild()
            predictor = predictor_for(self.models, peak_threshold=self.peak_threshold)
            predictor.check_skeleton(project.node_names)
            indices = (
                range(len(project.videos))
                if self.videos is VideoScope.ALL
                else [self.layers.video_index]
            )
            todo = [(i, select_frames(project, project.videos[i], self.selection)) for i in indices]
        except SleapTrainError as exc:
            show_error(str(exc))
            return False
        todo = [(i, frames) for i, frames in todo if frames]
        if not todo:
            show_warning(self._nothing_to_predict(project, indices))
            return False
        stats = PredictionStats()
        track = self.tracking is not None and self.tracking.enabled
        if track and self.selection.target not in TRACKED_TARGETS:
            track = False
            self.notes.append(
                f"Not tracked: {self.selection.target.label} are not consecutive; predict "
                "the entire video or a frame range to track."
            )
        total = sum(len(frames) for _, frames in todo)

        def work():
            done, added, summaries = 0, 0, []
            for index, frames in todo:
                n, summary = yield from self._predict_video(
                    project, index, frames, predictor, stats, track, done
                )
                done += len(frames)
                added += n
                summaries.append(summary)
            return todo, added, summaries

        self.project = project
        self.worker = worker(work)
        self.progress.setRange(0, total)
        self.worker.yielded.connect(self.progress.setValue)
        self.worker.returned.connect(lambda result: self._show(*result, stats))
        self.worker.errored.connect(self._failed)
        self.worker.finished.connect(self._done)
        where = f" in {len(todo)} videos" if len(todo) > 1 else ""
        self.say(f"Predicting {total} frames{where} …")
        self.worker.start()
        return True

    def _nothing_to_predict(self, project, indices) -> str:
        """Why the frame choice leaves nothing to predict on."""
        target = self.selection.target
        if target is FrameTarget.SUGGESTED:
            suggested = {id(s.video) for s in project.labels.suggestions}
            if not any(id(project.videos[i]) in suggested for i in indices):
                return (
                    "This video has no suggested frames: suggest frames in the Label & "
                    "Suggest dock, or choose other frames to predict on."
                )
            return "Every suggested frame of this video is labelled: choose other frames."
        if target is FrameTarget.LABELED:
            return "This video has no labelled frames: choose other frames to predict on."
        return f"No frames to predict on for {target.label}: choose other frames."

    def _predict_video(self, project, index, frames, predictor, stats, track, done):
        """Predict (and track) one video in the worker, yielding the frames done so far."""
        from ...inference.results import add_predictions
        from ...io.video import LazyVideo
        from ...tracking import track_video

        video = project.videos[index]
        lazy = LazyVideo(video)
        out, summary = [], None
        try:
            for pred in predictor.predict_video(lazy, frames, stats=stats):
                out.append(pred)
                self.scores.extend(float(x) for x in pred.scores)
                yield done + len(out)
            n = add_predictions(project, video, out, mode=self.mode, spreads=self.spreads)
            if track and n:
                span = (frames[0], frames[-1] + 1)
                try:
                    summary = track_video(
                        project.labels, video, self.tracking, lazy.frame, frame_range=span
                    )
                except SleapTrainError as exc:  # the predictions still show
                    self.notes.append(f"Not tracked: {exc}")
            if n and self._smooths():
                self._smooth(project, index)
            elif n and self.spreads:
                self.uncertainty[index] = self.spreads.by_frame_and_track(project.labels, video)
        finally:
            lazy.close()
        return n, summary

    def _smooths(self) -> bool:
        """Whether the predictions are smoothed over time (frames in a row only)."""
        on = self.tracking is not None and Smoothing(self.tracking.smoothing) is not Smoothing.NONE
        return on and self.selection.target in TRACKED_TARGETS

    def _smooth(self, project, index: int) -> None:
        """Smooth one video's predictions, keeping a copy of the raw ones."""
        from ...tracking.smoothing import predictions_copy, smooth_video

        video, tracking = project.videos[index], self.tracking
        raw = predictions_copy(project.labels, video)
        try:
            done = smooth_video(
                project.labels,
                video,
                tracking.smoothing,
                tracking.max_gap,
                tracking.smoothing_window,
                self.spreads,
            )
        except SleapTrainError as exc:  # the raw predictions still show
            self.notes.append(f"Not smoothed: {exc}")
            return
        self.smoothed[index] = raw
        self.uncertainty[index] = done.uncertainty
        self.notes.append(done.text())

    def _show(self, todo, n, summaries, stats) -> None:
        project = self.project
        with self.layers.quiet():
            for index, _ in todo:
                show_predictions(self.layers.viewer, project, index)
                if self.uncertainty.get(index):
                    show_uncertainty(self.layers.viewer, project, index, self.uncertainty[index])
                if index in self.smoothed:
                    show_raw_predictions(self.layers.viewer, project, index, self.smoothed[index])
        current = [frames for index, frames in todo if index == self.layers.video_index]
        if current:
            self.layers.viewer.dims.set_current_step(0, current[0][0])
        where = f" in {len(todo)} videos" if len(todo) > 1 else ""
        if self.scores:
            mean = sum(self.scores) / len(self.scores)
            found = f"{n} instances, mean score {mean:.2f}"
        else:
            found = "no animal found (train longer, or lower the peak threshold)"
        text = f"Predicted {stats.frames} frames{where}: {found} ({stats.fps:.1f} frames/s)."
        text += "".join(f" {s.text()}" for s in summaries if s is not None)
        text += "".join(f" {note}" for note in self.notes)
        self.say(text)
        show_info(text)

    def _failed(self, exc: Exception) -> None:
        exc = cause(exc)
        show_error(str(exc) if isinstance(exc, SleapTrainError) else f"Prediction failed: {exc}")
        self.say(f"Failed: {exc}")

    def _done(self) -> None:
        self.worker = None
        self.finished.emit()
