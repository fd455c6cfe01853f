"""The training dock with a real viewer, pressing its real buttons (run under xvfb-run)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from qtpy.QtCore import QTimer

from napari_sleap_train.choices import FrameTarget
from napari_sleap_train.gui import DOCK_WIDTH
from napari_sleap_train.gui.last_config import settings_file
from napari_sleap_train.gui.training.dock import CROP_LAYER, RF_LAYER, TrainingDock
from napari_sleap_train.training import PreviewPredicted


@pytest.fixture
def viewer_dock(make_napari_viewer, sample_paths, tmp_path):
    settings_file().unlink(missing_ok=True)  # start from the defaults
    viewer = make_napari_viewer()
    project = tmp_path / "sample.slp"
    project.write_bytes(sample_paths.project.read_bytes())
    viewer.open(str(project), plugin="napari-sleap-train")
    _, dock = viewer.window.add_plugin_dock_widget("napari-sleap-train", "Run Training…")
    assert isinstance(dock, TrainingDock)
    viewer.dims.set_current_step(0, 13)  # a labelled frame of the sample
    return viewer, dock


def tiny(dock: TrainingDock, epochs: int = 2, batches: int = 3) -> None:
    w = dock.settings.form.widgets
    for kind in ("centroid", "centered_instance"):
        w[f"{kind}.filters"].value = 8
        w[f"{kind}.max_stride"].value = 8
        w[f"{kind}.epochs"].value = epochs
        w[f"{kind}.batches_per_epoch"].value = batches
        w[f"{kind}.learning_rate"].value = 1e-3
    w["predict_on"].value = FrameTarget.SUGGESTED
    w["peak_threshold"].value = 0.01  # a few steps of training give weak peaks


def side(layer) -> float:
    corners = layer.data[0]  # (frame,) y, x
    return round(float(corners[:, -1].max() - corners[:, -1].min()), 3)


def test_receptive_field_follows_max_stride_and_input_scaling(viewer_dock):
    viewer, dock = viewer_dock
    w = dock.settings.form.widgets
    dock.settings.tabs.setCurrentIndex(1)
    assert side(viewer.layers[RF_LAYER]) == pytest.approx(76 / 0.25)
    w["centroid.max_stride"].value = 32
    assert side(viewer.layers[RF_LAYER]) == pytest.approx(156 / 0.25)
    w["centroid.input_scaling"].value = 0.5
    assert side(viewer.layers[RF_LAYER]) == pytest.approx(156 / 0.5)
    assert "312 px" in dock.previews.rf_labels["centroid"].text()
    dock.settings.tabs.setCurrentIndex(2)
    assert side(viewer.layers[RF_LAYER]) == pytest.approx(76)


def test_crop_boxes_follow_crop_size_and_frame(viewer_dock):
    viewer, dock = viewer_dock
    boxes = viewer.layers[CROP_LAYER]
    assert len(boxes.data) == 3  # three labelled animals on frame 13
    auto = side(boxes)
    assert auto % 16 == 0 and f"{auto:.0f} px (auto)" in dock.previews.crop_label.text()
    dock.settings.form.widgets["crop_size"].value = 160
    assert side(viewer.layers[CROP_LAYER]) == 160
    assert all(b.shape == (4, 2) for b in boxes.data)  # drawn for the shown frame only
    viewer.dims.set_current_step(0, 14)  # not labelled
    assert len(viewer.layers[CROP_LAYER].data) == 0
    viewer.dims.set_current_step(0, 20)
    assert len(viewer.layers[CROP_LAYER].data) == 3
    sizes = dock.previews.sizes
    assert sum(b.count for b in sizes.bins) == 60  # every labelled instance
    assert sizes.crop_line.value() == 160 and sizes.crop_line.isVisible()
    largest = max(sizes.bins, key=lambda b: b.hi)
    sizes.jump_to_bin(sizes.bins.index(largest))
    assert viewer.dims.current_step[0] == largest.largest_frame


def test_bad_setting_disables_run_with_its_message(viewer_dock):
    _, dock = viewer_dock
    dock.settings.form.widgets["crop_size"].value = 100
    assert not dock.runner.run_button.isEnabled()
    assert "not a multiple of max stride 16" in dock.settings.problem_label.text()
    dock.settings.form.widgets["crop_size"].value = 96
    assert dock.runner.run_button.isEnabled() and dock.settings.problem_label.text() == ""


def test_settings_persist_and_reset(viewer_dock):
    viewer, dock = viewer_dock
    dock.settings.form.widgets["centroid.filters"].value = 12
    again = TrainingDock(viewer)
    assert again.settings.form.widgets["centroid.filters"].value == 12
    again.settings.reset_defaults()
    assert again.settings.form.widgets["centroid.filters"].value == 16
    again.close()


def test_view_training_inputs_adds_layers(viewer_dock):
    viewer, dock = viewer_dock
    dock.settings.form.widgets["crop_size"].value = 128
    dock.view_training_inputs(n=4)
    assert viewer.layers["Centroid Model inputs"].data.shape == (4, 96, 96)
    assert viewer.layers["Centroid Model targets"].data.shape == (4, 48, 48)
    assert viewer.layers["Centered Instance Model inputs"].data.shape == (4, 128, 128)
    assert viewer.layers["Centered Instance Model targets"].data.shape == (4, 32, 32)
    assert viewer.layers["Centroid Model targets"].data.max() > 0.9


def test_run_trains_monitors_and_predicts(viewer_dock, qtbot):
    viewer, dock = viewer_dock
    tiny(dock)
    gaps, last = [], [time.perf_counter()]

    def tick():  # event-loop gaps while the models train (prediction comes after)
        now = time.perf_counter()
        if dock.runner.busy and dock.monitor.n_epoch_events < 4:
            gaps.append((now - last[0], seen[-1] if seen else None))
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(10)
    previews = []

    seen = []

    def on_event(event):  # connected after the dock's own slot: sees the refreshed layer
        seen.append(type(event).__name__)
        if isinstance(event, PreviewPredicted):
            layer = viewer.layers["sample.avi predictions"]
            previews.append((event.frame_idx, set(np.rint(layer.data[:, 0]).astype(int))))

    dock.runner.run_button.click()
    qtbot.waitUntil(lambda: dock.runner.busy, timeout=5000)
    dock.runner.run.worker.yielded.connect(on_event)
    qtbot.waitUntil(
        lambda: (
            "predictions" in dock.runner.status.text().lower()
            or "Predicted" in dock.runner.status.text()
        ),
        timeout=120000,
    )
    qtbot.waitUntil(lambda: not dock.runner.busy, timeout=120000)
    timer.stop()
    assert dock.monitor.n_batch_events == 12 and dock.monitor.n_epoch_events == 4
    assert "Predicted" in dock.runner.status.text()
    layer = viewer.layers["sample.avi predictions"]
    assert {"individual", "keypoint", "confidence"} <= set(layer.features)
    assert len(layer.data) > 0
    project = dock.runner.project
    video = project.videos[0]
    expected = set(project.suggested_frames(video)) - project.labelled_frame_indices(video)
    suggested = set(np.rint(layer.data[:, 0]).astype(int))
    assert suggested and suggested <= expected  # predictions on suggested frames only
    assert f"Predicted {len(expected)} frames" in dock.runner.status.text()  # on all of them
    assert dock.runs.runs.count() == 1
    # After each improving epoch of the second model the current frame was predicted live;
    # those previews are gone once training ends (frame 13 is labelled, not predicted).
    assert previews and all(frame == 13 and 13 in shown for frame, shown in previews)
    assert 13 not in suggested
    assert "per epoch" in " ".join(dock.runner.status_log)
    worst, after = max(gaps[1:])
    print(f"worst event-loop gap while training: {worst * 1000:.0f} ms (after {after})")
    assert worst < 20  # a freeze guard; the figure itself is benchmarks/bench_dock.py's


def test_stop_offers_the_next_model_then_predicts(viewer_dock, qtbot):
    viewer, dock = viewer_dock
    tiny(dock, epochs=1000, batches=1000)
    dock.runner.run_button.click()
    qtbot.waitUntil(lambda: dock.monitor.n_batch_events >= 2, timeout=30000)
    t0 = time.perf_counter()
    dock.runner.stop_button.click()  # ends the centroid model and asks what next
    qtbot.waitUntil(lambda: not dock.runner.offer.isHidden(), timeout=5000)
    assert time.perf_counter() - t0 < 30  # a freeze guard: Stop ends the model in a batch
    assert (dock.runner.run_dir / "centroid" / "best.pt").exists()
    assert dock.runner.finish_button.text() == "Finish here"  # no instance model yet
    assert "Centered Instance Model" in dock.runner.go_on_button.text()
    dock.runner.go_on_button.click()
    qtbot.waitUntil(lambda: dock.monitor.model_name == "Centered Instance Model", timeout=10000)
    n = dock.monitor.n_batch_events
    qtbot.waitUntil(lambda: dock.monitor.n_batch_events >= n + 2, timeout=30000)
    dock.runner.stop_button.click()  # the last model: nothing to offer, predict with both
    qtbot.waitUntil(
        lambda: not dock.runner.busy and "Predicted" in dock.runner.status.text(), timeout=60000
    )
    assert dock.runner.offer.isHidden()
    assert (dock.runner.run_dir / "centered_instance" / "best.pt").exists()


def test_stop_then_finish_keeps_the_model_and_explains(viewer_dock, qtbot):
    viewer, dock = viewer_dock
    tiny(dock, epochs=1000, batches=1000)
    dock.runner.run_button.click()
    qtbot.waitUntil(lambda: dock.monitor.n_batch_events >= 2, timeout=30000)
    dock.runner.stop_button.click()
    qtbot.waitUntil(lambda: not dock.runner.offer.isHidden(), timeout=5000)
    dock.runner.finish_button.click()
    qtbot.waitUntil(lambda: not dock.runner.busy, timeout=5000)
    assert (dock.runner.run_dir / "centroid" / "best.pt").exists()
    assert not (dock.runner.run_dir / "centered_instance").exists()
    assert "Not predicting: no Centered Instance Model" in dock.runner.status.text()


def test_cancel_ends_training_and_keeps_models(viewer_dock, qtbot):
    viewer, dock = viewer_dock
    tiny(dock, epochs=1000, batches=1000)
    dock.runner.run_button.click()
    qtbot.waitUntil(lambda: dock.monitor.n_batch_events >= 2, timeout=30000)
    dock.runner.cancel_button.click()
    qtbot.waitUntil(lambda: not dock.runner.busy, timeout=5000)
    assert (dock.runner.run_dir / "centroid" / "best.pt").exists()
    assert "Cancelled" in dock.runner.status.text()


def test_closing_the_viewer_mid_training_leaves_no_thread(
    make_napari_viewer, sample_paths, tmp_path, qtbot
):
    viewer = make_napari_viewer()
    project = tmp_path / "sample.slp"
    project.write_bytes(sample_paths.project.read_bytes())
    viewer.open(str(project), plugin="napari-sleap-train")
    _, dock = viewer.window.add_plugin_dock_widget("napari-sleap-train", "Run Training…")
    tiny(dock, epochs=1000, batches=1000)
    before = set(threading.enumerate())
    dock.runner.run_button.click()
    qtbot.waitUntil(lambda: dock.monitor.n_batch_events >= 1, timeout=30000)
    viewer.close()
    qtbot.waitUntil(lambda: not (set(threading.enumerate()) - before), timeout=10000)


def test_predict_with_an_added_run_and_export_it(viewer_dock, qtbot, tmp_path, monkeypatch):
    viewer, dock = viewer_dock
    tiny(dock, epochs=1, batches=2)
    dock.settings.form.widgets["predict_on"].value = None
    dock.runner.run_button.click()
    qtbot.waitUntil(
        lambda: (
            not dock.runner.busy
            and dock.runner.run_dir is not None
            and (dock.runner.run_dir / "centered_instance" / "best.pt").exists()
        ),
        timeout=60000,
    )
    qtbot.waitUntil(lambda: not dock.runner.busy, timeout=10000)
    dock.runs.add_run(dock.runner.run_dir)
    dock.runs.runs.setCurrentRow(dock.runs.runs.count() - 1)
    dock.settings.form.widgets["predict_on"].value = FrameTarget.CURRENT
    viewer.dims.set_current_step(0, 14)
    dock.runs.predict_button.click()
    qtbot.waitUntil(
        lambda: not dock.runner.busy and "Predicted" in dock.runner.status.text(), timeout=60000
    )
    layer = viewer.layers["sample.avi predictions"]
    assert set(np.rint(layer.data[:, 0]).astype(int)) == {14}
    assert "Predicted 1 frames" in dock.runner.status.text()

    # the same run exported as ONNX with the button (the folder dialog answers tmp_path)
    from qtpy.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path))
    dock.runs.runs.setCurrentRow(dock.runs.runs.count() - 1)
    dock.runs.export_format.setCurrentText("ONNX")
    dock.runs.export_button.click()
    qtbot.waitUntil(lambda: dock.runs.worker is None, timeout=60000)
    out = tmp_path / f"{dock.runner.run_dir.name}-onnx"
    assert (out / "export.json").exists() and (out / "centered_instance" / "model.onnx").exists()
    assert f"Exported to {out}" in dock.runs.report.toPlainText()

    # 8-bit, calibrated on the open project's labelled frames: this run of two batches finds
    # no animal on them, which the report says, and nothing is left behind
    dock.runs.runs.setCurrentRow(dock.runs.runs.count() - 1)
    dock.runs.export_format.setCurrentText("ONNX 8-bit")
    dock.runs.export_button.click()
    qtbot.waitUntil(lambda: dock.runs.worker is None, timeout=60000)
    assert "no animal found" in dock.runs.report.toPlainText()
    assert not (tmp_path / f"{dock.runner.run_dir.name}-onnx-int8").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_counts_follow_the_labels(viewer_dock):
    viewer, dock = viewer_dock
    assert "20 labelled frames, 60 instances" in dock.previews.count_label.text()
    layer = viewer.layers["sample.avi labels"]
    keep = np.rint(layer.data[:, 0]).astype(int) != 13
    layer.data = layer.data[keep]
    assert "19 labelled frames, 57 instances" in dock.previews.count_label.text()


def test_monitor_range_keeps_epoch_lines_and_drops_batch_outliers():
    from napari_sleap_train.gui.training.monitor import y_range

    batches = np.array([0.01] * 100 + [5.0])  # one wild batch
    epochs = np.array([0.02, 0.05])  # validation above nearly every batch
    lo, hi = y_range(batches, epochs, log=True, ignore_outliers=True)
    assert hi >= np.log10(0.05) and hi < np.log10(5.0)
    assert lo <= np.log10(0.01)


def test_the_docks_leave_the_canvas_most_of_the_window(
    make_napari_viewer, sample_paths, tmp_path, qtbot
):
    viewer = make_napari_viewer(show=True)
    project = tmp_path / "sample.slp"
    project.write_bytes(sample_paths.project.read_bytes())
    viewer.open(str(project), plugin="napari-sleap-train")
    _, training = viewer.window.add_plugin_dock_widget("napari-sleap-train", "Run Training…")
    _, labelling = viewer.window.add_plugin_dock_widget("napari-sleap-train", "Label & Suggest…")
    window = viewer.window._qt_window
    window.resize(1400, 900)
    qtbot.wait(500)
    canvas = viewer.window._qt_viewer.canvas.native
    print(f"canvas {canvas.width()} x {canvas.height()} px of a {window.width()} px window")
    assert (window.width(), window.height()) == (1400, 900)  # the docks fit the window
    assert training.width() <= DOCK_WIDTH and labelling.width() <= DOCK_WIDTH
    assert canvas.width() > 0.5 * window.width()  # napari's own layer panel takes 320 px
    assert canvas.height() > 0.5 * window.height()


def test_last_used_settings_survive_only_when_valid(viewer_dock):
    from napari_sleap_train.config import TrainingConfig, default_config

    viewer, dock = viewer_dock
    w = dock.settings.form.widgets
    w["centroid.filters"].value = 12
    assert TrainingConfig.load(settings_file()).model("centroid").backbone.filters == 12
    w["crop_size"].value = 100  # invalid: not a multiple of 16, so not remembered
    assert TrainingConfig.load(settings_file()).model("centered_instance").crop_size is None
    settings_file().write_text("{broken")  # a damaged file: the next dock starts afresh
    again = TrainingDock(viewer)
    assert again.settings.config() == default_config()
    again.close()
