"""One training run in the dock, from Run to its end; thrown away afterwards.

It owns the worker, its stop tokens, the question after Stop (train the next model or
finish), the live previews of the predictions layer and how the run ended. The engine's
events are turned into monitor updates and status lines; the worker never touches
layers: previews are drawn here, in the main thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import QObject, Signal

from ...config import TrainingConfig
from ...errors import SleapTrainError
from ...io.project import Project
from ..layers.project_layers import ProjectLayers, show_predictions
from ..workers import cause, worker
from .monitor import TrainingMonitor

HINTS = {"Out of memory": "Lower Batch Size or Input Scaling."}


def error_text(exc: BaseException) -> str:
    """What to tell the user about a failed worker."""
    message = str(exc)
    if isinstance(exc, SleapTrainError):
        hint = next((h for k, h in HINTS.items() if k in message), "")
        return message + (f" {hint}" if hint and hint not in message else "")
    return f"Training failed: {type(exc).__name__}: {exc}"


class TrainingRun(QObject):
    """A run of the pipeline's models in a napari thread worker.

    ``offered`` carries the question after a user's Stop (a ``NextModelOffered``);
    ``finished`` is emitted once, after the worker ended and the previews are undone.
    """

    offered = Signal(object)
    finished = Signal()

    def __init__(
        self,
        layers: ProjectLayers,
        project: Project,
        config: TrainingConfig,
        plan,
        monitor: TrainingMonitor,
        say: Callable[[str], None],
    ):
        super().__init__()
        from ...training import StopToken

        self.layers, self.project, self.config, self.plan = layers, project, config, plan
        self.monitor, self.say = monitor, say
        self.stop_all, self.stop_model = StopToken(), StopToken()
        self.failed = self.cancelled = False
        self.preview_frame = layers.current_frame()
        self.video_index = layers.video_index  # the video shown when Run was pressed
        self._choice = None
        self._started = None
        self._estimated = False
        self._previews = None
        self.worker = None

    @property
    def folders(self):
        """The model folder of each model of the run."""
        return self.plan.folders

    def has_model(self, kind) -> bool:
        folder = self.folders.get(kind)
        return folder is not None and folder.best.exists()

    def start(self) -> None:
        from ...training.pipeline import pipeline_events

        plan = self.plan

        def events():
            yield from pipeline_events(
                self.project,
                self.config,
                plan.run.path,
                stop=self.stop_all,
                next_model=self.stop_model,
                models=plan.train,
                init_weights=plan.init_weights,
                trained=plan.trained,
                resume=plan.resume,
                preview_frame=lambda: self.preview_frame,
                preview_video=self.video_index,
            )

        self._redraw_predictions()  # create the layer now: adding one later stalls the viewer
        self.monitor.set_budget(self.config.pipeline.time_budget_minutes)
        self.worker = worker(events)
        self.worker.yielded.connect(self._on_event)
        self.worker.errored.connect(self._on_error)
        self.worker.finished.connect(self._on_finished)
        self.say(f"Training into {plan.run.path} …")
        self.worker.start()

    def stop(self) -> None:
        """End the current model now (its best checkpoint is kept), then offer what next."""
        self.stop_model.request()
        self.say("Stopping after this batch; the best checkpoint is kept …")

    def cancel(self) -> None:
        """End training now; nothing is predicted."""
        self.stop_all.request()
        self.cancelled = True
        self.answer(False)

    def answer(self, go_on: bool) -> None:
        """Answer the question after Stop: train the next model, or finish here."""
        choice, self._choice = self._choice, None
        if choice is not None:
            choice.answer(go_on)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the worker and wait for it (the dock or the viewer is closing)."""
        self.stop_all.request()
        self.answer(False)
        worker, self.worker = self.worker, None
        if worker is not None:
            for signal in (worker.yielded, worker.errored, worker.finished):
                with contextlib.suppress(TypeError, RuntimeError):  # none connected
                    signal.disconnect()
            worker.quit()
            worker.await_workers(msecs=int(timeout * 1000))

    # ----- events ------------------------------------------------------------------
    def _on_event(self, event) -> None:
        from ...training import (
            BatchEnded,
            EpochEnded,
            NextModelOffered,
            PreviewPredicted,
            RunNoted,
            TrainingFinished,
            TrainingStarted,
        )

        if isinstance(event, RunNoted):
            self.say(" ".join(event.notes))
            for note in event.notes:
                show_info(note)
        elif isinstance(event, BatchEnded):
            self.monitor.batch(event.epoch, event.batch, event.loss)
            started = self._started
            if not self._estimated and event.batch >= min(4, started.batches_per_epoch - 1):
                self._estimated = True
                self.say(self._estimate(event))
        elif isinstance(event, EpochEnded):
            self.monitor.epoch(
                event.epoch,
                event.train_loss,
                event.val_loss,
                event.is_best,
                event.epochs_without_improvement,
                event.metrics,
            )
        elif isinstance(event, TrainingStarted):
            self._started, self._estimated = event, False
            patience = self.config.model(event.model).optimization.early_stopping_patience
            self.monitor.start(event.model.label, event.epochs, event.batches_per_epoch, patience)
            for note in event.notes:
                show_info(note)
        elif isinstance(event, PreviewPredicted):
            self._show_preview(event)
        elif isinstance(event, NextModelOffered):
            self._choice = event.choice
            self.offered.emit(event)
        elif isinstance(event, TrainingFinished):
            self.say(
                f"{event.model.label}: {event.reason} after {event.epochs} epochs; best val "
                f"loss {event.best_val_loss:.3g} (epoch {event.best_epoch})."
            )

    def _estimate(self, event) -> str:
        """Time per epoch and for the whole model, from the steps measured so far."""
        started = self._started
        per_epoch = event.elapsed / (event.batch + 1) * started.batches_per_epoch
        total = per_epoch * started.epochs
        limit = self.config.model(event.model).optimization.time_limit_minutes
        budget = self.config.pipeline.time_budget_minutes
        if budget is not None and (limit is None or budget < limit):
            cap = f", capped at {budget:g} min by the time budget of the run"
            total = min(total, budget * 60)
        else:
            cap = f", capped at {limit:g} min by the time limit" if limit else ""
            total = min(total, limit * 60) if limit else total
        where = "CPU" if started.device == "cpu" else started.device
        return (
            f"{event.model.label} on the {where}: about {per_epoch:.0f} s per epoch "
            f"(measured on the first batches); at most {_minutes(total)} for "
            f"{started.epochs} epochs{cap}, less when early stopping ends it."
        )

    def _show_preview(self, event) -> None:
        """Refresh the predictions on the previewed frame with the best models so far."""
        from ...inference.results import TemporaryPredictions

        if self._previews is None:
            video = self.project.videos[self.video_index]
            self._previews = TemporaryPredictions(self.project, video)
        self._previews.show(event.prediction)
        try:
            self._redraw_predictions()
        finally:
            event.shown.set()

    def _redraw_predictions(self) -> None:
        with self.layers.quiet():
            show_predictions(self.layers.viewer, self.project, self.video_index)

    def _on_error(self, exc: Exception) -> None:
        exc = cause(exc)
        show_error(error_text(exc))
        self.say(f"Failed: {error_text(exc)}")
        self.failed = True

    def _on_finished(self) -> None:
        self.worker = None
        self.answer(False)
        if self._previews is not None:  # only real predictions stay in the project
            self._previews.restore()
            self._previews = None
            self._redraw_predictions()
        if self.cancelled:
            self.say("Cancelled; models trained so far are kept.")
        self.finished.emit()


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"
