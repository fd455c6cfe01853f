"""Editing the user labels: new instances, accepted predictions, visibility, deletion and
the repair of points placed with napari's own tools.

The labels Points layer stays the source of truth; this panel rewrites its data and
features and tells every listener (the training dock too) that it changed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from qtpy.QtWidgets import QGridLayout, QGroupBox, QLabel, QPushButton

from ..layers.points_table import PointsTable, normalise_features
from ..layers.project_layers import ProjectLayers
from .poses import (
    Repair,
    accept_predictions,
    append_rows,
    instance_rows,
    point_text,
    pose_template,
    repair_points,
    typical_radius,
)


class LabelsEditor(QGroupBox):
    """New instance, Accept predictions, Toggle visibility, Delete instance, and counts."""

    def __init__(self, layers: ProjectLayers, say: Callable[..., None], changed: Callable):
        super().__init__("Labelling")
        self.layers, self.say, self.changed = layers, say, changed
        self.new_button = QPushButton("New instance")
        self.new_button.setToolTip(
            "Place the skeleton (the mean labelled pose, or nodes on a circle) at the view "
            "centre on this frame; then drag its nodes in the labels layer's select mode."
        )
        self.new_button.clicked.connect(lambda: self.new_instance())
        self.visibility_button = QPushButton("Toggle visibility")
        self.visibility_button.setToolTip(
            "Mark the selected nodes invisible (drawn as crosses; not trained on) and back."
        )
        self.visibility_button.clicked.connect(lambda: self.toggle_visibility())
        self.delete_button = QPushButton("Delete instance")
        self.delete_button.setToolTip("Delete every instance a selected point belongs to.")
        self.delete_button.clicked.connect(lambda: self.delete_instance())
        self.accept_button = QPushButton("Accept predictions")
        self.accept_button.setToolTip(
            "Copy the predicted instances of the points selected in the predictions layer "
            "(none selected: every prediction on this frame) into the labels, as user "
            "instances. On save, a user instance replaces the prediction of the same animal."
        )
        self.accept_button.clicked.connect(lambda: self.accept_predictions())
        self.counts = QLabel()
        self.counts.setWordWrap(True)
        grid = QGridLayout(self)
        grid.addWidget(self.new_button, 0, 0)
        grid.addWidget(self.accept_button, 0, 1)
        grid.addWidget(self.visibility_button, 1, 0)
        grid.addWidget(self.delete_button, 1, 1)
        grid.addWidget(self.counts, 2, 0, 1, 2)

    def show_counts(self) -> None:
        """What the next training run uses, and points without a node."""
        counts = self.layers.training_counts(self.layers.table())
        text = f"Next training run: {counts.frames} labelled frames, {counts.instances} instances."
        if counts.without_node:
            text += f" {counts.without_node} point(s) have no node: fix them before saving."
        self.counts.setText(text)

    # ----- writing the layer -----------------------------------------------------------
    def notify(self, layer) -> None:
        """Tell every listener (the training dock too) that the layer changed."""
        try:
            from napari.layers.base._base_constants import ActionType

            action = ActionType.CHANGED
        except ImportError:  # pragma: no cover - napari moved it
            action = "changed"
        with self.layers.quiet():
            layer.events.data(
                value=layer.data,
                action=action,
                data_indices=tuple(range(len(layer.data))),
                vertex_indices=((),),
            )

    def write(self, layer, data, features, select=None, keep_data=False) -> None:
        """Replace a keypoints layer's points and features (symbols follow ``visible``)."""
        features = normalise_features(features, self.layers.node_names())
        symbols = np.where(features["visible"].to_numpy(bool), "disc", "cross")
        with self.layers.quiet():
            if not keep_data:
                layer.selected_data = set()
                with layer.events.data.blocker():
                    layer.data = np.asarray(data, float).reshape(-1, 3)
            layer.features = features
            if len(symbols):
                layer.symbol = symbols
            if select:
                layer.selected_data = set(select)
        self.notify(layer)
        self.changed()

    def _need_labels(self):
        layer = self.layers.labels
        if layer is None:
            self.say(
                "No labels layer: open a project, or define a skeleton (Skeleton tab) and "
                "press Apply.",
                "error",
            )
        return layer

    def _template(self, table: PointsTable, exclude=()) -> np.ndarray:
        poses = table.without_rows(exclude).poses()
        shape = self.layers.video_shape() or (400, 400)
        return pose_template(poses, len(table.nodes), typical_radius(poses, min(shape) / 8))

    # ----- repair ------------------------------------------------------------------
    def repair(self, layer, rows=None) -> Repair:
        """Give points without a node (``rows``, default every such point) the node they
        can have; report those that cannot have one."""
        table = self.layers.table(layer)
        exclude = rows if rows is not None else table.problem_rows()
        template = self._template(table, exclude)
        result = repair_points(table.data, table.features, table.nodes, template, rows)
        if result.fixed or result.unresolved:
            selected = set(layer.selected_data)
            self.write(layer, table.data, result.features, select=selected, keep_data=True)
        if result.unresolved:
            first = point_text(table.data, result.unresolved[0])
            self.say(
                f"{len(result.unresolved)} point(s) have no node to be (first: {first}): "
                "no instance on that frame is missing a node. Press New instance first, or "
                "delete the point; it cannot be saved without a node.",
                "warning",
            )
        elif result.fixed:
            self.say(" ".join(result.fixed[:3]) + (" …" if len(result.fixed) > 3 else ""))
        return result

    def repair_all(self) -> Repair | None:
        """Repair every point of the labels layer that has no node."""
        layer = self.layers.labels
        return self.repair(layer) if layer is not None else None

    # ----- the buttons -----------------------------------------------------------------
    def view_centre(self) -> np.ndarray:
        """The centre of the view ``(y, x)``, inside the video."""
        yx = np.asarray(self.layers.viewer.camera.center[-2:], float)
        shape = self.layers.video_shape()
        return np.clip(yx, 0, np.array(shape) - 1) if shape is not None else yx

    def new_instance(self, frame: int | None = None, centre=None) -> int | None:
        """Place a new instance (all nodes) at the view centre; returns its id."""
        layer = self._need_labels()
        if layer is None:
            return None
        frame = self.layers.current_frame() if frame is None else int(frame)
        table = self.layers.table(layer)
        pose = self._template(table) + (
            self.view_centre() if centre is None else np.asarray(centre, float)
        )
        shape = self.layers.video_shape()
        if shape is not None:
            pose = np.clip(pose, 0, np.array(shape) - 1)
        feats = table.features
        new_id = int(feats["instance"].max()) + 1 if len(feats) else 0
        rows, cols = instance_rows(frame, pose, table.nodes, new_id)
        data, feats = append_rows(table.data, feats, rows, cols, table.nodes)
        self.write(layer, data, feats, select=range(len(data) - len(rows), len(data)))
        self.layers.viewer.layers.selection.active = layer
        layer.mode = "select"  # ready to drag the nodes
        self.say(f"New instance {new_id} on frame {frame}: drag its nodes into place.")
        return new_id

    def _selection(self, hint: str):
        """The labels layer and its selected rows; None (with ``hint``) when none is."""
        layer = self._need_labels()
        rows = sorted(layer.selected_data) if layer is not None else []
        if layer is not None and not rows:
            self.say(hint)
        return (layer, rows) if rows else None

    def toggle_visibility(self) -> int:
        """Mark the selected points invisible (or all visible again when none is visible)."""
        chosen = self._selection("Select the nodes to hide or show in the labels layer first.")
        if chosen is None:
            return 0
        layer, rows = chosen
        table = self.layers.table(layer)
        visible = table.features["visible"].to_numpy(bool).copy()
        make = not visible[rows].any()
        visible[rows] = make
        feats = table.features.assign(visible=visible)
        self.write(layer, table.data, feats, select=rows, keep_data=True)
        self.say(f"{len(rows)} node(s) marked {'visible' if make else 'invisible'}.")
        return len(rows)

    def delete_instance(self) -> int:
        """Delete the instances of the selected points; returns how many."""
        chosen = self._selection("Select a point of the instance to delete first.")
        if chosen is None:
            return 0
        layer, rows = chosen
        table = self.layers.table(layer)
        which = table.instances.which
        drop = np.isin(which, which[rows])
        self.write(layer, table.data[~drop], table.features[~drop].reset_index(drop=True))
        n = len(set(which[rows].tolist()))
        self.say(f"Deleted {n} instance(s).")
        return n

    def accept_predictions(self) -> int:
        """Copy predicted instances into the labels as user instances; returns how many.

        The instances of the points selected in the predictions layer on the current
        frame, or every predicted instance on it when none is selected. A prediction that a
        user instance of its frame already covers (same track, or overlapping) is skipped.
        """
        layer, pred = self._need_labels(), self.layers.predictions
        if layer is None:
            return 0
        if pred is None or not len(pred.data):
            self.say("There are no predictions to accept: train and predict first.", "warning")
            return 0
        predictions, labels = self.layers.table(pred), self.layers.table(layer)
        frame = self.layers.current_frame()
        keys = predictions.instances.keys[predictions.instances.which]
        selected = [r for r in sorted(pred.selected_data) if predictions.frames[r] == frame]
        chosen = keys[selected] if selected else predictions.instances.keys
        wanted = {(int(f), int(i)) for f, i in chosen if f == frame}
        if not wanted:
            self.say(f"No predicted instance on frame {frame} to accept.")
            return 0
        feats = labels.features
        next_id = int(feats["instance"].max()) + 1 if len(feats) else 0
        accepted = accept_predictions(predictions, labels, wanted, next_id)
        pred.selected_data = set()
        if accepted.instances:
            data, feats = append_rows(
                labels.data, feats, accepted.data, accepted.columns, labels.nodes
            )
            added = range(len(data) - len(accepted.data), len(data))
            self.write(layer, data, feats, select=added)
            self.layers.viewer.layers.selection.active = layer
        note = f" ({accepted.skipped} already labelled)" if accepted.skipped else ""
        self.say(
            f"Accepted {accepted.instances} predicted instance(s) on {len(accepted.frames)} "
            f"frame(s){note}."
        )
        return accepted.instances
