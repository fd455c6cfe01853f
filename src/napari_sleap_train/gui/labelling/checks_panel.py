"""Check labels: the labelled instances that are likely mistakes, each with its reason, a
jump to it, and "Mark as correct" (kept in the project when it is saved)."""

from __future__ import annotations

from collections.abc import Callable

from qtpy.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from ...errors import SleapTrainError
from ...evaluation.label_checks import Flag, check_project, mark_correct
from ..layers.project_layers import ProjectLayers
from ..layers.video_switcher import VideoSwitcher


class ChecksPanel(QGroupBox):
    """Check the labels of the open project against its own labelled poses."""

    def __init__(
        self,
        layers: ProjectLayers,
        say: Callable[..., None],
        switcher: Callable[[], VideoSwitcher | None] = lambda: None,
    ):
        super().__init__("Check labels")
        self.layers, self.say, self.switcher = layers, say, switcher
        self.flags: list[Flag] = []
        self.check_button = QPushButton("Check labels")
        self.check_button.setToolTip(
            "Flag labelled instances that look wrong against the project's own labelled "
            "poses: left/right swaps, a body part far from where the rest of the pose puts "
            "it, unusual edge lengths, two body parts on one spot, duplicates, odd sizes."
        )
        self.correct_button = QPushButton("Mark as correct")
        self.correct_button.setToolTip(
            "The selected instance is right as it is: it is not flagged again (until it is "
            "edited). Kept in the project when you save it."
        )
        self.correct_button.setEnabled(False)
        self.check_button.clicked.connect(self.check)
        self.correct_button.clicked.connect(self.mark_selected)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Video", "Frame", "Instance", "Why"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setToolTip("Click a flag to go to its frame.")
        self.table.cellClicked.connect(self.jump_to_row)
        self.table.itemSelectionChanged.connect(
            lambda: self.correct_button.setEnabled(bool(self.table.selectedItems()))
        )
        buttons = QHBoxLayout()
        buttons.addWidget(self.check_button)
        buttons.addWidget(self.correct_button)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.table)

    def check(self) -> list[Flag]:
        """Check the labels as they are now; the flags fill the table (and are returned)."""
        try:
            project = self.layers.rebuild()
        except SleapTrainError as exc:
            self.say(str(exc), "error")
            return []
        self.flags = check_project(project)
        self._fill()
        n = len(project.user_instances_array())
        self.say(
            f"{len(self.flags)} of {n} labelled instances flagged."
            if self.flags
            else f"No labelled instance looks wrong ({n} checked)."
        )
        return self.flags

    def _fill(self) -> None:
        self.table.setRowCount(len(self.flags))
        for r, f in enumerate(self.flags):
            cells = [str(f.video), str(f.frame), str(f.instance), "; ".join(f.reasons)]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text if c == 3 else f"score {f.score:.1f}")
                self.table.setItem(r, c, item)
        self.correct_button.setEnabled(False)

    def jump_to_row(self, row: int, *_) -> None:
        """Show the flagged instance's video and frame."""
        flag = self.flags[row]
        switcher = self.switcher()
        if switcher is not None and flag.video != self.layers.video_index:
            switcher.choose(flag.video)
        self.layers.viewer.dims.set_current_step(0, flag.frame)

    def mark_selected(self) -> None:
        """Mark the selected flag's instance as correct, in the open project."""
        rows = {i.row() for i in self.table.selectedItems()}
        source = self.layers.project
        if not rows or source is None:
            return
        row = rows.pop()
        flag = self.flags[row]
        try:
            mark_correct(self.layers.rebuild(), flag, into=source)
        except (SleapTrainError, KeyError) as exc:
            self.say(f"Could not mark it: {exc}. Check the labels again.", "error")
            return
        del self.flags[row]
        self._fill()
        self.say(
            f"Frame {flag.frame}, instance {flag.instance} marked as correct; save the "
            "project to keep it."
        )
