"""The "Label & Suggest…" dock: the active-learning loop on the open project.

Suggest frames to label, jump between them (``Shift+Right`` or ``.``: next unlabelled
suggestion; ``Shift+Left`` or ``,``: previous), place and correct instances in the
user-labels Points layer, accept predictions, define the skeleton of a new project, save
the project and export predictions. The layers stay the source of truth, with the features
the reader gives them (``individual``, ``keypoint``, ``confidence``, ``instance``,
``track``, ``visible``, ``score``); points added with napari's own tools are repaired
(given the nearest missing node of an instance on their frame) or reported, never saved
without a node.

The widget is a thin layer over :mod:`.keypoint_tables` (numpy and pandas only),
:mod:`..suggestions`, :mod:`..export` and :mod:`..project`.
"""

from __future__ import annotations

import weakref
from pathlib import Path

import numpy as np
import pandas as pd
import sleap_io as sio
from napari.qt.threading import thread_worker
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..errors import ProjectError, SkeletonError, SleapTrainError
from ..export import export_labels
from ..project import Project, drop_overlapping_predictions, instances_overlap
from ..suggestions import METHODS, add_suggestions, suggest
from ..video import LazyVideo
from .convert import (
    META_KEY,
    PointsTable,
    _empty_features,
    point_size,
    points_layer_data,
    video_name,
)
from .keypoint_tables import (
    Repair,
    append_rows,
    data_action,
    edge_segments,
    frames_of,
    instance_poses,
    instance_rows,
    normalise_features,
    point_text,
    pose_template,
    problem_rows,
    repair_points,
    typical_radius,
)
from .layers import (
    labels_layer,
    predictions_layer,
    project_from_viewer,
    set_project,
    show_predictions,
    skeleton_layer,
    source_project,
    video_layer,
)
from .skeleton_editor import SkeletonEditor

NEXT_KEYS = ("Shift-Right", ".")
PREV_KEYS = ("Shift-Left", ",")
EXPORT_FORMATS = {"slp": "SLEAP project (*.slp)", "analysis-h5": "SLEAP analysis HDF5 (*.h5)"}
EXPORT_FORMATS["csv"] = "CSV (*.csv)"
FRAME_ROLE = Qt.ItemDataRole.UserRole
ERRORS = SleapTrainError


