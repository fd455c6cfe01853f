"""The guide's screenshots, made with the real docks on real data at 1400 x 900.

The data is the two-fly video of SLEAP's test data (``../shared/data/two_flies``, BSD-3):
128 frames, two flies (``F`` and ``M``) labelled on every frame. A working copy keeps the
labels of every fourth frame, so the model has 96 unlabelled frames to predict, as in a
real project. Writes, one per step of the getting-started page:

``open.png``         the project opened: video, labels and skeleton;
``dock.png``         the Run Training… dock beside the canvas;
``previews.png``     receptive field (blue) and crop boxes (red) on a labelled frame;
``monitor.png``      the training monitor below the canvas, mid-training;
``predictions.png``  the predictions on an unlabelled frame;
``tracks.png``       the predictions tracked, with the Label & Suggest dock's Tracks panel.

Needs a display or ``xvfb-run``; ``make screenshots`` runs it (about ten minutes on two CPU
cores).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import napari
import sleap_io as sio
from napari._qt.dialogs.qt_notification import NapariQtNotification
from qtpy.QtCore import QPointF

sys.path.insert(0, str(Path(__file__).resolve().parent))

from napari_sleap_train.choices import FrameTarget, TrackerMethod  # noqa: E402
from run_main_job import wait_until  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "two_flies"
SIZE = (1400, 900)  # a laptop's window, the size the docks are made for
KEEP_EVERY = 4  # labelled frames kept in the working copy
SHOWN_FRAME = 42  # an unlabelled frame where both flies are apart
TRACKS_FRAME = 99  # an unlabelled frame late in the video: the tracks' trails behind it
FLIES = (265, 515)  # (y, x): the middle of where the flies walk in the 1024 x 1024 frames


def working_copy(work: Path) -> Path:
    """The two-fly project with the labels of every fourth frame, beside a copy of its video."""
    work.mkdir(parents=True, exist_ok=True)
    video = shutil.copy2(DATA / "two_flies.mp4", work / "two_flies.mp4")
    labels = sio.load_slp(str(DATA / "two_flies.slp"))
    labels.labeled_frames = [lf for lf in labels.labeled_frames if lf.frame_idx % KEEP_EVERY == 0]
    labels.videos[0].replace_filename(str(video), open=False)
    out = work / "two_flies.slp"
    labels.save(str(out))
    return out


def frame_flies(viewer, zoom: float) -> None:
    """Centre the canvas on the flies, ``zoom`` times closer than the whole frame."""
    viewer.reset_view()
    viewer.camera.center = (0, *FLIES)
    viewer.camera.zoom = viewer.camera.zoom * zoom


def shoot(viewer, path: Path, pause: float = 1.0) -> None:
    """Save the whole window, without the notification toasts over the canvas."""
    wait_until(lambda: False, pause)
    for toast in viewer.window._qt_window.findChildren(NapariQtNotification):
        toast.close()
    wait_until(lambda: False, 0.3)
    viewer.screenshot(str(path), canvas_only=False)
    print(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", default="docs/images", help="folder for the images")
    parser.add_argument("--work", default="out/screenshots", help="folder for the run")
    parser.add_argument("--minutes", type=float, default=4.0, help="training budget")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"error: the two-fly data is not at {DATA}", file=sys.stderr)
        return 1
    docs = Path(args.docs)
    docs.mkdir(parents=True, exist_ok=True)
    work = Path(args.work).resolve()
    shutil.rmtree(work, ignore_errors=True)
    project = working_copy(work)

    viewer = napari.Viewer(title="napari-sleap-train", show=True)
    viewer.window._qt_window.resize(*SIZE)
    viewer.open(str(project), plugin="napari-sleap-train")
    viewer.dims.set_current_step(0, 0)
    frame_flies(viewer, 2.5)
    shoot(viewer, docs / "open.png")

    _, dock = viewer.window.add_plugin_dock_widget("napari-sleap-train", "Run Training…")
    dock.settings.reset_defaults()
    frame_flies(viewer, 2.5)
    shoot(viewer, docs / "dock.png")

    dock.settings.tabs.setCurrentIndex(1)  # Centroid Model: its receptive field is drawn
    frame_flies(viewer, 1.6)  # the receptive field is 304 px wide
    shoot(viewer, docs / "previews.png")
    frame_flies(viewer, 2.5)

    dock.settings.tabs.setCurrentIndex(0)
    w = dock.settings.form.widgets
    w["time_budget"].value = args.minutes
    w["predict_on"].value = FrameTarget.ALL
    w["tracker"].value = TrackerMethod.SIMPLE
    w["max_tracks"].value = 2
    dock.runner.run_button.click()
    wait_until(
        lambda: (
            dock.monitor.model_name == "Centered Instance Model" and len(dock.monitor.plot.val) >= 6
        ),
        timeout=args.minutes * 60 + 300,
    )
    plot = dock.monitor.plot  # hover over the best epoch: the cursor and its readout
    view = plot.getPlotItem().vb
    best = QPointF(plot.best_epoch or 1, sum(view.viewRange()[1]) / 2)
    plot.scene().sigMouseMoved.emit(view.mapViewToScene(best))
    shoot(viewer, docs / "monitor.png", pause=0.5)

    done = wait_until(
        lambda: not dock.runner.busy and "Tracked" in dock.runner.status.text(),
        args.minutes * 60 + 900,
    )
    if not done:
        print(f"error: not predicted and tracked: {dock.runner.status.text()}", file=sys.stderr)
        return 1
    for layer in viewer.layers:
        if layer.name in ("receptive field", "crop boxes"):
            layer.visible = False
    viewer.dims.set_current_step(0, SHOWN_FRAME)
    shoot(viewer, docs / "predictions.png")

    _, labelling = viewer.window.add_plugin_dock_widget("napari-sleap-train", "Label & Suggest…")
    labelling.tabs.setCurrentIndex(0)
    labelling.tracks.tail.setValue(60)
    panel = labelling.tracks
    scroll = panel.parentWidget()
    while scroll is not None and not hasattr(scroll, "ensureWidgetVisible"):
        scroll = scroll.parentWidget()
    if scroll is not None:
        scroll.ensureWidgetVisible(panel)
    viewer.dims.set_current_step(0, TRACKS_FRAME)
    shoot(viewer, docs / "tracks.png")
    print(dock.runner.status.text())
    viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
