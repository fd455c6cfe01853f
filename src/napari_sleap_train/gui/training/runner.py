"""Run, Stop and Cancel: starts a training run, answers its question, then predicts."""

from __future__ import annotations

from pathlib import Path

from napari.utils.notifications import show_error
from qtpy.QtCore import Signal
from qtpy.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ...choices import FrameTarget, StartFrom
from ...errors import SleapTrainError
from ...inference.frames import FrameSelection
from ...io.project import Project
from ...models.folder import RunFolder, runs_in, runs_root
from ..last_config import save_last_config
from ..layers.project_layers import ProjectLayers
from .monitor import TrainingMonitor
from .prediction import PredictionJob
from .settings_panel import SettingsPanel
from .training_run import TrainingRun


def device_text() -> str:
    """Which device trains, in words."""
    import torch

    if torch.cuda.is_available():
        return f"Training on the GPU: {torch.cuda.get_device_name(0)}."
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "Training on the Apple GPU (MPS)."
    return (
        "Training on the CPU (no GPU found): the fast CPU preset trains both models "
        "within its time budget; the time per epoch is measured once training starts."
    )


class RunnerPanel(QWidget):
    """The buttons of a run, the question after Stop and the status line.

    ``busy_changed`` tells whether a run or a prediction is under way; ``run_ended`` is
    emitted when a run (and the prediction after it) is over.
    """

    busy_changed = Signal(bool)
    run_ended = Signal()

    def __init__(self, layers: ProjectLayers, settings: SettingsPanel, monitor: TrainingMonitor):
        super().__init__()
        self.layers, self.settings, self.monitor = layers, settings, monitor
        self.run: TrainingRun | None = None
        self.job: PredictionJob | None = None
        self.status_log: list[str] = []
        self.device_label = QLabel(device_text())
        self.device_label.setWordWrap(True)
        self.run_button = QPushButton("Run")
        self.stop_button = QPushButton("Stop")
        self.cancel_button = QPushButton("Cancel")
        self.stop_button.setToolTip(
            "End the current model now and keep its best checkpoint; you then choose to go "
            "on to the next model or to predict with what is trained."
        )
        self.cancel_button.setToolTip("End training now; models trained so far are kept.")
        self.again_button = QPushButton("Train again")
        self.again_button.setToolTip(
            "Fine-tune every model from the last run's best weights on the labels as they are "
            "now (corrected and accepted predictions included): a round of the labelling loop."
        )
        self.run_button.clicked.connect(self.start_run)
        self.again_button.clicked.connect(self.train_again)
        self.stop_button.clicked.connect(self.stop)
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        for b in (self.run_button, self.again_button, self.stop_button, self.cancel_button):
            buttons.addWidget(b)
        self.offer = QWidget()
        offer = QHBoxLayout(self.offer)
        offer.setContentsMargins(0, 0, 0, 0)
        self.offer_label = QLabel()
        self.offer_label.setWordWrap(True)
        self.go_on_button = QPushButton("Train next model")
        self.finish_button = QPushButton("Predict now")
        self.go_on_button.clicked.connect(lambda: self._answer(True))
        self.finish_button.clicked.connect(lambda: self._answer(False))
        for w in (self.offer_label, self.go_on_button, self.finish_button):
            offer.addWidget(w)
        self.offer.hide()
        self.status = QLabel("Ready.")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for item in (self.device_label, buttons, self.offer, self.status):
            if isinstance(item, QHBoxLayout):
                layout.addLayout(item)
            else:
                layout.addWidget(item)
        self.update_buttons()

    @property
    def busy(self) -> bool:
        """Whether a run or a prediction is under way."""
        running = self.run is not None and self.run.worker is not None
        return running or (self.job is not None and self.job.worker is not None)

    @property
    def run_dir(self) -> Path | None:
        """The folder of the current (or last) run."""
        return self.run.plan.run.path if self.run is not None else None

    @property
    def project(self) -> Project | None:
        """The project of the last prediction (or run), with its predictions."""
        if self.job is not None and self.job.project is not None:
            return self.job.project
        return self.run.project if self.run is not None else None

    def say(self, text: str) -> None:
        """Show a status line (the last 50 are kept for the record)."""
        self.status.setText(text)
        self.status_log = [*self.status_log[-49:], text]

    def update_buttons(self) -> None:
        busy = self.busy
        self.run_button.setEnabled(not busy and not self.settings.problems())
        self.again_button.setEnabled(self.run_button.isEnabled())
        self.stop_button.setEnabled(busy and self.job is None)
        self.cancel_button.setEnabled(busy and self.job is None)
        self.busy_changed.emit(busy)

    # ----- a run ---------------------------------------------------------------------
    def train_again(self) -> None:
        """Run, each model fine-tuned from the newest run's model of its kind (a model the
        newest run lacks starts as its tab says)."""
        kinds = tuple(self.settings.config().models)
        try:
            runs = runs_in(runs_root(self.layers.rebuild().path), kinds)
        except SleapTrainError as exc:
            show_error(str(exc))
            return
        if not runs:
            self.say(
                f"No earlier run with trained {' and '.join(k.label for k in kinds)}s to start "
                "from: press Run to train the first models."
            )
            return
        last = runs[-1]
        widgets = self.settings.form.widgets
        for kind in kinds:
            if last.has_models((kind,)):
                widgets[f"{kind.value}.start"].value = StartFrom.FINE_TUNE
                widgets[f"{kind.value}.previous"].value = last.model(kind).path
        self.say(f"Training again from {last.path.name} …")
        self.start_run()

    def start_run(self) -> None:
        """Train the models the tabs ask for in a worker, then predict."""
        from ...training.pipeline import plan_run

        if self.busy:
            return
        settings = self.settings.settings()
        try:
            config = settings.config.validate()
            project = self.layers.rebuild()
        except SleapTrainError as exc:
            show_error(str(exc))
            return
        save_last_config(config)
        starts = {k: (s.start, s.earlier()) for k, s in settings.starts.items()}
        plan = plan_run(RunFolder.new(runs_root(project.path)), tuple(config.models), starts)
        self.job = None
        self.run = TrainingRun(self.layers, project, config, plan, self.monitor, self.say)
        self.run.offered.connect(self._offer)
        self.run.finished.connect(self._run_finished)
        self.run.start()
        self.update_buttons()

    def stop(self) -> None:
        if self.run is not None and self.run.worker is not None:
            self.run.stop()

    def cancel(self) -> None:
        if self.run is not None and self.run.worker is not None:
            self.run.cancel()
        self._answer(False)

    def _offer(self, event) -> None:
        self.offer_label.setText(
            f"{event.model.label} stopped; its best checkpoint is saved. Train the "
            f"{event.next_model.label} next, or stop here and predict?"
        )
        self.go_on_button.setText(f"Train {event.next_model.label}")
        can_predict = all(self.run.has_model(k) for k in self.run.config.models)
        self.finish_button.setText("Predict now" if can_predict else "Finish here")
        self.offer.show()

    def _answer(self, go_on: bool) -> None:
        self.offer.hide()
        if self.run is not None:
            self.run.answer(go_on)

    def _run_finished(self) -> None:
        run = self.run
        self.offer.hide()
        self.update_buttons()
        settings = self.settings.settings()
        selection = settings.after.selection(self.layers.current_frame())
        if run.failed or run.cancelled or selection is None:
            self.run_ended.emit()
            return
        missing = [k.label for k in run.config.models if not run.has_model(k)]
        if missing:
            self.say(
                f"Not predicting: no {' or '.join(missing)} was trained. Run again, or pick "
                "a trained model in its tab (Start from: use trained model)."
            )
            self.run_ended.emit()
            return
        if not self.predict(run.folders):
            self.run_ended.emit()

    # ----- prediction ------------------------------------------------------------------
    def predict(self, models) -> bool:
        """Predict the frames the pipeline tab asks for (the suggested frames when it asks
        for nothing) with ``models``; False when nothing was started."""
        if self.busy:
            return False
        settings = self.settings.settings()
        selection = settings.after.selection(self.layers.current_frame())
        if selection is None:
            selection = FrameSelection(FrameTarget.SUGGESTED)
        self.job = PredictionJob(
            self.layers,
            models,
            selection,
            settings.after.existing,
            settings.config.pipeline.peak_threshold,
            self.monitor.progress,
            self.say,
            tracking=settings.config.tracking,
            videos=settings.after.videos,
        )
        self.job.finished.connect(self._predicted)
        started = self.job.start()
        self.update_buttons()
        return started

    def _predicted(self) -> None:
        self.update_buttons()
        self.run_ended.emit()

    def shutdown(self) -> None:
        """Stop any worker and wait for it (closing the dock or the viewer)."""
        if self.run is not None:
            self.run.shutdown()
        if self.job is not None and self.job.worker is not None:
            self.job.worker.quit()
            self.job.worker.await_workers(msecs=5000)
