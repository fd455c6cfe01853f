"""Frame suggestions: make them, list them, and go from one unlabelled suggestion to the
next (``Shift+Right`` or ``.``; ``Shift+Left`` or ``,`` goes back)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
)

from ...errors import SleapTrainError, SuggestionError
from ...models.folder import runs_in, runs_root
from ...suggestions.frames import METHODS, add_suggestions, suggest
from ...suggestions.from_model import MODEL_METHODS
from ..layers.points_table import frames_of
from ..layers.project_layers import ProjectLayers, show_predictions
from ..workers import cause, worker
from .keys import bind_steps

MODEL_LABELS = {
    "mix": "model: unsure or new (mix)",
    "uncertainty": "model: unsure",
    "novelty": "model: new poses",
}
NEXT_KEYS = ("Shift-Right", ".")
PREV_KEYS = ("Shift-Left", ",")
FRAME_ROLE = Qt.ItemDataRole.UserRole


class SuggestionsPanel(QGroupBox):
    """Method, how many, Suggest frames, and the table of suggested frames."""

    def __init__(self, layers: ProjectLayers, say: Callable[..., None], changed: Callable):
        super().__init__("Frame suggestions")
        self.layers, self.say, self.changed = layers, say, changed
        self.worker = None
        self.method = QComboBox()
        for name in METHODS:
            self.method.addItem(name, name)
        for name in MODEL_METHODS:
            self.method.addItem(MODEL_LABELS[name], name)
        self.method.setCurrentText("image-features")
        self.reasons: dict[tuple[int, int], str] = {}  # (video, frame) -> why suggested
        self._reasons_of: object = None  # the project file the reasons belong to
        self.method.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.method.setMinimumContentsLength(8)  # fits a narrow dock
        self.method.setToolTip(
            "random: random frames; stride: evenly spread; image-features: frames from "
            "every kind of scene (PCA + k-means of small frames, as SLEAP); low-score: "
            "frames whose predictions have the lowest scores. With the last trained run: "
            "model: unsure (body parts that move when the frame is rotated, weak peaks), "
            "model: new poses (unlike every labelled pose), or both, spread over the video "
            "(mix); their predictions are added, ready to correct."
        )
        self.count = QSpinBox()
        self.count.setRange(1, 100000)
        self.count.setValue(20)
        self.count.setToolTip("How many new frames to suggest in each video.")
        self.suggest_button = QPushButton("Suggest frames")
        self.suggest_button.clicked.connect(lambda: self.suggest())
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Frame", "Labelled", "Predicted", "Score", "Why"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setMinimumSectionSize(40)
        self.table.setToolTip("Click a suggestion to go to its frame.")
        self.table.cellClicked.connect(self.jump_to_row)
        self.table.currentCellChanged.connect(self.jump_to_row)
        keys = QLabel(
            "Keys: Shift+→ or '.' next unlabelled suggestion; Shift+← or ',' previous one."
        )
        keys.setWordWrap(True)
        grid = QGridLayout(self)
        grid.addWidget(QLabel("Method"), 0, 0)
        grid.addWidget(self.method, 0, 1)
        grid.addWidget(QLabel("Frames per video"), 1, 0)
        grid.addWidget(self.count, 1, 1)
        grid.addWidget(self.suggest_button, 2, 0, 1, 2)
        grid.addWidget(self.table, 3, 0, 1, 2)
        grid.addWidget(keys, 4, 0, 1, 2)
        self._bind_keys()

    def rows(self) -> list[tuple[int, bool, int, float]]:
        """(frame, labelled, predicted instances, mean prediction score) per suggestion."""
        project = self.layers.project
        if project is None or self.layers.video_index >= len(project.videos):
            return []
        frames = project.suggested_frames(project.videos[self.layers.video_index])
        labels = self.layers.labels
        labelled = set(frames_of(labels.data).tolist()) if labels is not None else set()
        counts, scores = {}, {}
        pred = self.layers.predictions
        if pred is not None and len(pred.data):
            score = pred.features["score"].to_numpy(float)
            conf = pred.features["confidence"].to_numpy(float)
            table = pd.DataFrame(
                {
                    "f": frames_of(pred.data),
                    "i": pred.features["instance"].to_numpy(int),
                    "s": np.where(np.isfinite(score), score, conf),
                }
            )
            per = table.groupby(["f", "i"])["s"].first().groupby(level=0)
            counts, scores = per.size().to_dict(), per.mean().to_dict()
        return [
            (f, f in labelled, int(counts.get(f, 0)), float(scores.get(f, np.nan))) for f in frames
        ]

    def _forget_other_projects(self) -> None:
        """Drop the reasons of suggestions made in another project than the open one."""
        path = getattr(self.layers.project, "path", None)
        if path != self._reasons_of:
            self.reasons.clear()
            self._reasons_of = path

    def fill(self) -> None:
        """Show the suggestions in the table."""
        rows = self.rows()
        self.table.blockSignals(True)
        self.table.setRowCount(len(rows))
        video = self.layers.video_index
        self._forget_other_projects()
        for r, (frame, labelled, n_pred, score) in enumerate(rows):
            cells = [str(frame), "yes" if labelled else "no", str(n_pred)]
            cells.append(f"{score:.2f}" if np.isfinite(score) else "–")
            cells.append(self.reasons.get((video, frame), ""))
            for c, text in enumerate(cells):
                item = self.table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(r, c, item)
                item.setText(text)
                item.setToolTip(text if c == 4 else "")
                item.setData(FRAME_ROLE, frame)
        self.table.blockSignals(False)

    def suggest(self, method: str | None = None, n: int | None = None, wait: bool = False):
        """Suggest ``n`` new frames per video with ``method`` (default: the form's values)
        and store them in the project. Runs in a worker, or here with ``wait``; returns the
        worker (None with ``wait`` or on an error)."""
        method = method or self.method.currentData()
        n = int(n or self.count.value())
        source = self.layers.project
        if source is None:
            self.say("No project: open one, or define a skeleton and press Apply.", "error")
            return None
        try:
            current = self.layers.rebuild()
            if method in MODEL_METHODS:
                work, done = self._with_model(current, method, n)
            else:
                work, done = self._without_model(source, current, method, n)
        except SleapTrainError as exc:
            self.say(str(exc), "error")
            return None

        if wait:
            try:
                done(work())
            except SleapTrainError as exc:
                self.say(str(exc), "error")
            return None
        self.worker = worker(work)
        self.worker.returned.connect(done)
        self.worker.errored.connect(lambda exc: self.say(str(cause(exc)), "error"))
        self.worker.finished.connect(self._worker_done)
        self.suggest_button.setEnabled(False)
        self.say(f"Suggesting frames ({method}) …")
        self.worker.start()
        return self.worker

    def _without_model(self, source, current, method: str, n: int):
        def work():
            return suggest(current.labels, method, n)

        def done(results) -> None:
            added = sum(add_suggestions(source.labels, r.video, r.frames) for r in results)
            self._forget_other_projects()
            index = {id(v): i for i, v in enumerate(current.videos)}
            for r in results:
                for frame, why in r.reasons.items():
                    self.reasons[(index[id(r.video)], frame)] = why
            self.changed()
            self.say(f"Suggested {added} new frame(s) ({method}).")

        return work, done

    def _with_model(self, project, method: str, n: int):
        """Suggestions from the newest run beside the project, in the shown video; their
        predictions go into the predictions layer, ready to correct."""
        from ...inference.results import add_predictions
        from ...suggestions.from_model import suggest_from_run

        runs = runs_in(runs_root(project.path))
        if not runs:
            raise SuggestionError(
                f"{MODEL_LABELS[method]} needs a trained model: train one first (Run in the "
                "training dock); runs are kept in models/ beside the project."
            )
        run, index = runs[-1], self.layers.video_index
        video = project.videos[index]

        def work():
            (res,) = suggest_from_run(project, run.path, method, n, videos=[video])
            chosen = [d.prediction for d in res.result.chosen]
            add_predictions(project, video, chosen)
            return res

        def done(res) -> None:
            self._forget_other_projects()
            for d in res.result.chosen:
                self.reasons[(index, d.frame)] = d.reason
            with self.layers.quiet():
                show_predictions(self.layers.viewer, project, index)
            self.changed()
            self.say(
                f"Suggested {res.added} new frame(s) with {run.path.name} "
                f"({MODEL_LABELS[method]}; {len(res.result.sampled)} frames looked at, "
                f"{res.result.fps:.1f} frames/s); their predictions are ready to correct."
            )

        return work, done

    def _worker_done(self) -> None:
        self.worker = None
        self.suggest_button.setEnabled(True)

    def jump_to_row(self, row: int, *_) -> None:
        item = self.table.item(row, 0)
        if item is not None:
            self.layers.viewer.dims.set_current_step(0, int(item.data(FRAME_ROLE)))

    def goto(self, step: int = 1) -> int | None:
        """Go to the next (``step`` 1) or previous (-1) unlabelled suggested frame,
        wrapping around; returns it (None when every suggestion is labelled)."""
        rows = self.rows()
        todo = sorted(f for f, labelled, _, _ in rows if not labelled)
        if not todo:
            self.say(
                "Every suggested frame is labelled: suggest more frames."
                if rows
                else "No suggestions yet: press Suggest frames."
            )
            return None
        now = self.layers.current_frame()
        if step > 0:
            target = next((f for f in todo if f > now), todo[0])
        else:
            target = next((f for f in reversed(todo) if f < now), todo[-1])
        self.layers.viewer.dims.set_current_step(0, target)
        self.table.blockSignals(True)
        self.table.selectRow([r[0] for r in rows].index(target))
        self.table.blockSignals(False)
        self.say(f"Frame {target}: {len(todo)} suggested frame(s) left to label.")
        return target

    def _bind_keys(self) -> None:
        bind_steps(
            self.layers.viewer, self, "goto", NEXT_KEYS, PREV_KEYS, "unlabelled suggested frame"
        )
