"""Which of the project's videos both docks work on: the one whose layers are shown."""

from __future__ import annotations

from qtpy.QtCore import Signal
from qtpy.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from ...io.project import video_name
from .project_layers import current_video_index, show_video, source_project, video_layers


class VideoSwitcher(QWidget):
    """A list of the project's videos; choosing one shows its layers and hides the others'.
    Hidden while the project has one video. ``changed`` carries the new video index."""

    changed = Signal(int)

    def __init__(self, viewer, parent: QWidget | None = None):
        super().__init__(parent)
        self.viewer = viewer
        self.box = QComboBox()
        self.box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.box.setMinimumContentsLength(12)
        self.box.setToolTip("The video the docks work on: labelling, suggestions, prediction.")
        self.box.currentIndexChanged.connect(self._chosen)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Video"))
        layout.addWidget(self.box, 1)
        self._followed: set[str] = set()
        self.refresh()

    def refresh(self) -> None:
        """List the project's videos and select the one shown."""
        project = source_project(self.viewer)
        videos = project.videos if project is not None else []
        for layer in video_layers(self.viewer).values():  # follow the other dock and the list
            if layer.name not in self._followed:
                self._followed.add(layer.name)
                layer.events.visible.connect(lambda *_: self.refresh())
        names = [
            f"{i}: {video_name(v)}" + (" (missing)" if project.is_missing(v) else "")
            for i, v in enumerate(videos)
        ]
        self.box.blockSignals(True)
        if [self.box.itemText(i) for i in range(self.box.count())] != names:
            self.box.clear()
            self.box.addItems(names)
        if names:
            self.box.setCurrentIndex(min(current_video_index(self.viewer), len(names) - 1))
        self.box.blockSignals(False)
        self.setVisible(len(names) > 1)

    def choose(self, index: int) -> None:
        """Work on video ``index``."""
        self.box.setCurrentIndex(index)

    def _chosen(self, index: int) -> None:
        if index < 0 or index == current_video_index(self.viewer):
            return
        project = source_project(self.viewer)
        if project is not None and project.is_missing(project.videos[index]):
            self.refresh()  # back to the video shown
            return
        show_video(self.viewer, index)
        self.changed.emit(index)
