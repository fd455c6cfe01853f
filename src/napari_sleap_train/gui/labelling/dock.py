"""The "Label & Suggest…" dock: the active-learning loop on the open project.

A container that wires panels with one job each: frame suggestions
(:mod:`.suggestions_panel`), editing the labels (:mod:`.labels_editor`), checking them
(:mod:`.checks_panel`), tracks and their
proofreading (:mod:`.tracks_panel`), saving and
exporting (:mod:`.save_panel`) and the skeleton (:mod:`.skeleton_editor`,
:mod:`.skeleton_apply`). The layers stay the source of truth, with the features the reader
gives them (``individual``, ``keypoint``, ``confidence``, ``instance``, ``track``,
``visible``, ``score``); points added with napari's own tools are repaired (given the
nearest missing node of an instance on their frame) or reported, never saved without a
node.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import (
    QFileDialog,
    QLabel,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...errors import SleapTrainError
from ...io.project import Project
from .. import DOCK_WIDTH
from ..dock_tabs import join_plugin_tabs
from ..layers import frame_view
from ..layers.project_layers import ProjectLayers
from ..layers.video_switcher import VideoSwitcher
from .checks_panel import ChecksPanel
from .labels_editor import LabelsEditor
from .save_panel import SavePanel
from .skeleton_apply import start_project, update_skeleton
from .skeleton_editor import SkeletonEditor
from .suggestions_panel import SuggestionsPanel
from .tracks_panel import TracksPanel

REFRESH_MS = 150


class LabellingWidget(QWidget):
    """Suggestions, labelling tools, skeleton editor, save and export for the open project."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        frame_view.watch(napari_viewer)
        self.layers = ProjectLayers(napari_viewer)
        self.status_log: list[str] = []
        self._connected: list = []
        self._edges = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)

        self.suggestions = SuggestionsPanel(self.layers, self.say, self.refresh)
        self.checks = ChecksPanel(self.layers, self.say, lambda: self.video_switcher)
        self.editor_panel = LabelsEditor(self.layers, self.say, self.refresh)
        self.tracks = TracksPanel(self.layers, self.say, self.refresh)
        self.saving = SavePanel(self.layers, self.say, self.current_project, self._describe)
        self.editor = SkeletonEditor()
        self.editor.apply_button.clicked.connect(lambda: self.apply_skeleton())
        self.editor.load_button.clicked.connect(self._load_skeleton_clicked)
        label_page = QWidget()
        page = QVBoxLayout(label_page)
        page.setContentsMargins(2, 2, 2, 2)
        panels = (self.suggestions, self.editor_panel, self.checks, self.tracks, self.saving)
        for panel in panels:
            page.addWidget(panel)
        page.addStretch()
        scroll = QScrollArea()  # the dock may be shorter than the page
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        scroll.setWidget(label_page)
        self.tabs = QTabWidget()
        self.tabs.addTab(scroll, "Label")
        self.tabs.addTab(self.editor, "Skeleton")
        self.project_label = QLabel()
        self.project_label.setWordWrap(True)
        self.locate_button = QPushButton("Locate missing videos…")
        self.locate_button.setToolTip("Choose the folder that holds the videos not found.")
        self.locate_button.clicked.connect(self._locate_clicked)
        self.status = QLabel("Ready.")
        self.status.setWordWrap(True)
        self.setMaximumWidth(DOCK_WIDTH)
        join_plugin_tabs(self, "labelling")
        self.video_switcher = VideoSwitcher(napari_viewer)
        self.video_switcher.changed.connect(lambda _: self._layers_changed())
        layout = QVBoxLayout(self)
        layout.addWidget(self.project_label)
        layout.addWidget(self.locate_button)
        layout.addWidget(self.video_switcher)
        layout.addWidget(self.tabs)
        layout.addWidget(self.status)

        napari_viewer.layers.events.inserted.connect(self._layers_changed)
        napari_viewer.layers.events.removed.connect(self._layers_changed)
        self._layers_changed()

    def say(self, text: str, level: str = "") -> None:
        """Show a status line (and a napari notification for warnings and errors)."""
        self.status.setText(text)
        self.status_log = [*self.status_log[-49:], text]
        {"error": show_error, "warning": show_warning, "info": show_info}.get(
            level, lambda _: None
        )(text)

    # ----- following the layers ---------------------------------------------------------
    def _layers_changed(self, *_) -> None:
        self.video_switcher.refresh()
        self._edges = None  # another video's labels may be shown
        for layer in (self.layers.labels, self.layers.predictions):
            if layer is not None and not any(layer is c for c in self._connected):
                layer.events.data.connect(self._on_layer_data)
                self._connected.append(layer)
        self._connected = [c for c in self._connected if c in self.viewer.layers]
        project = self.layers.project
        if not self.editor.dirty:
            has = project is not None and project.has_skeleton
            self.editor.set_skeleton(project.skeleton if has else None)
        if project is None and self.layers.labels is None and self.layers.video is not None:
            self.tabs.setCurrentWidget(self.editor)
        self._describe()
        self.refresh()

    def _describe(self) -> None:
        project, video = self.layers.project, self.layers.video
        self.locate_button.setVisible(project is not None and bool(project.missing))
        if project is not None:
            where = project.path.name if project.path else "not saved yet"
            nodes = len(project.node_names) if project.has_skeleton else 0
            text = f"Project: {where} · {len(project.videos)} video(s) · {nodes} nodes"
            if project.missing:
                text += f" · {len(project.missing)} not found"
        elif self.layers.labels is not None:
            text = "Keypoints layer without a project: Save project makes one."
        elif video is not None:
            text = (
                f"New project on {video.name}: define the skeleton in the Skeleton tab and "
                "press Apply."
            )
        else:
            text = "Open a project (.slp), a video, or File ▸ Open Sample."
        self.project_label.setText(text)

    def _on_layer_data(self, event) -> None:
        if self.layers.busy:
            return
        action = str(getattr(event, "action", "") or "").lower()
        if action.endswith("ing"):
            return
        if action == "added" and event.source is self.layers.labels:
            indices = [int(i) for i in getattr(event, "data_indices", ()) or ()]
            if indices:
                self.editor_panel.repair(event.source, indices)
        self._timer.start()

    def refresh(self) -> None:
        """Update the training counts, the suggestions table and the skeleton edges."""
        self._timer.stop()
        self.editor_panel.show_counts()
        self.suggestions.fill()
        self.tracks.fill()
        self._draw_edges()

    def _draw_edges(self) -> None:
        lines, labels = self.layers.skeleton_lines, self.layers.labels
        if lines is None or labels is None:
            return
        segments = self.layers.table().edges(self.layers.edge_inds())
        if self._edges is not None and np.array_equal(self._edges, segments):
            return
        self._edges = segments
        frame_view.set_lines(
            lines, frame_view.as_vectors(segments), "white", self.layers.current_frame()
        )

    # ----- skeleton ----------------------------------------------------------------
    def apply_skeleton(self) -> bool:
        """Use the editor's skeleton: start a project on a bare video, or update the
        open project's skeleton (renamed nodes keep their points)."""
        try:
            skeleton = self.editor.skeleton()
            if self.layers.project is None and self.layers.labels is None:
                message = start_project(self.layers, skeleton)
            else:
                rename = {old: new for new, old in self.editor.origins().items() if old}
                message = update_skeleton(self.layers, skeleton, rename, self.editor_panel.notify)
        except SleapTrainError as exc:
            self.editor.message.setText(str(exc))
            self.say(str(exc), "error")
            return False
        self.say(message)
        self.editor.set_skeleton(skeleton)
        self._edges = None
        self._layers_changed()
        self.tabs.setCurrentIndex(0)
        return True

    def load_skeleton(self, path: str | Path) -> bool:
        """Show the skeleton of a ``.slp`` in the editor (press Apply to use it)."""
        try:
            self.editor.load_file(path, self.layers.node_names())
        except SleapTrainError as exc:
            self.say(str(exc), "error")
            return False
        self.tabs.setCurrentWidget(self.editor)
        self.say(f"Skeleton of {Path(path).name} loaded: press Apply to use it.")
        return True

    def _load_skeleton_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Load skeleton", "", "SLEAP project or skeleton (*.slp *.json)"
        )
        if path:
            self.load_skeleton(path)

    # ----- the project -----------------------------------------------------------------
    def locate_videos(self, folder: str | Path) -> int:
        """Look for the project's missing videos in ``folder``; returns how many were found."""
        project = self.layers.project
        if project is None or not project.missing:
            return 0
        found = project.locate(folder)
        left = len(project.missing)
        text = f"Found {len(found)} video(s) in {folder}."
        if left:
            text += f" {left} still missing."
        self.say(text, "info" if found else "warning")
        self.video_switcher.refresh()
        self._describe()
        return len(found)

    def _locate_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder with the missing videos")
        if folder:
            self.locate_videos(folder)

    def current_project(self) -> Project | None:
        """The project as the layers show it, with problem points repaired; None (and a
        message) when a point has no node or the layers make no project."""
        repair = self.editor_panel.repair_all()
        if repair is not None and repair.unresolved:
            return None
        try:
            return self.layers.rebuild()
        except SleapTrainError as exc:
            self.say(str(exc), "error")
            return None

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self.suggestions.worker is not None:
            self.suggestions.worker.quit()
        super().closeEvent(event)
