"""The training monitor: loss plots with axes, a legend, the best epoch and a readout.

The plot is pyqtgraph's (zoom and pan with the mouse; the ``A`` button or **Fit** brings
the whole run back): batch losses as a thin line, each epoch's training and validation loss
as lines with points, the best epoch marked. Events only store values; a timer redraws at
most twice a second (a redraw takes ~5 ms; at five a second training in the dock ran at
0.91 of the command line's speed, at two 0.96-1.02: ``benchmarks/bench_dock.py``).
"""

from __future__ import annotations

import math
import time

import numpy as np
import pyqtgraph as pg
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

BATCH_COLOR = (60, 120, 230)
TRAIN_COLOR = (230, 160, 40)
VAL_COLOR = (220, 60, 60)
BEST_COLOR = (80, 220, 120)
REDRAW_MS = 500


def y_range(
    batches: np.ndarray, epochs: np.ndarray, log: bool, ignore_outliers: bool
) -> tuple[float, float]:
    """The y limits (log10 values on a log axis): epoch losses always show; among batch
    losses, outliers are left out when asked (1st to 95th percentile)."""

    def usable(values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, float)
        return values[np.isfinite(values) & ((values > 0) if log else True)]

    ys, lines = usable(batches), usable(epochs)
    if not len(ys) and not len(lines):
        return (0.0, 1.0)
    if ignore_outliers and len(ys) > 10:
        ys = np.percentile(ys, [1, 95])
    ys = np.concatenate([ys, lines])
    lo, hi = float(ys.min()), float(ys.max())
    if log:
        lo, hi = math.log10(lo), math.log10(hi)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    pad = 0.05 * (hi - lo)
    return lo - pad, hi + pad


def log_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    """Labelled ticks for a log axis spanning ``10**lo`` to ``10**hi``: the coarsest of
    powers of ten, 1-2-5 steps or every digit that gives three ticks, else evenly spaced
    values."""
    for digits in ((1,), (1, 2, 5), tuple(range(1, 10))):
        values = [
            d * 10.0**k
            for k in range(math.floor(lo), math.ceil(hi) + 1)
            for d in digits
            if lo <= math.log10(d * 10.0**k) <= hi
        ]
        if len(values) >= 3:
            break
    else:
        values = sorted({float(f"{v:.3g}") for v in np.linspace(10.0**lo, 10.0**hi, 5)[1:-1]})
    return [(math.log10(v), f"{v:.3g}") for v in values]


