"""Saving the project and exporting its poses (.slp, SLEAP analysis HDF5, CSV, a movement
dataset)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QLabel,
    QPushButton,
)

from ...errors import SleapTrainError
from ...io.export import export_labels
from ...io.project import Project
from ..layers.project_layers import ProjectLayers, set_project, show_predictions

EXPORT_FORMATS = {
    "slp": "SLEAP project (*.slp)",
    "analysis-h5": "SLEAP analysis HDF5 (*.h5)",
    "csv": "CSV (*.csv)",
    "movement": "movement dataset (*.nc)",
}
EXPORT_SUFFIXES = {
    "slp": ".predictions.slp",
    "analysis-h5": ".analysis.h5",
    "csv": ".csv",
    "movement": ".movement.nc",
}


class SavePanel(QGroupBox):
    """Save project, Save as…, and the exports of predictions."""

    def __init__(
        self,
        layers: ProjectLayers,
        say: Callable[..., None],
        current_project: Callable[[], Project | None],
        saved: Callable[[], None],
    ):
        super().__init__("Save and export")
        self.layers, self.say = layers, say
        self.current_project, self.saved = current_project, saved
        self.save_button = QPushButton("Save project")
        self.save_button.setToolTip(
            "Write the .slp (through a temporary file; the previous file is kept as .bak)."
        )
        self.save_button.clicked.connect(self._save_clicked)
        self.save_as_button = QPushButton("Save as…")
        self.save_as_button.clicked.connect(self._save_as_clicked)
        self.which = QComboBox()
        self.which.addItems(["all", "predicted", "user"])
        self.which.setToolTip(
            "all: predictions, with user instances in place of the predictions they "
            "replace; predicted or user: those instances only."
        )
        self.export_buttons = {}
        for fmt, text in (
            ("slp", ".slp…"),
            ("analysis-h5", "Analysis HDF5…"),
            ("csv", "CSV…"),
            ("movement", "movement…"),
            ("other", "Other format…"),
        ):
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, f=fmt: self._export_clicked(f))
            self.export_buttons[fmt] = button
        grid = QGridLayout(self)
        grid.addWidget(self.save_button, 0, 0)
        grid.addWidget(self.save_as_button, 0, 1)
        grid.addWidget(QLabel("Export predictions"), 1, 0)
        grid.addWidget(self.which, 1, 1)
        for i, button in enumerate(self.export_buttons.values()):
            grid.addWidget(button, 2 + i // 2, i % 2)

    def save_project(self, path: str | Path | None = None) -> Path | None:
        """Save the project (user labels, predictions, suggestions, skeleton, tracks,
        videos) to ``path`` (default: where it came from), atomically with a ``.bak``.

        A prediction that a user instance of its frame replaces is not saved.
        """
        project = self.current_project()
        if project is None:
            return None
        if path is None and project.path is None:
            self.say("This project has no file yet: use Save as….", "error")
            return None
        dropped = project.drop_overlapping_predictions()
        try:
            target = project.save(path)
        except SleapTrainError as exc:
            self.say(str(exc), "error")
            return None
        set_project(self.layers.viewer, project)
        if dropped and self.layers.predictions is not None:
            show_predictions(self.layers.viewer, project, self.layers.video_index)
        users, preds = project.instance_counts()
        note = f"; {dropped} prediction(s) replaced by user instances" if dropped else ""
        self.say(f"Saved {target.name}: {users} user and {preds} predicted instances{note}.")
        self.saved()
        return target

    def export(self, path: str | Path, fmt: str = "slp", which: str | None = None) -> Path | None:
        """Export the project's poses as ``fmt`` (slp, analysis-h5, csv, movement) to
        ``path``."""
        which = which or self.which.currentText()
        project = self.current_project()
        if project is None:
            return None
        if which == "all":
            project.drop_overlapping_predictions()
        video = self.layers.video_index if fmt != "slp" else None
        try:
            out = export_labels(
                project.labels, path, fmt, which=which, video=video, labels_path=project.path
            )
        except SleapTrainError as exc:
            self.say(str(exc), "error")
            return None
        self.say(f"Exported {which} instances to {out}.", "info")
        return out

    def convert(self, path: str | Path, fmt: str | None = None) -> Path | None:
        """Write the whole project in another tool's format
        (:mod:`napari_sleap_train.io.formats`) to ``path``; the project file is not changed."""
        from ...io.export import select_instances
        from ...io.formats import save_any

        project = self.current_project()
        if project is None:
            return None
        project.drop_overlapping_predictions()
        try:
            out = save_any(select_instances(project.labels, self.which.currentText()), path, fmt)
        except SleapTrainError as exc:
            self.say(str(exc), "error")
            return None
        self.say(f"Wrote {out.name} ({fmt or out.suffix}).", "info")
        return out

    def _save_clicked(self) -> None:
        project = self.layers.project
        if project is not None and project.path is not None:
            self.save_project()
        else:
            self._save_as_clicked()

    def _save_as_clicked(self) -> None:
        project, video = self.layers.project, self.layers.video
        start = ""
        if project is not None and project.path is not None:
            start = str(project.path)
        elif video is not None:
            start = str(Path(video.data.filename).with_suffix(".slp"))
        path, _ = QFileDialog.getSaveFileName(self, "Save project", start, "SLEAP (*.slp)")
        if path:
            self.save_project(path if path.lower().endswith(".slp") else path + ".slp")

    def _export_clicked(self, fmt: str) -> None:
        if fmt == "other":
            self._convert_clicked()
            return
        project = self.layers.project
        stem = project.path.with_suffix("") if project and project.path else Path("predictions")
        path, _ = QFileDialog.getSaveFileName(
            self, "Export predictions", str(stem) + EXPORT_SUFFIXES[fmt], EXPORT_FORMATS[fmt]
        )
        if path:
            self.export(path, fmt)

    def _convert_clicked(self) -> None:
        from ...io.formats import WRITE_FORMATS

        filters = {
            "nwb": "NWB (*.nwb)",
            "coco": "COCO keypoints (*.json)",
            "labelstudio": "Label Studio (*.json)",
            "analysis_h5": "SLEAP analysis HDF5 (*.h5)",
        }
        chosen = ";;".join(filters[f] for f in WRITE_FORMATS if f in filters)
        path, picked = QFileDialog.getSaveFileName(self, "Write in another format", "", chosen)
        if path:
            fmt = next(f for f, text in filters.items() if text == picked)
            self.convert(path, fmt)
