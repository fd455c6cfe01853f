"""The training dock never hangs: failed runs end and say why, what can be checked before
Run is, closing the dock stops its run, and switching pipelines keeps each one's edits
(real viewer, real buttons)."""

from __future__ import annotations

import re
import threading

from napari_sleap_train.choices import FrameTarget, PipelineKind, StartFrom
from napari_sleap_train.gui.training.dock import CROP_LAYER, MONITOR_TITLE

from .test_dock import tiny, viewer_dock  # noqa: F401 - the fixture


def test_a_model_folder_that_does_not_exist_disables_run(viewer_dock):  # noqa: F811
    _, dock = viewer_dock
    w = dock.settings.form.widgets
    w["centroid.start"].value = StartFrom.FINE_TUNE
    w["centroid.previous"].value = "/nonexistent/folder"
    assert not dock.runner.run_button.isEnabled()
    assert "/nonexistent/folder does not exist" in dock.settings.problem_label.text()
    w["centroid.start"].value = StartFrom.SCRATCH
    assert dock.runner.run_button.isEnabled()


def test_a_run_that_fails_at_its_start_ends_and_says_why(viewer_dock, qtbot, tmp_path):  # noqa: F811
    _, dock = viewer_dock
    tiny(dock)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "best.pt").write_bytes(b"not a model")  # no model_info.json either
    w = dock.settings.form.widgets
    w["centroid.start"].value = StartFrom.FINE_TUNE
    w["centroid.previous"].value = str(broken)
    assert dock.runner.run_button.isEnabled()
    dock.runner.run_button.click()
    qtbot.waitUntil(lambda: not dock.runner.busy, timeout=30000)
    assert dock.runner.status.text().startswith("Failed:")
    assert str(broken) in dock.runner.status.text()
    assert dock.runner.run_button.isEnabled() and not dock.runner.cancel_button.isEnabled()


def test_frame_ranges_are_checked_against_the_video(viewer_dock):  # noqa: F811
    _, dock = viewer_dock
    w = dock.settings.form.widgets
    w["predict_on"].value = FrameTarget.RANGE
    w["first_frame"].value, w["last_frame"].value = 200, 10
    assert not dock.runner.run_button.isEnabled()
    assert "comes after frame 10" in dock.settings.problem_label.text()
    w["first_frame"].value, w["last_frame"].value = 0, 100000
    assert not dock.runner.run_button.isEnabled()
    n = dock.layers.video.data.shape[0]
    assert f"the video has {n} frames" in dock.settings.problem_label.text()
    w["last_frame"].value = n - 1
    assert dock.runner.run_button.isEnabled()


def test_closing_the_dock_stops_its_run_and_removes_what_it_added(viewer_dock, qtbot):  # noqa: F811
    viewer, dock = viewer_dock
    tiny(dock, epochs=1000, batches=1000)
    assert CROP_LAYER in viewer.layers
    before = set(threading.enumerate())
    dock.runner.run_button.click()
    qtbot.waitUntil(lambda: dock.monitor.n_batch_events >= 1, timeout=30000)
    viewer.window.remove_dock_widget(dock)  # what the dock's × does
    qtbot.waitUntil(lambda: not dock.runner.busy, timeout=10000)
    qtbot.waitUntil(lambda: not (set(threading.enumerate()) - before), timeout=10000)
    assert MONITOR_TITLE not in viewer.window._wrapped_dock_widgets
    assert CROP_LAYER not in viewer.layers


def test_switching_pipelines_keeps_each_ones_edits(viewer_dock):  # noqa: F811
    _, dock = viewer_dock
    w = dock.settings.form.widgets
    w["pipeline"].value = PipelineKind.TOP_DOWN
    w["crop_size"].value = 128
    w["node_sigma"].value = 4.0
    w["centered_instance.epochs"].value = 3
    w["pipeline"].value = PipelineKind.BOTTOM_UP
    w["bottom_up.epochs"].value = 7
    w["pipeline"].value = PipelineKind.TOP_DOWN
    assert w["crop_size"].value == 128
    assert w["node_sigma"].value == 4.0
    assert w["centered_instance.epochs"].value == 3
    w["pipeline"].value = PipelineKind.BOTTOM_UP
    assert w["bottom_up.epochs"].value == 7


def test_estimate_respects_the_budget_and_no_nan_reaches_the_user(viewer_dock, qtbot):  # noqa: F811
    _, dock = viewer_dock
    tiny(dock, epochs=200, batches=3)
    w = dock.settings.form.widgets
    w["time_budget"].value = 0.1
    w["peak_threshold"].value = 0.99  # a model of seconds finds nothing this sure
    w["predict_on"].value = FrameTarget.CURRENT
    dock.runner.run_button.click()
    qtbot.waitUntil(lambda: dock.runner.busy, timeout=5000)
    qtbot.waitUntil(lambda: not dock.runner.busy, timeout=120000)
    said = "\n".join(dock.runner.status_log)
    assert "capped at 0.1 min by the time budget of the run" in said
    estimates = re.findall(r"at most (\d+) (s|min) for 200 epochs", said)  # one a model
    assert estimates and all(unit == "s" and int(n) <= 6 for n, unit in estimates)
    assert "nan" not in said
    assert "no animal found" in dock.runner.status.text()


def test_predicting_suggested_frames_of_a_video_without_any_says_so(
    make_napari_viewer, sample_paths, tmp_path, bottom_up_run
):
    import sleap_io as sio
    from napari.utils.notifications import notification_manager

    from napari_sleap_train.choices import ModelKind

    from .test_pipelines_gui import open_dock

    labels = sio.load_slp(str(sample_paths.project))
    labels.suggestions = []
    path = tmp_path / "no_suggestions.slp"
    sio.save_slp(labels, str(path))
    _, dock = open_dock(make_napari_viewer, path)
    dock.settings.form.widgets["predict_on"].value = FrameTarget.SUGGESTED
    before = len(notification_manager.records)
    assert not dock.runner.predict({ModelKind.BOTTOM_UP: bottom_up_run / "bottom_up"})
    said = [str(n.message) for n in notification_manager.records[before:]]
    assert any("This video has no suggested frames" in s for s in said)