class LossPlot(pg.PlotWidget):
    """Loss against epoch: batches, training and validation loss, the best epoch."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, background=(30, 30, 35))
        self.setMinimumHeight(110)
        item = self.getPlotItem()
        item.setLabel("bottom", "epoch")
        item.setLabel("left", "loss (MSE)")
        item.getAxis("left").enableAutoSIPrefix(False)
        item.showGrid(x=True, y=True, alpha=0.2)
        item.addLegend(offset=(-5, 2), labelTextSize="8pt", colCount=4)
        self.batch_line = item.plot([], [], pen=pg.mkPen(BATCH_COLOR, width=1), name="batch loss")
        self.batch_line.setDownsampling(auto=True, method="peak")
        self.batch_line.setClipToView(True)
        epoch_line = {"symbol": "o", "symbolSize": 5}
        self.train_line = item.plot(
            [],
            [],
            pen=pg.mkPen(TRAIN_COLOR, width=2),
            symbolBrush=TRAIN_COLOR,
            name="train loss",
            **epoch_line,
        )
        self.val_line = item.plot(
            [],
            [],
            pen=pg.mkPen(VAL_COLOR, width=2),
            symbolBrush=VAL_COLOR,
            name="val loss",
            **epoch_line,
        )
        self.best = item.plot(
            [],
            [],
            pen=None,
            symbol="star",
            symbolSize=14,
            symbolBrush=BEST_COLOR,
            name="best epoch",
        )
        self.cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen((200, 200, 200), width=1))
        self.cursor.hide()
        item.addItem(self.cursor, ignoreBounds=True)
        self.readout = QLabel("Hover over the plot to read epoch and loss.")
        self.batches: list[tuple[float, float]] = []  # (fractional epoch, loss)
        self.train: list[tuple[float, float]] = []
        self.val: list[tuple[float, float]] = []
        self.best_epoch: int | None = None
        self.log_scale = True
        self.ignore_outliers = True
        self.recent_batches = 1000
        self.follow = True
        item.sigRangeChangedManually.connect(self._zoomed)
        self.scene().sigMouseMoved.connect(self._hover)
        item.setLogMode(y=True)

    def clear_data(self) -> None:
        self.batches, self.train, self.val, self.best_epoch = [], [], [], None
        self.follow = True
        self.redraw()

    def _zoomed(self, *_) -> None:
        self.follow = False  # the user zoomed or panned: leave the view where it is

    def fit(self) -> None:
        self.follow = True
        self.redraw()

    def _series(self, points: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
        arr = np.asarray(points, float).reshape(-1, 2)
        x, y = arr[:, 0], arr[:, 1]
        keep = np.isfinite(y) & ((y > 0) if self.log_scale else True)
        return x[keep], y[keep]

    def redraw(self) -> None:
        """Put the stored values on the plot and fit the view (unless the user zoomed)."""
        item = self.getPlotItem()
        item.setLogMode(y=self.log_scale)
        recent = self.batches[-self.recent_batches :]
        bx, by = self._series(recent)
        tx, ty = self._series(self.train)
        vx, vy = self._series(self.val)
        self.batch_line.setData(bx, by)
        self.train_line.setData(tx, ty)
        self.val_line.setData(vx, vy)
        best = [p for p in self.val if p[0] == self.best_epoch]
        self.best.setData(*self._series(best))
        if self.follow and (len(bx) or len(tx) or len(vx)):
            xs = np.concatenate([bx, tx, vx])
            item.setXRange(float(xs.min()), float(max(xs.max(), xs.min() + 1)), padding=0.02)
            epochs = [p for p in self.train + self.val if p[0] >= 2] or self.train + self.val
            _, ey = self._series(epochs)
            lo, hi = y_range(by, ey, self.log_scale, self.ignore_outliers)
            hi += 0.25 * (hi - lo)  # room for the legend above the curves
            item.setYRange(lo, hi, padding=0)
            axis = item.getAxis("left")
            axis.setTicks([log_ticks(lo, hi)] if self.log_scale else None)

    def value_at(self, epoch: float) -> str:
        """The readout for the epoch nearest to ``epoch``."""
        if not self.val:
            recent = self.batches[-self.recent_batches :]
            if not recent:
                return ""
            x, y = min(recent, key=lambda p: abs(p[0] - epoch))
            return f"epoch {x:.2f}: batch loss {y:.4g}"
        i = int(np.argmin([abs(p[0] - epoch) for p in self.val]))
        e, val = self.val[i]
        train = self.train[i][1] if i < len(self.train) else float("nan")
        mark = " (best)" if e == self.best_epoch else ""
        return f"epoch {e:.0f}{mark}: train loss {train:.4g}, val loss {val:.4g}"

    def _hover(self, pos) -> None:
        item = self.getPlotItem()
        if not item.sceneBoundingRect().contains(pos):
            self.cursor.hide()
            return
        epoch = item.vb.mapSceneToView(pos).x()
        text = self.value_at(epoch)
        if text:
            self.cursor.setPos(epoch)
            self.cursor.show()
            self.readout.setText(text)


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
        self.recent.setRange(10, 10_000_000)
        self.recent.setValue(1000)
        self.recent.setPrefix("last ")
        self.recent.setSuffix(" batches")
        self.fit_button = QPushButton("Fit")
        self.fit_button.setToolTip("Show the whole run again after zooming or panning.")
        self.fit_button.clicked.connect(self.plot.fit)
        for box in (self.log_box, self.outlier_box):
            box.toggled.connect(self._options)
        self.recent.valueChanged.connect(self._options)
        options = QHBoxLayout()
        for w in (self.log_box, self.outlier_box, self.recent, self.fit_button):
            options.addWidget(w)
        options.addStretch()
        self.plot.readout.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.plot, 1)
        layout.addLayout(options)
        layout.addWidget(self.plot.readout)
        layout.addWidget(self.progress)
        self.model_name = ""
        self._start: float | None = None
        self._epoch = 0
        self._epochs = 1
        self._batches = 1
        self._patience = 0
        self._best = math.inf
        self._wait = 0
        self._metrics: dict[str, float] = {}
        self._dirty = False
        self.n_batch_events = 0
        self.n_epoch_events = 0
        self.budget_end: float | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._refresh)
        self._timer.start()

    def _options(self) -> None:
        self.plot.log_scale = self.log_box.isChecked()
        self.plot.ignore_outliers = self.outlier_box.isChecked()
        self.plot.recent_batches = self.recent.value()
        self.plot.fit()

    def set_budget(self, minutes: float | None) -> None:
        """Show the time left of a total budget (None: no budget) from now on."""
        self.budget_end = None if minutes is None else time.perf_counter() + minutes * 60

    def start(self, model: str, epochs: int, batches: int, patience: int) -> None:
        """A new model's run begins."""
        self.plot.clear_data()
        self.model_name, self._epochs, self._batches = model, epochs, batches
        self._patience, self._best, self._wait = patience, math.inf, 0
        self._start, self._epoch = time.perf_counter(), 0
        self._metrics: dict[str, float] = {}
        self.progress.setRange(0, epochs * batches)
        self.progress.setValue(0)
        self._title()

    def batch(self, epoch: int, batch: int, loss: float) -> None:
        """One batch ended: store its loss (drawn at the next redraw)."""
        self.n_batch_events += 1
        self.plot.batches.append((epoch + (batch + 1) / self._batches, loss))
        self._epoch = epoch
        self.progress.setValue(epoch * self._batches + batch + 1)
        self._dirty = True

    def epoch(
        self,
        epoch: int,
        train_loss: float,
        val_loss: float,
        is_best: bool,
        wait: int,
        metrics: dict[str, float] | None = None,
    ) -> None:
        """One epoch ended with its validation (``metrics``: an ID model's identity
        accuracy and its two losses, shown in the title)."""
        self.n_epoch_events += 1
        self._metrics = dict(metrics or {})
        self.plot.train.append((epoch + 1, train_loss))
        self.plot.val.append((epoch + 1, val_loss))
        if is_best:
            self._best = val_loss
            self.plot.best_epoch = epoch + 1
        self._wait, self._epoch = wait, epoch + 1
        self._dirty = True

    def _refresh(self) -> None:
        if self._dirty:
            self._dirty = False
            self.plot.redraw()
            self._title()

    def _title(self) -> None:
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
            f"<b>{self.model_name}</b> epoch {self._epoch}/{self._epochs} · {_hms(elapsed)} "
            f"elapsed · ETA {_hms(eta)} (at most) · no improvement {self._wait}/"
            f"{self._patience} · best val loss {best}{budget}{self._identity()}"
        )

    def _identity(self) -> str:
        """An ID model's latest validation figures, for the title: the share of animals
        named right and its two losses apart."""
        m = self._metrics
        if "val_identity_accuracy" not in m:
            return ""
        said = f" · identities right {100 * m['val_identity_accuracy']:.1f} % (val)"
        if "val_confmap_loss" in m and "val_identity_loss" in m:
            said += (
                f" · val losses: maps {m['val_confmap_loss']:.3g}, "
                f"identity {m['val_identity_loss']:.3g}"
            )
        return said


def _hms(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "-"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
