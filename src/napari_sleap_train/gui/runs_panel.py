"""Earlier runs: the run folders beside the project, and model folders added by hand."""

from __future__ import annotations

from pathlib import Path

from napari.utils.notifications import show_error, show_warning
from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..errors import SleapTrainError
from ..models.folder import RunFolder, runs_in, runs_root
from .layers import ProjectLayers

FOLDER_ROLE = Qt.ItemDataRole.UserRole


class RunsPanel(QWidget):
    """The runs list; ``predict_requested`` carries the selected :class:`RunFolder`."""

    predict_requested = Signal(object)

    def __init__(self, layers: ProjectLayers, parent: QWidget | None = None):
        super().__init__(parent)
        self.layers = layers
        self.extra: list[RunFolder] = []
        self.runs = QListWidget()
        self.runs.setToolTip("Earlier runs; select one and press Predict to use it.")
        self.predict_button = QPushButton("Predict with selected run")
        self.predict_button.clicked.connect(self._predict_clicked)
        self.add_button = QPushButton("Add model folder…")
        self.add_button.clicked.connect(self._add_dialog)
        buttons = QVBoxLayout()
        buttons.addWidget(self.predict_button)
        buttons.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Runs:"))
        layout.addWidget(self.runs)
        layout.addLayout(buttons)

    def refresh(self) -> None:
        """List the runs beside the project and those added by hand."""
        self.runs.clear()
        try:
            project = self.layers.rebuild()
        except SleapTrainError:
            return
        found = runs_in(runs_root(project.path))
        for run in [*found, *self.extra]:
            item = QListWidgetItem(run.path.name if run in found else str(run.path))
            item.setData(FOLDER_ROLE, str(run.path))
            self.runs.addItem(item)

    def add_run(self, folder: str | Path) -> None:
        """List a models folder trained elsewhere (with a folder per model)."""
        run = RunFolder(Path(folder))
        if not run.has_models(run.pipeline_models()):
            names = " and ".join(f"{k.value}/" for k in run.pipeline_models())
            show_error(f"{run.path} holds no {names} model folders.")
            return
        self.extra.append(run)
        self.refresh()

    def set_busy(self, busy: bool) -> None:
        self.predict_button.setEnabled(not busy)

    def _add_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Models folder")
        if folder:
            self.add_run(folder)

    def _predict_clicked(self) -> None:
        item = self.runs.currentItem()
        if item is None:
            show_warning("Select a run first.")
            return
        self.predict_requested.emit(RunFolder(Path(item.data(FOLDER_ROLE))))
