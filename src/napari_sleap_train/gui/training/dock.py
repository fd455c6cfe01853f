"""The "Run Training…" dock: SLEAP's training dialog as napari docks.

A small container that wires panels with one job each: the settings tabs
(:mod:`.settings_panel`), the previews on the labels (:mod:`.previews`), Run/Stop/Cancel
(:mod:`.runner`, one :mod:`.training_run` per run) and, in a dock of their own below the
canvas, the training monitor and the earlier runs (:mod:`.monitor`, :mod:`.runs_panel`).
"""

from __future__ import annotations

import contextlib
import gc
from pathlib import Path

from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import QEvent, Qt
from qtpy.QtWidgets import QFileDialog, QHBoxLayout, QVBoxLayout, QWidget

from ...config import pipeline_for_counts
from ...errors import SleapTrainError
from .. import DOCK_WIDTH
from ..dock_tabs import join_plugin_tabs
from ..layers import frame_view
from ..layers.project_layers import ProjectLayers
from ..layers.video_switcher import VideoSwitcher
from ..workers import cause, worker
from .monitor import TrainingMonitor
from .previews import CROP_LAYER, RF_LAYER, PreviewPanel
from .runner import RunnerPanel
from .runs_panel import RunsPanel
from .settings_panel import SettingsPanel
from .training_inputs import show_training_inputs

__all__ = ["CROP_LAYER", "RF_LAYER", "TrainingDock"]
MONITOR_TITLE = "Training Monitor"


def warm_up_torch() -> None:
    """Run one optimiser step here, so its one-off imports do not stall the GUI later.

    The first ``Adam.step`` of a process imports parts of torch while holding the GIL;
    done inside the training worker it froze the viewer for ~0.2 s.
    """
    import torch

    param = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([param])
    (param * 2).sum().backward()
    opt.step()
    # The objects of napari, Qt and torch live for the whole session: move them out of the
    # garbage collector's reach, so its full passes (0.5 s and more here) stay short.
    gc.collect()
    gc.freeze()


