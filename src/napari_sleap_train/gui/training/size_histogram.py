"""The sizes of the labelled instances as a histogram, with the crop size marked.

As SLEAP 1.5 shows them: one bar per range of bounding-box sides; the crop size is a
vertical line; instances more than twice the median size are drawn as points above the
bars. Clicking a bar jumps to the largest instance in it, clicking a point to that
instance, so a stray node that inflates the auto crop size is found at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import QLabel, QVBoxLayout, QWidget

BAR_COLOR = (90, 140, 220)
OUTLIER_COLOR = (255, 120, 60)
CROP_COLOR = (255, 70, 70)


@dataclass(frozen=True)
class Bin:
    """One bar: sides in ``[lo, hi)``, how many instances, and the largest one's frame."""

    lo: float
    hi: float
    count: int
    largest_frame: int


def size_bins(frames: np.ndarray, sides: np.ndarray, n_bins: int = 20) -> list[Bin]:
    """The histogram of instance sides (NaN sides are left out)."""
    ok = np.isfinite(sides)
    frames, sides = np.asarray(frames)[ok], np.asarray(sides, float)[ok]
    if not len(sides):
        return []
    edges = np.histogram_bin_edges(sides, bins=min(n_bins, max(1, len(sides))))
    which = np.clip(np.searchsorted(edges, sides, side="right") - 1, 0, len(edges) - 2)
    bins = []
    for b in range(len(edges) - 1):
        members = np.flatnonzero(which == b)
        if len(members):
            largest = members[np.argmax(sides[members])]
            bins.append(
                Bin(float(edges[b]), float(edges[b + 1]), len(members), int(frames[largest]))
            )
    return bins


class SizeHistogram(QWidget):
    """Instance sizes; ``jump`` is emitted with a frame when a bar or a point is clicked."""

    jump = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plot = pg.PlotWidget(background=(30, 30, 35))
        self.plot.setMinimumHeight(100)
        self.plot.setMaximumHeight(150)
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "instance size (px)")
        item.setLabel("left", "instances")
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        self.bars = pg.BarGraphItem(x0=[], x1=[], height=[], brush=BAR_COLOR)
        item.addItem(self.bars)
        self.outliers = pg.ScatterPlotItem(size=9, brush=OUTLIER_COLOR, symbol="t")
        self.outliers.sigClicked.connect(self._point_clicked)
        item.addItem(self.outliers)
        self.crop_line = pg.InfiniteLine(
            angle=90,
            pen=pg.mkPen(CROP_COLOR, width=2, style=Qt.PenStyle.DashLine),
            label="crop",
            labelOpts={"position": 0.9, "color": CROP_COLOR},
        )
        self.crop_line.hide()
        item.addItem(self.crop_line)
        self.plot.scene().sigMouseClicked.connect(self._clicked)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        layout.addWidget(self.caption)
        self.bins: list[Bin] = []
        self.setToolTip("Click a bar to go to the largest instance in it, a point to that one.")

    def set_sizes(self, frames: np.ndarray, sides: np.ndarray, crop: int | None) -> None:
        """Show the sides of the labelled instances and the crop size (None: unknown)."""
        self.bins = size_bins(frames, sides)
        self.bars.setOpts(
            x0=[b.lo for b in self.bins],
            x1=[b.hi for b in self.bins],
            height=[b.count for b in self.bins],
        )
        sides = np.asarray(sides, float)
        ok = np.isfinite(sides)
        if ok.any():
            med = float(np.median(sides[ok]))
            big = np.flatnonzero(ok & (sides > 2 * med))
            top = max(b.count for b in self.bins)
            self.outliers.setData(
                x=sides[big], y=np.full(len(big), top * 1.1), data=np.asarray(frames)[big]
            )
            largest = int(np.nanargmax(sides))
            note = " (more than twice the median: check it)" if sides[largest] > 2 * med else ""
            self.caption.setText(
                f"{int(ok.sum())} labelled instances, median {med:.0f} px; largest "
                f"{sides[largest]:.0f} px on frame {int(frames[largest])}{note}."
            )
        else:
            self.outliers.setData(x=[], y=[])
            self.caption.setText("No labelled instances yet.")
        if crop:
            self.crop_line.setPos(crop)
            self.crop_line.label.setFormat(f"crop {crop} px")
            self.crop_line.show()
        else:
            self.crop_line.hide()
        self.plot.getPlotItem().autoRange()

    def jump_to_bin(self, index: int) -> None:
        """Go to the largest instance of bar ``index``."""
        self.jump.emit(self.bins[index].largest_frame)

    def bin_at(self, size: float) -> int | None:
        """The bar over ``size`` px, or None."""
        for i, b in enumerate(self.bins):
            if b.lo <= size <= b.hi:
                return i
        return None

    def _clicked(self, event) -> None:
        item = self.plot.getPlotItem()
        if not item.sceneBoundingRect().contains(event.scenePos()):
            return
        point = item.vb.mapSceneToView(event.scenePos())
        index = self.bin_at(point.x())
        if index is not None and 0 <= point.y() <= self.bins[index].count:
            self.jump_to_bin(index)

    def _point_clicked(self, _item, points, *_) -> None:
        if len(points):
            self.jump.emit(int(points[0].data()))
