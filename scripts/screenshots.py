"""The README's screenshots, made on the built-in sample with the real dock.

Writes ``docs/dock.png`` (the dock beside the video), ``docs/previews.png`` (receptive field
and crop boxes on a labelled frame), ``docs/monitor.png`` (the training monitor
mid-training, hovering over the best epoch), ``docs/predictions.png`` (predictions on a
suggested frame) and ``docs/tracks.png`` (the whole video predicted and tracked, with its
Tracks layer and the Label & Suggest dock's Tracks panel). Needs a display or
``xvfb-run``; ``make screenshots`` runs it. Takes about three minutes on two CPU cores.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qtpy.QtCore import QPointF

sys.path.insert(0, str(Path(__file__).resolve().parent))

from napari_sleap_train.choices import FrameTarget, TrackerMethod  # noqa: E402
from run_main_job import open_sample, wait_until  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", default="docs", help="folder for the images")
    parser.add_argument("--work", default="out/screenshots", help="folder for the run")
    args = parser.parse_args()
    docs = Path(args.docs)
    docs.mkdir(parents=True, exist_ok=True)
    viewer, dock = open_sample(Path(args.work).resolve(), show=True)
    viewer.window._qt_window.resize(1400, 900)  # the size the docks are made for
    wait_until(lambda: False, 0.5)
    viewer.reset_view()
    dock.settings.reset_defaults()
    viewer.dims.set_current_step(0, 13)  # a labelled frame with three animals
    wait_until(lambda: False, 1.0)

    viewer.screenshot(str(docs / "dock.png"), canvas_only=False)

    dock.settings.tabs.setCurrentIndex(1)  # Centroid Model: its receptive field is drawn
    viewer.camera.center = (0, 192, 192)
    viewer.camera.zoom = viewer.camera.zoom * 1.4
    wait_until(lambda: False, 0.5)
    viewer.screenshot(str(docs / "previews.png"), canvas_only=False)

    dock.settings.tabs.setCurrentIndex(0)
    w = dock.settings.form.widgets
    w["time_budget"].value = 2.0
    for kind in ("centroid", "centered_instance"):
        w[f"{kind}.batches_per_epoch"].value = 20
    w["predict_on"].value = FrameTarget.SUGGESTED
    dock.runner.run_button.click()
    wait_until(
        lambda: (
            dock.monitor.model_name == "Centered Instance Model" and len(dock.monitor.plot.val) >= 6
        ),
        timeout=600,
    )
    plot = dock.monitor.plot  # hover over the best epoch: the cursor and its readout
    view = plot.getPlotItem().vb
    best = QPointF(plot.best_epoch or 1, sum(view.viewRange()[1]) / 2)
    plot.scene().sigMouseMoved.emit(view.mapViewToScene(best))
    wait_until(lambda: False, 0.5)
    dock.monitor_panel.grab().save(str(docs / "monitor.png"))

    done = wait_until(
        lambda: not dock.runner.busy and "Predicted" in dock.runner.status.text(), 900
    )
    if not done:
        print(f"error: training did not finish: {dock.runner.status.text()}", file=sys.stderr)
        return 1
    for layer in ("receptive field", "crop boxes"):
        viewer.layers[layer].visible = False
    wait_until(lambda: False, 0.5)
    viewer.screenshot(str(docs / "predictions.png"), canvas_only=False)

    w["predict_on"].value = FrameTarget.ALL  # the whole video, tracked
    w["tracker"].value = TrackerMethod.SIMPLE
    w["max_tracks"].value = 3
    dock.runs.runs.setCurrentRow(dock.runs.runs.count() - 1)
    dock.runs.predict_button.click()
    done = wait_until(lambda: not dock.runner.busy and "Tracked" in dock.runner.status.text(), 600)
    if not done:
        print(f"error: not tracked: {dock.runner.status.text()}", file=sys.stderr)
        return 1
    _, labelling = viewer.window.add_plugin_dock_widget("napari-sleap-train", "Label & Suggest…")
    labelling.tabs.setCurrentIndex(0)
    labelling.tracks.tail.setValue(60)
    panel = labelling.tracks
    scroll = panel.parentWidget()
    while scroll is not None and not hasattr(scroll, "ensureWidgetVisible"):
        scroll = scroll.parentWidget()
    if scroll is not None:
        scroll.ensureWidgetVisible(panel)
    viewer.dims.set_current_step(0, 160)
    wait_until(lambda: False, 1.0)
    viewer.screenshot(str(docs / "tracks.png"), canvas_only=False)
    for name in ("dock", "previews", "monitor", "predictions", "tracks"):
        print(docs / f"{name}.png")
    viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