class TrainingDock(QWidget):
    """Settings, previews and Run/Stop/Cancel; the monitor and runs dock below the canvas."""

    def __init__(self, napari_viewer):
        super().__init__()
        warm_up_torch()
        self.viewer = napari_viewer
        frame_view.watch(napari_viewer)
        self.layers = ProjectLayers(napari_viewer)
        self.settings = SettingsPanel()
        self.previews = PreviewPanel(self.layers, self.settings)
        self.monitor = TrainingMonitor()
        self.runs = RunsPanel(self.layers)
        self.runner = RunnerPanel(self.layers, self.settings, self.monitor)
        self.settings.add_button("Read settings from the data again", self.settings_from_data)
        self.settings.add_button("View Training Image Inputs…", self.view_training_inputs)
        self.settings.add_button("Export training job…", self._export_job_dialog)
        self.setMaximumWidth(DOCK_WIDTH)
        join_plugin_tabs(self, "training")
        self.video_switcher = VideoSwitcher(napari_viewer)
        self.video_switcher.changed.connect(self._video_changed)
        layout = QVBoxLayout(self)
        layout.addWidget(self.video_switcher)
        layout.addWidget(self.settings, 1)  # the form takes the dock's height, not a gap
        layout.addWidget(self.runner)
        self.monitor_panel = QWidget()
        below = QHBoxLayout(self.monitor_panel)
        below.addWidget(self.monitor, 3)
        below.addWidget(self.runs, 1)
        self._monitor_dock = None
        window = getattr(napari_viewer, "window", None)
        if window is not None:
            self._monitor_dock = window.add_dock_widget(
                self.monitor_panel, name=MONITOR_TITLE, area="bottom"
            )
            # The side docks keep the bottom corners, so the monitor spans the canvas only
            # and the window need not grow taller than the side docks.
            main = self._monitor_dock.parentWidget()  # the main window
            main.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
            main.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)

        self.settings.changed.connect(self._settings_changed)
        self.settings.tabs.currentChanged.connect(lambda *_: self.previews.update())
        self.runner.busy_changed.connect(self.runs.set_busy)
        self.runner.run_ended.connect(self.runs.refresh)
        self.runs.predict_requested.connect(
            lambda run: self.runner.predict(run.models(run.pipeline_models()))
        )
        self.settings.auto_kind = lambda: pipeline_for_counts(*self.previews.counts()[:2])
        self.settings.track_counts = lambda: self.previews.table().track_counts()
        self.settings.video_length = self._video_length
        napari_viewer.dims.events.current_step.connect(self._frame_changed)
        napari_viewer.layers.events.inserted.connect(self._layers_changed)
        napari_viewer.layers.events.removed.connect(self._layers_changed)
        self._watched = None
        self._auto_pending = False
        self._last_frame: int | None = None
        self._closer = _Closer(self.runner, window, self._monitor_dock, napari_viewer)
        self.destroyed.connect(self._closer.close)
        self.monitor_panel.destroyed.connect(self._closer.close)
        self._layers_changed()
        self.runs.refresh()

    def _video_length(self) -> int | None:
        video = self.layers.video
        return None if video is None else int(video.data.shape[0])

    # ----- wiring ----------------------------------------------------------------------
    def _settings_changed(self) -> None:
        self.runner.update_buttons()
        self.previews.update()

    def _frame_changed(self, *_) -> None:
        frame = self.layers.current_frame()
        if self.runner.run is not None:
            self.runner.run.preview_frame = frame
        if frame != self._last_frame:
            self._last_frame = frame
            self.previews.update()

    def _video_changed(self, _index: int) -> None:
        self._layers_changed()
        self.previews.labels_edited()

    def _layers_changed(self, *_) -> None:
        if self.layers.busy:
            return
        self.video_switcher.refresh()
        layer = self.layers.labels
        if layer is not self._watched:  # another labels layer: count and preview it
            self._watched = layer
            if layer is not None:
                layer.events.data.connect(self._labels_edited)
                layer.events.features.connect(self._labels_edited)  # e.g. a track given
            self.settings.set_nodes(self.layers.node_names())
            self.previews.labels_edited()
            self.settings.labels_changed()
            self._auto_pending = layer is not None
            self._settings_from_data_once()
        self.runner.update_buttons()

    def _settings_from_data_once(self) -> None:
        """The settings from the data, read once per labels layer, as soon as it holds a
        labelled animal (the button reads them again; edits made after stay)."""
        if self._auto_pending and self.runner.run is None and self.previews.counts()[1]:
            self._auto_pending = False
            self.settings_from_data()

    def _labels_edited(self, event=None) -> None:
        action = str(getattr(event, "action", "") or "").lower()
        if not action.endswith("ing"):  # redraw after a change, not at its "…ing" event
            self.previews.labels_edited()
            self.settings.labels_changed()
            self._settings_from_data_once()

    # ----- actions ---------------------------------------------------------------------
    def settings_from_data(self) -> list[str]:
        """Set input scaling, max stride and the crop's scaling from the frame size and the
        labelled animals; the reasons are shown under the buttons (and returned)."""
        from ...data.auto_settings import settings_from_data
        from ...models.device import resolve_device

        config, hw = self.settings.config(), self.layers.video_shape()
        if hw is None:
            notes = ["Open a video and its labels first."]
        else:
            cpu = resolve_device(config.device).type == "cpu"
            xy = self.previews.table().visible_xy()
            config, notes = settings_from_data(config, xy, hw, cpu)
            self.settings.show_config(config)
        self.settings.auto_label.setText("Settings from the data:\n" + "\n".join(notes))
        return notes

    def view_training_inputs(self, n: int = 6) -> list:
        """Add augmented training samples and their target maps as layers."""
        try:
            config = self.settings.config().validate()
            return show_training_inputs(self.viewer, self.layers.rebuild(), config, n)
        except SleapTrainError as exc:
            show_error(str(exc))
            return []

    def export_job(self, path: str | Path):
        """Write a training job (.zip) in a worker; returns the worker."""
        from ...io.jobs import export_job, job_commands

        try:
            config = self.settings.config().validate()
            project = self.layers.rebuild()
        except SleapTrainError as exc:
            show_error(str(exc))
            return None
        job = worker(export_job, project, config, path)

        def done(out: Path) -> None:
            self.runner.say(f"Training job written to {out}. Run it with: {job_commands(out.name)}")
            show_info(f"Training job written to {out}.")

        job.returned.connect(done)
        job.errored.connect(lambda exc: show_error(f"Could not export the job: {cause(exc)}"))
        self.runner.say(f"Exporting the training job to {path} …")
        job.start()
        return job

    def _export_job_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export training job", "training_job.zip", "Training job (*.zip)"
        )
        if path:
            self.export_job(path)

    # ----- closing ---------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop any worker and wait for it (closing the dock or the viewer)."""
        self.runner.shutdown()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.shutdown()
        super().closeEvent(event)

    def event(self, event) -> bool:
        """The dock's × takes this widget out of its dock (napari does not delete it): then
        stop the run and remove what the dock added, as closing the viewer does."""
        if event.type() == QEvent.Type.ParentChange and self.parent() is None:
            self._closer.close()
        return super().event(event)


class _Closer:
    """Stops the run and removes the monitor dock once the dock is gone (a plain object, so
    it is still reachable when Qt has deleted the dock's widgets)."""

    def __init__(self, runner: RunnerPanel, window, monitor_dock, viewer=None) -> None:
        self.runner, self.window, self.monitor_dock = runner, window, monitor_dock
        self.viewer = viewer

    def close(self, *_) -> None:
        self.runner.shutdown()
        dock, self.monitor_dock = self.monitor_dock, None
        if dock is not None:
            with contextlib.suppress(RuntimeError, AttributeError, ValueError, KeyError):
                self.window.remove_dock_widget(dock)  # fails while the window closes
        viewer, self.viewer = self.viewer, None
        if viewer is not None:  # the previews the dock drew
            with contextlib.suppress(RuntimeError, AttributeError, ValueError, KeyError):
                for name in (CROP_LAYER, RF_LAYER):
                    if name in viewer.layers:
                        viewer.layers.remove(name)
