"""Redraw cost of a live loss plot: pyqtgraph against matplotlib's Qt canvas.

Both draw what the training monitor draws (batch losses as points, train and validation
loss per epoch as lines, a log y axis) in a real Qt window; each redraw sets the new data
and paints the widget. Prints the median milliseconds per redraw for growing numbers of
batch points, and the ratio. Needs a display or ``xvfb-run``.

Run: ``xvfb-run -a .venv/bin/python benchmarks/bench_plot.py``
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from qtpy.QtWidgets import QApplication

SIZES = (1_000, 10_000, 50_000)
REPEATS = 15


def data(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = np.arange(n) / 50
    y = np.exp(-x / 20) * (1 + 0.3 * rng.random(n)) + 1e-3
    epochs = np.arange(1, int(x[-1]) + 2)
    return x, y, epochs, np.exp(-epochs / 20)


def time_redraws(redraw) -> float:
    app = QApplication.instance()
    times = []
    for i in range(REPEATS):
        t0 = time.perf_counter()
        redraw(i)
        app.processEvents()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def pyqtgraph_ms(n: int, points: bool = True) -> float:
    """Batches as points (a scatter), or as a thin line (downsampled to the pixels)."""
    import pyqtgraph as pg

    widget = pg.PlotWidget()
    widget.resize(800, 300)
    widget.show()
    widget.setLogMode(y=True)
    if points:
        batches = widget.plot([], [], pen=None, symbol="o", symbolSize=3)
    else:
        batches = widget.plot([], [], pen=pg.mkPen(width=1))
        batches.setDownsampling(auto=True, method="peak")
        batches.setClipToView(True)
    train = widget.plot([], [], pen="y")
    val = widget.plot([], [], pen="r")
    x, y, ex, ey = data(n)

    def redraw(i: int) -> None:
        batches.setData(x[: n - i], y[: n - i])
        train.setData(ex, ey * 1.1)
        val.setData(ex, ey)
        widget.repaint()

    try:
        return time_redraws(redraw)
    finally:
        widget.close()


def matplotlib_ms(n: int) -> float:
    from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 3), dpi=100)
    canvas = FigureCanvasQTAgg(figure)
    canvas.show()
    ax = figure.add_subplot()
    ax.set_yscale("log")
    (batches,) = ax.plot([], [], ".", markersize=2)
    (train,) = ax.plot([], [], "-")
    (val,) = ax.plot([], [], "-")
    x, y, ex, ey = data(n)

    def redraw(i: int) -> None:
        batches.set_data(x[: n - i], y[: n - i])
        train.set_data(ex, ey * 1.1)
        val.set_data(ex, ey)
        ax.relim()
        ax.autoscale_view()
        canvas.draw()
        canvas.repaint()

    try:
        return time_redraws(redraw)
    finally:
        canvas.close()


def main() -> None:
    app = QApplication.instance() or QApplication([])  # noqa: F841 - kept alive
    print(
        f"{'batch points':>12} {'pyqtgraph points':>17} {'pyqtgraph line':>15} "
        f"{'matplotlib':>11} {'mpl / pg line':>14}"
    )
    for n in SIZES:
        pts, line, mpl = pyqtgraph_ms(n), pyqtgraph_ms(n, points=False), matplotlib_ms(n)
        print(f"{n:>12,} {pts:>14.1f} ms {line:>12.1f} ms {mpl:>8.1f} ms {mpl / line:>14.1f}")


if __name__ == "__main__":
    main()
