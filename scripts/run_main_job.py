"""The main job: napari with the sample project and the training dock.

With a display it opens napari for you to use. With ``--headless`` (``make run`` without a
display, under ``xvfb-run``) it does the whole job unattended: loads the sample, trains both
models with a short time budget, predicts the suggested frames, saves ``predictions.slp``
and a screenshot of the viewer with the dock and the predictions, prints where they are
and exits.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import napari
from qtpy.QtWidgets import QApplication

from napari_sleap_train.choices import FrameTarget
from napari_sleap_train.gui.training.dock import TrainingDock
from napari_sleap_train.sample.project import sample_dir


def open_sample(out_dir: Path, show: bool):
    """A viewer on a fresh copy of the sample project, with the dock open."""
    paths = sample_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    for p in (paths.video, paths.project, paths.ground_truth):
        shutil.copy2(p, out_dir / p.name)
    viewer = napari.Viewer(title="napari-sleap-train", show=show)
    viewer.open(str(out_dir / paths.project.name), plugin="napari-sleap-train")
    _, dock = viewer.window.add_plugin_dock_widget("napari-sleap-train", "Run Training…")
    return viewer, dock


def wait_until(condition, timeout: float) -> bool:
    """Process Qt events until ``condition()`` holds or ``timeout`` seconds pass."""
    end = time.perf_counter() + timeout
    app = QApplication.instance()
    while time.perf_counter() < end:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.02)
    return False


def headless(out_dir: Path, minutes: float) -> int:
    viewer, dock = open_sample(out_dir, show=False)
    assert isinstance(dock, TrainingDock)
    viewer.window._qt_window.resize(1500, 950)
    dock.settings.reset_defaults()  # this machine's preset, not settings left by an earlier session
    w = dock.settings.form.widgets
    w["time_budget"].value = minutes
    w["predict_on"].value = FrameTarget.SUGGESTED
    print(f"training both models for at most {minutes:.1f} min in total ...", flush=True)
    dock.runner.run_button.click()
    finished = wait_until(
        lambda: not dock.runner.busy and "Predicted" in dock.runner.status.text(),
        timeout=minutes * 60 + 600,
    )
    if not finished:
        print(f"error: did not finish: {dock.runner.status.text()}", file=sys.stderr)
        return 1
    print(dock.runner.status.text())
    predictions = out_dir / "predictions.slp"
    dock.runner.project.save(predictions, backup=False)
    frame = int(dock.viewer.dims.current_step[0])
    viewer.dims.set_current_step(0, frame)
    wait_until(lambda: False, 0.5)
    shot = out_dir / "main_job.png"
    viewer.screenshot(str(shot), canvas_only=False)
    print(f"models:      {dock.runner.run_dir}")
    print(f"predictions: {predictions}")
    print(f"screenshot:  {shot}")
    viewer.close()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--headless", action="store_true", help="run unattended and exit")
    parser.add_argument("--out", default="out/main_job", help="folder for the results")
    parser.add_argument("--minutes", type=float, default=3.0, help="training budget")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    if args.headless:
        return headless(out, args.minutes)
    open_sample(out, show=True)
    napari.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