class LabellingWidget(QWidget):
    """Suggestions, labelling tools, skeleton editor, save and export for the open project."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.video_index = 0
        self.worker = None
        self._busy = False
        self._connected: list = []
        self._edges_cache: np.ndarray | None = None
        self._status_log: list[str] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self.refresh)

        # ---- suggestions
        self.method = QComboBox()
        self.method.addItems(list(METHODS))
        self.method.setCurrentText("image-features")
        self.method.setToolTip(
            "random: random frames; stride: evenly spread; image-features: frames from "
            "every kind of scene (PCA + k-means of small frames, as SLEAP); low-score: "
            "frames whose predictions have the lowest scores."
        )
        self.count = QSpinBox()
        self.count.setRange(1, 100000)
        self.count.setValue(20)
        self.count.setToolTip("How many new frames to suggest in each video.")
        self.suggest_button = QPushButton("Suggest frames")
        self.suggest_button.clicked.connect(lambda: self.suggest())
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Frame", "Labelled", "Predicted", "Mean score"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setToolTip("Click a suggestion to go to its frame.")
        self.table.cellClicked.connect(self.jump_to_row)
        self.table.currentCellChanged.connect(self.jump_to_row)
        keys = QLabel(
            "Keys: Shift+→ or '.' next unlabelled suggestion; Shift+← or ',' previous one."
        )
        keys.setWordWrap(True)
        suggest_box = QGroupBox("Frame suggestions")
        grid = QGridLayout(suggest_box)
        grid.addWidget(QLabel("Method"), 0, 0)
        grid.addWidget(self.method, 0, 1)
        grid.addWidget(QLabel("Frames per video"), 1, 0)
        grid.addWidget(self.count, 1, 1)
        grid.addWidget(self.suggest_button, 2, 0, 1, 2)
        grid.addWidget(self.table, 3, 0, 1, 2)
        grid.addWidget(keys, 4, 0, 1, 2)

        # ---- labelling
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
        label_box = QGroupBox("Labelling")
        lay = QGridLayout(label_box)
        lay.addWidget(self.new_button, 0, 0)
        lay.addWidget(self.accept_button, 0, 1)
        lay.addWidget(self.visibility_button, 1, 0)
        lay.addWidget(self.delete_button, 1, 1)
        lay.addWidget(self.counts, 2, 0, 1, 2)

        # ---- save and export
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
        for fmt, text in (("slp", ".slp…"), ("analysis-h5", "Analysis HDF5…"), ("csv", "CSV…")):
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, f=fmt: self._export_clicked(f))
            self.export_buttons[fmt] = button
        save_box = QGroupBox("Save and export")
        lay = QGridLayout(save_box)
        lay.addWidget(self.save_button, 0, 0, 1, 2)
        lay.addWidget(self.save_as_button, 0, 2, 1, 2)
        lay.addWidget(QLabel("Export predictions"), 1, 0)
        lay.addWidget(self.which, 1, 1)
        export_row = QHBoxLayout()
        for button in self.export_buttons.values():
            export_row.addWidget(button)
        lay.addLayout(export_row, 2, 0, 1, 4)

        label_page = QWidget()
        page = QVBoxLayout(label_page)
        page.addWidget(suggest_box)
        page.addWidget(label_box)
        page.addWidget(save_box)
        page.addStretch()

        # ---- skeleton
        self.editor = SkeletonEditor()
        self.editor.apply_button.clicked.connect(lambda: self.apply_skeleton())
        self.editor.load_button.clicked.connect(self._load_skeleton_clicked)

        self.tabs = QTabWidget()
        self.tabs.addTab(label_page, "Label")
        self.tabs.addTab(self.editor, "Skeleton")
        self.project_label = QLabel()
        self.project_label.setWordWrap(True)
        self.status = QLabel("Ready.")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.project_label)
        layout.addWidget(self.tabs)
        layout.addWidget(self.status)

        self.viewer.layers.events.inserted.connect(self._layers_changed)
        self.viewer.layers.events.removed.connect(self._layers_changed)
        self._bind_keys()
        self._layers_changed()

    # ----- project and layers --------------------------------------------------------
    def say(self, text: str, level: str = "") -> None:
        """Show a status line (and a napari notification for warnings and errors)."""
        self.status.setText(text)
        self._status_log = [*self._status_log[-49:], text]
        if level == "error":
            show_error(text)
        elif level == "warning":
            show_warning(text)
        elif level == "info":
            show_info(text)

    def project(self) -> Project | None:
        """The open project (from the layers' metadata), or None."""
        return source_project(self.viewer)

    def labels(self):
        """The user-labels Points layer, or None."""
        return labels_layer(self.viewer, self.video_index)

    def predictions(self):
        """The predictions Points layer, or None."""
        return predictions_layer(self.viewer, self.video_index)

    def node_names(self) -> list[str]:
        project = self.project()
        if project is not None and project.labels.skeletons:
            return project.node_names
        layer = self.labels()
        if layer is None:
            return []
        kp = layer.features["keypoint"]
        return [str(c) for c in kp.cat.categories] if hasattr(kp, "cat") else sorted(set(kp))

    def edge_inds(self) -> list[tuple[int, int]]:
        project = self.project()
        return project.edge_inds if project is not None and project.labels.skeletons else []

    def current_frame(self) -> int:
        return int(self.viewer.dims.current_step[0]) if self.viewer.dims.ndim else 0

    def _video_shape(self) -> tuple[int, int] | None:
        layer = video_layer(self.viewer)
        if layer is None:
            return None
        return int(layer.data.shape[1]), int(layer.data.shape[2])

    def _layers_changed(self, *_) -> None:
        for layer in (self.labels(), self.predictions()):
            if layer is not None and not any(layer is c for c in self._connected):
                layer.events.data.connect(self._on_layer_data)
                self._connected.append(layer)
        self._connected = [c for c in self._connected if c in self.viewer.layers]
        project = self.project()
        if not self.editor.dirty:
            has = project is not None and project.labels.skeletons
            self.editor.set_skeleton(project.skeleton if has else None)
        if project is None and self.labels() is None and video_layer(self.viewer) is not None:
            self.tabs.setCurrentIndex(1)
        self._describe_project()
        self.refresh()

    def _describe_project(self) -> None:
        project, video = self.project(), video_layer(self.viewer)
        if project is not None:
            where = project.path.name if project.path else "not saved yet"
            nodes = len(project.node_names) if project.labels.skeletons else 0
            text = f"Project: {where} · {len(project.videos)} video(s) · {nodes} nodes"
        elif self.labels() is not None:
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
        if self._busy:
            return
        action = data_action(event)
        if action.endswith("ing"):
            return
        layer = event.source
        if action == "added" and layer is self.labels():
            indices = [int(i) for i in getattr(event, "data_indices", ()) or ()]
            if indices:
                self._repair(layer, indices)
        self._timer.start()

    # ----- writing the labels layer ------------------------------------------------
    def _notify(self, layer) -> None:
        """Tell every listener (the training dock too) that the layer changed."""
        try:
            from napari.layers.base._base_constants import ActionType

            action = ActionType.CHANGED
        except ImportError:  # pragma: no cover - napari moved it
            action = "changed"
        self._busy = True
        try:
            layer.events.data(
                value=layer.data,
                action=action,
                data_indices=tuple(range(len(layer.data))),
                vertex_indices=((),),
            )
        finally:
            self._busy = False

    def _write(self, layer, data, features, select=None, keep_data=False) -> None:
        """Replace a keypoints layer's points and features (symbols follow ``visible``)."""
        features = normalise_features(features, self.node_names())
        symbols = np.where(features["visible"].to_numpy(bool), "disc", "cross")
        self._busy = True
        try:
            if not keep_data:
                layer.selected_data = set()
                with layer.events.data.blocker():
                    layer.data = np.asarray(data, float).reshape(-1, 3)
            layer.features = features
            if len(symbols):
                layer.symbol = symbols
            if select:
                layer.selected_data = set(select)
        finally:
            self._busy = False
        self._notify(layer)
        self.refresh()

    def _table(self, layer) -> tuple[np.ndarray, pd.DataFrame]:
        data = np.asarray(layer.data, float).reshape(-1, 3)
        return data, normalise_features(layer.features, self.node_names())

    def _template(self, data, features, exclude=()) -> np.ndarray:
        nodes = self.node_names()
        keep = np.ones(len(data), bool)
        keep[list(exclude)] = False
        _, poses, _ = instance_poses(data[keep], features[keep].reset_index(drop=True), nodes)
        shape = self._video_shape() or (400, 400)
        return pose_template(poses, len(nodes), typical_radius(poses, min(shape) / 8))

    def _repair(self, layer, rows=None) -> Repair:
        data, feats = self._table(layer)
        exclude = rows if rows is not None else problem_rows(data, feats, self.node_names())
        template = self._template(data, feats, exclude)
        result = repair_points(data, feats, self.node_names(), template, rows)
        if result.fixed or result.unresolved:
            selected = set(layer.selected_data)
            self._write(layer, data, result.features, select=selected, keep_data=True)
        if result.unresolved:
            first = point_text(data, result.unresolved[0])
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
        """Repair every point of the labels layer that has no node (see repair_points)."""
        layer = self.labels()
        return self._repair(layer) if layer is not None else None

    # ----- counts, suggestions table, skeleton edges -----------------------------------
    def refresh(self) -> None:
        """Update the training counts, the suggestions table and the skeleton edges."""
        self._timer.stop()
        frames, instances, bad = self.training_counts()
        text = f"Next training run: {frames} labelled frames, {instances} instances."
        if bad:
            text += f" {bad} point(s) have no node: fix them before saving."
        self.counts.setText(text)
        self._fill_table()
        self._draw_edges()

    def training_counts(self) -> tuple[int, int, int]:
        """Labelled frames and instances the next training run uses (instances with a
        visible node), and points without a valid node."""
        layer = self.labels()
        if layer is None or not len(layer.data):
            return 0, 0, 0
        data, feats = self._table(layer)
        nodes = self.node_names()
        bad = problem_rows(data, feats, nodes)
        good = np.ones(len(data), bool)
        good[bad] = False
        good &= feats["visible"].to_numpy(bool)
        inst = feats["instance"].to_numpy(int)
        keys = np.unique(np.stack([frames_of(data)[good], inst[good]], 1), axis=0)
        return len(set(keys[:, 0].tolist())), len(keys), len(bad)

    def suggestion_rows(self) -> list[tuple[int, bool, int, float]]:
        """(frame, labelled, predicted instances, mean prediction score) per suggestion."""
        project = self.project()
        if project is None or self.video_index >= len(project.videos):
            return []
        frames = project.suggested_frames(project.videos[self.video_index])
        labelled = self._labelled_frames()
        counts, scores = {}, {}
        pred = self.predictions()
        if pred is not None and len(pred.data):
            f = frames_of(pred.data)
            inst = pred.features["instance"].to_numpy(int)
            score = pred.features["score"].to_numpy(float)
            conf = pred.features["confidence"].to_numpy(float)
            best = np.where(np.isfinite(score), score, conf)
            table = pd.DataFrame({"f": f, "i": inst, "s": best})
            per = table.groupby(["f", "i"])["s"].first().groupby(level=0)
            counts, scores = per.size().to_dict(), per.mean().to_dict()
        return [
            (f, f in labelled, int(counts.get(f, 0)), float(scores.get(f, np.nan))) for f in frames
        ]

    def _labelled_frames(self) -> set[int]:
        layer = self.labels()
        return set(frames_of(layer.data).tolist()) if layer is not None else set()

    def _fill_table(self) -> None:
        rows = self.suggestion_rows()
        self.table.blockSignals(True)
        self.table.setRowCount(len(rows))
        for r, (frame, labelled, n_pred, score) in enumerate(rows):
            cells = [str(frame), "yes" if labelled else "no", str(n_pred)]
            cells.append(f"{score:.2f}" if np.isfinite(score) else "–")
            for c, text in enumerate(cells):
                item = self.table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(r, c, item)
                item.setText(text)
                item.setData(FRAME_ROLE, frame)
        self.table.blockSignals(False)

    def _draw_edges(self) -> None:
        shapes, layer = skeleton_layer(self.viewer, self.video_index), self.labels()
        if shapes is None or layer is None:
            return
        data, feats = self._table(layer)
        segments = edge_segments(data, feats, self.node_names(), self.edge_inds())
        if self._edges_cache is not None and np.array_equal(self._edges_cache, segments):
            return
        self._edges_cache = segments
        video = video_layer(self.viewer)
        width = point_size(video.data) / 4 if video is not None else 1.0
        shapes.data = []
        if len(segments):
            shapes.add_lines(list(segments), edge_width=width, edge_color="white")

    # ----- suggestions --------------------------------------------------------------
    def suggest(self, method: str | None = None, n: int | None = None, wait: bool = False):
        """Suggest ``n`` new frames per video with ``method`` (default: the form's values)
        and store them in the project. Runs in a worker, or here with ``wait``; returns the
        worker (None with ``wait`` or on an error)."""
        method = method or self.method.currentText()
        n = int(n or self.count.value())
        source = self.project()
        if source is None:
            self.say("No project: open one, or define a skeleton and press Apply.", "error")
            return None
        try:
            current = project_from_viewer(self.viewer)
        except ERRORS as exc:
            self.say(str(exc), "error")
            return None

        def work():
            return suggest(current.labels, method, n)

        def done(results) -> None:
            added = sum(add_suggestions(source.labels, r.video, r.frames) for r in results)
            self.refresh()
            self.say(f"Suggested {added} new frame(s) ({method}).")

        if wait:
            try:
                done(work())
            except ERRORS as exc:
                self.say(str(exc), "error")
            return None
        self.worker = thread_worker(work, start_thread=False)()
        self.worker.returned.connect(done)
        self.worker.errored.connect(lambda exc: self.say(str(exc), "error"))
        self.worker.finished.connect(self._worker_done)
        self.suggest_button.setEnabled(False)
        self.say(f"Suggesting frames ({method}) …")
        self.worker.start()
        return self.worker

    def _worker_done(self) -> None:
        self.worker = None
        self.suggest_button.setEnabled(True)

    def jump_to_row(self, row: int, *_) -> None:
        item = self.table.item(row, 0)
        if item is not None:
            self.viewer.dims.set_current_step(0, int(item.data(FRAME_ROLE)))

    def goto_suggestion(self, step: int = 1) -> int | None:
        """Go to the next (``step`` 1) or previous (-1) unlabelled suggested frame,
        wrapping around; returns it (None when every suggestion is labelled)."""
        rows = self.suggestion_rows()
        todo = sorted(f for f, labelled, _, _ in rows if not labelled)
        if not todo:
            self.say(
                "Every suggested frame is labelled: suggest more frames."
                if rows
                else "No suggestions yet: press Suggest frames."
            )
            return None
        now = self.current_frame()
        if step > 0:
            target = next((f for f in todo if f > now), todo[0])
        else:
            target = next((f for f in reversed(todo) if f < now), todo[-1])
        self.viewer.dims.set_current_step(0, target)
        frames = [r[0] for r in rows]
        self.table.blockSignals(True)
        self.table.selectRow(frames.index(target))
        self.table.blockSignals(False)
        self.say(f"Frame {target}: {len(todo)} suggested frame(s) left to label.")
        return target

    def _bind_keys(self) -> None:
        ref = weakref.ref(self)

        def make(step):
            def go(viewer):
                widget = ref()
                if widget is not None:
                    widget.goto_suggestion(step)

            go.__doc__ = f"{'Next' if step > 0 else 'Previous'} unlabelled suggested frame."
            return go

        for key in NEXT_KEYS:
            self.viewer.bind_key(key, make(1), overwrite=True)
        for key in PREV_KEYS:
            self.viewer.bind_key(key, make(-1), overwrite=True)

    # ----- labelling ---------------------------------------------------------------
    def _need_labels(self):
        layer = self.labels()
        if layer is None:
            self.say(
                "No labels layer: open a project, or define a skeleton (Skeleton tab) and "
                "press Apply.",
                "error",
            )
        return layer

    def view_centre(self) -> np.ndarray:
        """The centre of the view ``(y, x)``, inside the video."""
        yx = np.asarray(self.viewer.camera.center[-2:], float)
        shape = self._video_shape()
        if shape is not None:
            yx = np.clip(yx, 0, np.array(shape) - 1)
        return yx

    def new_instance(self, frame: int | None = None, centre=None) -> int | None:
        """Place a new instance (all nodes) at the view centre; returns its id."""
        layer = self._need_labels()
        if layer is None:
            return None
        nodes = self.node_names()
        frame = self.current_frame() if frame is None else int(frame)
        data, feats = self._table(layer)
        template = self._template(data, feats)
        pose = template + (self.view_centre() if centre is None else np.asarray(centre, float))
        shape = self._video_shape()
        if shape is not None:
            pose = np.clip(pose, 0, np.array(shape) - 1)
        new_id = int(feats["instance"].max()) + 1 if len(feats) else 0
        rows, cols = instance_rows(frame, pose, nodes, new_id)
        data, feats = append_rows(data, feats, rows, cols, nodes)
        self._write(layer, data, feats, select=range(len(data) - len(rows), len(data)))
        self.viewer.layers.selection.active = layer
        layer.mode = "select"  # ready to drag the nodes
        self.say(f"New instance {new_id} on frame {frame}: drag its nodes into place.")
        return new_id

    def toggle_visibility(self) -> int:
        """Mark the selected points invisible (or all visible again when none is visible)."""
        layer = self._need_labels()
        if layer is None:
            return 0
        rows = sorted(layer.selected_data)
        if not rows:
            self.say("Select the nodes to hide or show in the labels layer first.")
            return 0
        data, feats = self._table(layer)
        visible = feats["visible"].to_numpy(bool).copy()
        make = not visible[rows].any()
        visible[rows] = make
        feats["visible"] = visible
        self._write(layer, data, feats, select=rows, keep_data=True)
        self.say(f"{len(rows)} node(s) marked {'visible' if make else 'invisible'}.")
        return len(rows)

    def delete_instance(self) -> int:
        """Delete the instances of the selected points; returns how many."""
        layer = self._need_labels()
        if layer is None:
            return 0
        rows = sorted(layer.selected_data)
        if not rows:
            self.say("Select a point of the instance to delete first.")
            return 0
        data, feats = self._table(layer)
        keys = np.stack([frames_of(data), feats["instance"].to_numpy(int)], 1)
        chosen = {tuple(k) for k in keys[rows]}
        drop = np.array([tuple(k) in chosen for k in keys])
        self._write(layer, data[~drop], feats[~drop].reset_index(drop=True))
        self.say(f"Deleted {len(chosen)} instance(s).")
        return len(chosen)

    def accept_predictions(self) -> int:
        """Copy predicted instances into the labels as user instances; returns how many.

        The instances of the points selected in the predictions layer on the current
        frame, or every predicted instance on it when none is selected. A prediction that a user
        instance of its frame already covers (same track, or overlapping) is skipped.
        """
        layer, pred = self._need_labels(), self.predictions()
        if layer is None:
            return 0
        if pred is None or not len(pred.data):
            self.say("There are no predictions to accept: train and predict first.", "warning")
            return 0
        nodes = self.node_names()
        pdata, pfeats = self._table(pred)
        keys, poses, groups = instance_poses(pdata, pfeats, nodes)
        frame_now = self.current_frame()
        pframes = frames_of(pdata)
        selected = [r for r in sorted(pred.selected_data) if pframes[r] == frame_now]
        if selected:
            pkeys = np.stack([frames_of(pdata), pfeats["instance"].to_numpy(int)], 1)
            wanted = {tuple(k) for k in pkeys[selected]}
        else:
            wanted = {tuple(k) for k in keys if k[0] == frame_now}
        if not wanted:
            self.say(f"No predicted instance on frame {self.current_frame()} to accept.")
            return 0
        data, feats = self._table(layer)
        ukeys, uposes, urows = instance_poses(data, feats, nodes)
        utracks = [feats["track"].iloc[r[0]] for r in urows]
        next_id = int(feats["instance"].max()) + 1 if len(feats) else 0
        new_data, new_cols, skipped, frames = [], {}, 0, set()
        for m, key in enumerate(keys):
            if tuple(key) not in wanted:
                continue
            frame, rows = int(key[0]), groups[m]
            track = str(pfeats["track"].iloc[rows[0]])
            covered = any(
                uk[0] == frame and ((track and ut == track) or instances_overlap(up, poses[m]))
                for uk, up, ut in zip(ukeys, uposes, utracks)
            )
            if covered:
                skipped += 1
                continue
            visible = np.ones(len(nodes), bool)
            node_idx = {n: i for i, n in enumerate(nodes)}
            for r in rows:
                k = pfeats["keypoint"].iloc[r]
                if k in node_idx:
                    visible[node_idx[k]] = bool(pfeats["visible"].iloc[r])
            rows_data, cols = instance_rows(frame, poses[m], nodes, next_id, track, visible)
            new_data.append(rows_data)
            for k, v in cols.items():
                new_cols.setdefault(k, []).extend(v)
            frames.add(frame)
            next_id += 1
        n = len(new_data)
        pred.selected_data = set()
        if n:
            added = np.concatenate(new_data)
            data, feats = append_rows(data, feats, added, new_cols, nodes)
            self._write(layer, data, feats, select=range(len(data) - len(added), len(data)))
            self.viewer.layers.selection.active = layer
        note = f" ({skipped} already labelled)" if skipped else ""
        self.say(f"Accepted {n} predicted instance(s) on {len(frames)} frame(s){note}.")
        return n

    # ----- skeleton ----------------------------------------------------------------
    def apply_skeleton(self) -> bool:
        """Use the editor's skeleton: start a project on a bare video, or update the
        open project's skeleton (renamed nodes keep their points)."""
        try:
            skeleton = self.editor.skeleton()
        except SkeletonError as exc:
            self.editor.message.setText(str(exc))
            self.say(str(exc), "error")
            return False
        project = self.project()
        try:
            if project is None and self.labels() is None:
                self._start_project(skeleton)
            else:
                self._update_skeleton(project, skeleton)
        except ERRORS as exc:
            self.say(str(exc), "error")
            return False
        self.editor.set_skeleton(skeleton)
        self._edges_cache = None
        self._layers_changed()
        self.tabs.setCurrentIndex(0)
        return True

    def _start_project(self, skeleton: sio.Skeleton) -> None:
        image = video_layer(self.viewer)
        if image is None:
            raise ProjectError(
                "No video to label: open a video (File ▸ Open) before applying a skeleton."
            )
        lazy: LazyVideo = image.data
        video = sio.load_video(lazy.filename)
        project = Project(labels=sio.Labels(videos=[video], skeletons=[skeleton]))
        name = video_name(video)
        info = {"project": project, "video_index": 0}
        image.metadata[META_KEY] = {**image.metadata.get(META_KEY, {}), **info}
        size = point_size(lazy)
        self.viewer.add_shapes(
            None,
            ndim=3,
            shape_type="line",
            name=f"{name} skeleton",
            edge_color="white",
            edge_width=size / 4,
            metadata={META_KEY: {**info, "kind": "skeleton"}},
        )
        table = PointsTable(np.zeros((0, 3)), _empty_features(skeleton.node_names))
        data, kwargs, _ = points_layer_data(table, f"{name} labels", {META_KEY: info}, "user", size)
        self.viewer.add_points(data, **{k: v for k, v in kwargs.items() if k != "ndim"}, ndim=3)
        self.say(
            f"New project on {name} with {len(skeleton.node_names)} nodes: go to a frame and "
            "press New instance."
        )

    def _update_skeleton(self, project: Project | None, skeleton: sio.Skeleton) -> None:
        origins = self.editor.origins()
        rename = {old: new for new, old in origins.items() if old is not None}
        nodes = list(skeleton.node_names)
        dropped = 0
        for layer in (self.labels(), self.predictions()):
            if layer is None:
                continue
            data = np.asarray(layer.data, float).reshape(-1, 3)
            feats = layer.features.copy()
            kp = feats["keypoint"].astype(object).map(lambda k: rename.get(k))
            keep = kp.notna().to_numpy() | feats["keypoint"].isna().to_numpy()
            dropped += int((~keep).sum())
            feats["keypoint"] = kp
            feats = feats[keep].reset_index(drop=True)
            self._busy = True
            try:
                layer.selected_data = set()
                with layer.events.data.blocker():
                    layer.data = data[keep]
                layer.features = normalise_features(feats, nodes)
                layer.symbol = (
                    np.where(layer.features["visible"], "disc", "cross") if len(feats) else "disc"
                )
                layer.face_color = "keypoint"
            finally:
                self._busy = False
            self._notify(layer)
        if project is not None:
            project.labels.skeletons = [skeleton]
        if self.predictions() is not None:
            show_predictions(self.viewer, project_from_viewer(self.viewer), self.video_index)
        note = f"; {dropped} point(s) of removed nodes deleted" if dropped else ""
        self.say(f"Skeleton applied: {len(nodes)} nodes{note}.")

    def load_skeleton(self, path: str | Path) -> bool:
        """Show the skeleton of a ``.slp`` in the editor (press Apply to use it)."""
        try:
            self.editor.load_file(path, self.node_names())
        except SkeletonError as exc:
            self.say(str(exc), "error")
            return False
        self.tabs.setCurrentIndex(1)
        self.say(f"Skeleton of {Path(path).name} loaded: press Apply to use it.")
        return True

    def _load_skeleton_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Load skeleton", "", "SLEAP project or skeleton (*.slp *.json)"
        )
        if path:
            self.load_skeleton(path)

    # ----- saving and exporting ------------------------------------------------------
    def current_project(self) -> Project | None:
        """The project as the layers show it, with problem points repaired; None (and a
        message) when a point has no node or the layers make no project."""
        repair = self.repair_all()
        if repair is not None and repair.unresolved:
            return None
        try:
            return project_from_viewer(self.viewer)
        except ERRORS as exc:
            self.say(str(exc), "error")
            return None

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
        dropped = drop_overlapping_predictions(project.labels)
        try:
            target = project.save(path)
        except ERRORS as exc:
            self.say(str(exc), "error")
            return None
        set_project(self.viewer, project)
        if dropped and self.predictions() is not None:
            show_predictions(self.viewer, project, self.video_index)
        users = sum(len(lf.user_instances) for lf in project.labels.labeled_frames)
        preds = sum(len(lf.predicted_instances) for lf in project.labels.labeled_frames)
        note = f"; {dropped} prediction(s) replaced by user instances" if dropped else ""
        self.say(f"Saved {target.name}: {users} user and {preds} predicted instances{note}.")
        self._describe_project()
        return target

    def _save_clicked(self) -> None:
        project = self.project()
        if project is not None and project.path is not None:
            self.save_project()
        else:
            self._save_as_clicked()

    def _save_as_clicked(self) -> None:
        project, video = self.project(), video_layer(self.viewer)
        start = ""
        if project is not None and project.path is not None:
            start = str(project.path)
        elif video is not None:
            start = str(Path(video.data.filename).with_suffix(".slp"))
        path, _ = QFileDialog.getSaveFileName(self, "Save project", start, "SLEAP (*.slp)")
        if path:
            self.save_project(path if path.lower().endswith(".slp") else path + ".slp")

    def export(self, path: str | Path, fmt: str = "slp", which: str | None = None) -> Path | None:
        """Export the project's poses as ``fmt`` (slp, analysis-h5, csv) to ``path``."""
        which = which or self.which.currentText()
        project = self.current_project()
        if project is None:
            return None
        if which == "all":
            drop_overlapping_predictions(project.labels)
        video = self.video_index if fmt != "slp" else None
        try:
            out = export_labels(
                project.labels, path, fmt, which=which, video=video, labels_path=project.path
            )
        except ERRORS as exc:
            self.say(str(exc), "error")
            return None
        self.say(f"Exported {which} instances to {out}.", "info")
        return out

    def _export_clicked(self, fmt: str) -> None:
        project = self.project()
        stem = project.path.with_suffix("") if project and project.path else Path("predictions")
        suffix = {"slp": ".predictions.slp", "analysis-h5": ".analysis.h5", "csv": ".csv"}[fmt]
        path, _ = QFileDialog.getSaveFileName(
            self, "Export predictions", str(stem) + suffix, EXPORT_FORMATS[fmt]
        )
        if path:
            self.export(path, fmt)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self.worker is not None:
            self.worker.quit()
        super().closeEvent(event)
