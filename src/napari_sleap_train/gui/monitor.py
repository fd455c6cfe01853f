"""The training monitor: per-batch loss as points, per-epoch train/val loss as lines."""

from __future__ import annotations

import math
import time

import numpy as np
from qtpy.QtCore import QPointF, Qt
from qtpy.QtGui import QColor, QPainter, QPen
from qtpy.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

BATCH_COLOR = QColor(60, 120, 230)
TRAIN_COLOR = QColor(230, 160, 40)
VAL_COLOR = QColor(220, 60, 60)


class LossPlot(QWidget):
    """A light-weight plot painted with QPainter: no plotting library needed."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumHeight(160)
        self.batches: list[tuple[float, float]] = []  # (fractional epoch, loss)
        self.train: list[tuple[float, float]] = []
        self.val: list[tuple[float, float]] = []
        self.best_epoch: int | None = None
        self.log_scale = True
        self.ignore_outliers = True
        self.recent_batches = 1000

    def clear(self) -> None:
        self.batches, self.train, self.val, self.best_epoch = [], [], [], None
        self.update()

    def _values(self) -> tuple[list, list, list]:
        return self.batches[-self.recent_batches :], self.train, self.val

    def _range(
        self, pts: list[tuple[float, float]], epochs: list[tuple[float, float]] = ()
    ) -> tuple[float, float, float, float]:
        """Axes limits; outliers are ignored among batch losses, epoch losses always show."""
        xs = np.array([p[0] for p in [*pts, *epochs]])
        ys = self._finite([p[1] for p in pts])
        lines = self._finite([p[1] for p in epochs])
        if not len(ys) and not len(lines):
            return 0, 1, 0, 1
        if self.ignore_outliers and len(ys) > 10:
            ys = np.percentile(ys, [1, 95])
        ys = np.concatenate([ys, lines])
        lo, hi = float(ys.min()), float(ys.max())
        if self.log_scale:
            lo, hi = math.log10(max(lo, 1e-12)), math.log10(max(hi, 1e-12))
        if hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        return float(xs.min()), float(max(xs.max(), xs.min() + 1)), lo, hi

    def _finite(self, values: list[float]) -> np.ndarray:
        ys = np.asarray(values, dtype=float)
        return ys[np.isfinite(ys) & ((ys > 0) if self.log_scale else True)]

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor(30, 30, 35))
        batches, train, val = self._values()
        pts = batches + train + val
        if not pts:
            painter.setPen(QColor(160, 160, 160))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "loss appears here")
            return
        lines = [p for p in train + val if p[0] >= 2] or train + val
        x0, x1, y0, y1 = self._range(batches, lines)
        w, h, m = self.width(), self.height(), 8

        def to_px(x: float, y: float) -> QPointF | None:
            if not np.isfinite(y) or (self.log_scale and y <= 0):
                return None
            yy = math.log10(y) if self.log_scale else y
            yy = min(max(yy, y0), y1)
            return QPointF(
                m + (x - x0) / (x1 - x0) * (w - 2 * m), h - m - (yy - y0) / (y1 - y0) * (h - 2 * m)
            )

        painter.setPen(QPen(BATCH_COLOR, 2))
        for x, y in batches:
            p = to_px(x, y)
            if p is not None:
                painter.drawPoint(p)
        for series, color in ((train, TRAIN_COLOR), (val, VAL_COLOR)):
            painter.setPen(QPen(color, 2))
            line = [to_px(x, y) for x, y in series]
            line = [p for p in line if p is not None]
            for a, b in zip(line, line[1:]):
                painter.drawLine(a, b)
        if self.best_epoch is not None and val:
            best = next((p for p in val if p[0] == self.best_epoch), None)
            p = to_px(*best) if best else None
            if p is not None:
                painter.setPen(QPen(QColor(80, 220, 120), 2))
                painter.drawEllipse(p, 5, 5)
        painter.end()


class TrainingMonitor(QWidget):
    """Plot, title line (model, epoch, elapsed, ETA, patience, best loss) and progress bar."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plot = LossPlot(self)
        self.title = QLabel("No training yet.")
        self.title.setWordWrap(True)
        self.progress = QProgressBar()
        self.log_box = QCheckBox("log scale")
        self.log_box.setChecked(True)
        self.outlier_box = QCheckBox("ignore outliers")
        self.outlier_box.setChecked(True)
        self.recent = QSpinBox()
        self.recent.setRange(10, 100000)
        self.recent.setValue(1000)
        self.recent.setPrefix("last ")
        self.recent.setSuffix(" batches")
        for box in (self.log_box, self.outlier_box):
            box.toggled.connect(self._options)
        self.recent.valueChanged.connect(self._options)
        options = QHBoxLayout()
        for w in (self.log_box, self.outlier_box, self.recent):
            options.addWidget(w)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.plot)
        layout.addLayout(options)
        layout.addWidget(self.progress)
        self._start = None
        self._model = ""
        self._epochs = 1
        self._batches = 1
        self._patience = 0
        self._best = math.inf
        self._wait = 0
        self.n_batch_events = 0
        self.n_epoch_events = 0
        self.budget_end: float | None = None

    def _options(self) -> None:
        self.plot.log_scale = self.log_box.isChecked()
        self.plot.ignore_outliers = self.outlier_box.isChecked()
        self.plot.recent_batches = self.recent.value()
        self.plot.update()

    def set_budget(self, minutes: float | None) -> None:
        """Show the time left of a total budget (None: no budget) from now on."""
        self.budget_end = None if minutes is None else time.perf_counter() + minutes * 60

    def start(self, model: str, epochs: int, batches: int, patience: int) -> None:
        """A new model's run begins."""
        self.plot.clear()
        self._model, self._epochs, self._batches, self._patience = model, epochs, batches, patience
        self._best, self._wait, self._start = math.inf, 0, time.perf_counter()
        self.progress.setRange(0, epochs * batches)
        self.progress.setValue(0)
        self._title(0)

    def batch(self, epoch: int, batch: int, loss: float) -> None:
        self.n_batch_events += 1
        self.plot.batches.append((epoch + (batch + 1) / self._batches, loss))
        done = epoch * self._batches + batch + 1
        self.progress.setValue(done)
        if batch % 10 == 0:
            self._title(epoch)
            self.plot.update()

    def epoch(
        self, epoch: int, train_loss: float, val_loss: float, is_best: bool, wait: int
    ) -> None:
        self.n_epoch_events += 1
        self.plot.train.append((epoch + 1, train_loss))
        self.plot.val.append((epoch + 1, val_loss))
        if is_best:
            self._best = val_loss
            self.plot.best_epoch = epoch + 1
        self._wait = wait
        self._title(epoch + 1)
        self.plot.update()

    def _title(self, epoch: int) -> None:
        elapsed = time.perf_counter() - (self._start or time.perf_counter())
        done = max(self.progress.value(), 1)
        total = self.progress.maximum()
        eta = elapsed / done * (total - done) if done > 1 else float("nan")
        best = f"{self._best:.3g}" if math.isfinite(self._best) else "-"
        budget = ""
        if self.budget_end is not None:
            left = max(self.budget_end - time.perf_counter(), 0.0)
            budget = f" · budget left {_hms(left)}"
            eta = min(eta, left) if math.isfinite(eta) else eta
        self.title.setText(
            f"<b>{self._model}</b> epoch {epoch}/{self._epochs} · {_hms(elapsed)} elapsed · "
            f"ETA {_hms(eta)} (at most) · no improvement {self._wait}/{self._patience} · "
            f"best val loss {best}{budget}"
        )

    def finish(self, text: str) -> None:
        self.title.setText(text)
        self.plot.update()


def _hms(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "-"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
