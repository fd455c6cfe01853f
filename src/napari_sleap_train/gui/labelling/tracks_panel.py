"""Proofreading tracks in the Label & Suggest dock: track the predictions, assign an instance
to a track, swap two tracks or delete one from the current frame on, and go from one
suspicious frame to the next (``Alt+Right``/``]``, back with ``Alt+Left``/``[``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
from qtpy.QtWidgets import QComboBox, QGridLayout, QGroupBox, QLabel, QPushButton, QSpinBox

from ...errors import SleapTrainError
from ...tracking.review import TrackEvent, next_event, suspicious_frames
from .. import META_KEY
from ..layers.points_table import PointsTable
from ..layers.project_layers import ProjectLayers, show_identities, show_predictions
from ..layers.track_edits import (
    assign_track,
    delete_track,
    instance_summary,
    swap_tracks,
    track_names,
)
from ..layers.track_layers import TAIL_LENGTH
from .keys import bind_steps

NEXT_KEYS = ("Alt-Right", "]")
PREV_KEYS = ("Alt-Left", "[")


def _combo() -> QComboBox:
    box = QComboBox()
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(8)
    return box


class TracksPanel(QGroupBox):
    """Tracking and proofreading of the current video's identities."""

    def __init__(self, layers: ProjectLayers, say: Callable[..., None], changed: Callable):
        super().__init__("Tracks")
        self.layers, self.say, self.changed = layers, say, changed
        self.events: list[TrackEvent] = []
        self._filled: tuple | None = None
        self.track_button = QPushButton("Track predictions")
        self.track_button.setToolTip(
            "Link the predictions of this video into tracks with the Tracker settings of the "
            "training dock's Training Pipeline tab (their last saved values)."
        )
        self.track_button.clicked.connect(lambda: self.track())
        self.track_box = _combo()
        self.track_box.setEditable(True)
        self.track_box.setToolTip("A track; type a new name to make a new track.")
        self.assign_button = QPushButton("Assign selected instance")
        self.assign_button.setToolTip(
            "Give the instance of the selected point(s) this track; an instance of the same "
            "frame that had it takes the old track."
        )
        self.assign_button.clicked.connect(lambda: self.assign())
        self.other_box = _combo()
        self.swap_button = QPushButton("Swap from this frame on")
        self.swap_button.setToolTip("Swap the two tracks on this frame and every later one.")
        self.swap_button.clicked.connect(lambda: self.swap())
        self.delete_button = QPushButton("Delete track from this frame on")
        self.delete_button.setToolTip(
            "Delete the predicted instances of the track on this frame and every later one "
            "(user labels stay)."
        )
        self.delete_button.clicked.connect(lambda: self.delete())
        self.jump = QSpinBox()
        self.jump.setRange(1, 100000)
        self.jump.setSuffix(" px")
        self.jump.setValue(30)
        self.jump.setToolTip("A track whose centre moves further than this between frames.")
        self.jump.valueChanged.connect(lambda *_: self.review())
        self.prev_button = QPushButton("◀ Previous")
        self.next_button = QPushButton("Next suspicious ▶")
        self.prev_button.clicked.connect(lambda: self.goto(-1))
        self.next_button.clicked.connect(lambda: self.goto(1))
        tip = "Frames where a track jumps, starts, ends or matched poorly (Alt+Right / Alt+Left)."
        self.prev_button.setToolTip(tip)
        self.next_button.setToolTip(tip)
        self.tail = QSpinBox()
        self.tail.setRange(1, 10000)
        self.tail.setValue(TAIL_LENGTH)
        self.tail.setSuffix(" frames")
        self.tail.setToolTip("Length of the trails in the Tracks layer.")
        self.tail.valueChanged.connect(self._tail_changed)
        self.event_label = QLabel("")
        self.event_label.setWordWrap(True)

        grid = QGridLayout(self)
        grid.addWidget(self.track_button, 0, 0, 1, 2)
        grid.addWidget(QLabel("Track"), 1, 0)
        grid.addWidget(self.track_box, 1, 1)
        grid.addWidget(self.assign_button, 2, 0, 1, 2)
        grid.addWidget(QLabel("Swap with"), 3, 0)
        grid.addWidget(self.other_box, 3, 1)
        grid.addWidget(self.swap_button, 4, 0, 1, 2)
        grid.addWidget(self.delete_button, 5, 0, 1, 2)
        grid.addWidget(QLabel("Jump over"), 6, 0)
        grid.addWidget(self.jump, 6, 1)
        grid.addWidget(self.prev_button, 7, 0)
        grid.addWidget(self.next_button, 7, 1)
        grid.addWidget(self.event_label, 8, 0, 1, 2)
        grid.addWidget(QLabel("Trail length"), 9, 0)
        grid.addWidget(self.tail, 9, 1)
        self._bind_keys()

    # ----- state -----------------------------------------------------------------------
    def _tables(self) -> dict[str, PointsTable]:
        nodes = self.layers.node_names()
        out = {}
        for key, layer in (
            ("labels", self.layers.labels),
            ("predictions", self.layers.predictions),
        ):
            if layer is not None:
                out[key] = PointsTable.from_layer(layer, nodes)
        return out

    def fill(self) -> None:
        """Show the tracks of the layers and find the suspicious frames again; skipped while
        neither layer's points nor features were replaced or resized (dragging a point, the
        most frequent edit, changes no track)."""
        key = tuple(
            (id(layer.data), id(layer.features), len(layer.data)) if layer is not None else None
            for layer in (self.layers.labels, self.layers.predictions)
        )
        if key == self._filled:
            return
        self._filled = key
        tables = self._tables()
        names = sorted({n for t in tables.values() for n in track_names(t)})
        for box in (self.track_box, self.other_box):
            current = box.currentText()
            box.blockSignals(True)
            box.clear()
            box.addItems(names)
            if current in names or (box is self.track_box and current):
                box.setCurrentText(current)
            box.blockSignals(False)
        self.review(tables.get("predictions"))

    def review(self, table: PointsTable | None = None) -> None:
        """Find the suspicious frames of the predictions (``table``: theirs, if at hand)."""
        table = table if table is not None else self._tables().get("predictions")
        if table is None or not len(table):
            self.events = []
            self.event_label.setText("")
            return
        frames, tracks, centres, scores = instance_summary(table)
        self.events = suspicious_frames(frames, tracks, centres, scores, float(self.jump.value()))
        tracked = int((tracks != "").sum())
        self.event_label.setText(
            f"{len(self.events)} suspicious frame(s) over {tracked} tracked instances."
            if tracked
            else "The predictions have no tracks yet."
        )

    # ----- actions -----------------------------------------------------------------------
    def track(self) -> bool:
        """Track the predictions of the video with the last saved Tracker settings."""
        from ...config.tracking import TrackingConfig
        from ...tracking import track_video
        from ..last_config import load_last_config

        last = load_last_config()
        config = last.tracking if last is not None else TrackingConfig()
        if not config.enabled:
            config = dataclasses.replace(config, method=TrackingConfig().method)
        try:
            project = self.layers.rebuild()
            video = project.videos[self.layers.video_index]
            lazy = self.layers.video.data if self.layers.video is not None else None
            frames = lazy.frame if lazy is not None else None
            summary = track_video(project.labels, video, config, frames=frames)
        except SleapTrainError as exc:
            self.say(str(exc), "error")
            return False
        with self.layers.quiet():
            show_predictions(self.layers.viewer, project, self.layers.video_index)
        self.say(summary.text(), "info")
        self.fill()
        self.changed()
        return True

    def _edit(self, edit: Callable[[PointsTable, str], PointsTable | None]) -> bool:
        """Apply ``edit`` to the user labels and the predictions; True if anything changed."""
        changed = False
        for key, table in self._tables().items():
            layer = self.layers.labels if key == "labels" else self.layers.predictions
            new = edit(table, key)
            if new is None or new is table:
                continue
            with self.layers.quiet():
                if len(new) != len(table):
                    layer.data = new.data
                layer.features = new.features
                if key == "predictions":
                    self._recolour(new)
            changed = True
        if changed:
            self.fill()
            self.changed()
        return changed

    def _recolour(self, table: PointsTable) -> None:
        layer = self.layers.predictions
        name = layer.name.removesuffix(" predictions")
        info = {k: v for k, v in layer.metadata[META_KEY].items() if k != "kind"}
        size = float(np.mean(layer.size)) if np.size(layer.size) else 5.0
        show_identities(
            self.layers.viewer, table, name, {META_KEY: info}, self.layers.edge_inds(), size
        )

    def assign(self) -> bool:
        """Give the instance of the selected points the track in the Track box."""
        name = self.track_box.currentText().strip()
        layer = self.layers.viewer.layers.selection.active
        rows = sorted(getattr(layer, "selected_data", ()) or ())
        if not name or layer is None or not rows:
            self.say("Select a point of an instance and choose (or type) a track.", "warning")
            return False
        # Compared by name: a plugin's viewer hands out a new proxy of a layer each time.
        names = {"labels": self.layers.labels, "predictions": self.layers.predictions}
        target = next(
            (key for key, lay in names.items() if lay is not None and lay.name == layer.name),
            None,
        )
        if target is None:
            self.say("Select the instance in the labels or predictions layer.", "warning")
            return False
        done = self._edit(lambda t, key: assign_track(t, rows, name) if key == target else None)
        if done:
            self.say(f"Instance assigned to {name}.")
        return done

    def swap(self) -> bool:
        """Swap the two chosen tracks from the current frame on."""
        a, b = self.track_box.currentText(), self.other_box.currentText()
        if not a or not b or a == b:
            self.say("Choose two different tracks to swap.", "warning")
            return False
        frame = self.layers.current_frame()
        done = self._edit(lambda t, _: swap_tracks(t, a, b, frame))
        self.say(f"Swapped {a} and {b} from frame {frame} on." if done else "Nothing to swap.")
        return done

    def delete(self) -> bool:
        """Delete the predicted instances of the chosen track from the current frame on."""
        name = self.track_box.currentText()
        frame = self.layers.current_frame()
        gone = []

        def edit(table: PointsTable, key: str) -> PointsTable | None:
            if key != "predictions":
                return None
            new, n = delete_track(table, name, frame)
            gone.append(n)
            return new if n else None

        done = self._edit(edit)
        n = sum(gone)
        self.say(
            f"Deleted {n} instance(s) of {name} from frame {frame} on."
            if done
            else f"No predicted instance of {name!r} from frame {frame} on."
        )
        return done

    def goto(self, step: int) -> TrackEvent | None:
        """Go to the next (``step`` > 0) or previous suspicious frame."""
        if not self.events:
            self.review()
        event = next_event(self.events, self.layers.current_frame(), forward=step > 0)
        if event is None:
            self.say("No more suspicious frames that way.")
            return None
        self.layers.viewer.dims.set_current_step(0, event.frame)
        self.event_label.setText(event.text())
        self.say(event.text())
        return event

    def _tail_changed(self, value: int) -> None:
        for layer in self.layers.viewer.layers:
            if layer._type_string == "tracks":
                layer.tail_length = int(value)

    def _bind_keys(self) -> None:
        bind_steps(
            self.layers.viewer, self, "goto", NEXT_KEYS, PREV_KEYS, "suspicious frame of a track"
        )
