"""Tracks in a real viewer: tracking from both docks, the Tracks layer, proofreading and
saving (run under xvfb-run)."""

from __future__ import annotations

import numpy as np
import pytest
import sleap_io as sio

from napari_sleap_train.choices import FrameTarget, TrackerMethod
from napari_sleap_train.gui.labelling.dock import LabellingWidget
from napari_sleap_train.gui.layers.points_table import PointsTable

from ..training.test_dock import tiny, viewer_dock  # noqa: F401 - the fixture

N_FRAMES = 40


def _predictions_project(sample_paths, path) -> None:
    """The sample's ground truth of the first frames as untracked predictions, beside the
    project's own user labels (with their tracks) on those frames."""
    truth = sio.load_slp(str(sample_paths.ground_truth))
    project = sio.load_slp(str(sample_paths.project))
    video, skeleton = project.videos[0], project.skeletons[0]
    labelled = {lf.frame_idx for lf in project.labeled_frames}
    for lf in truth.labeled_frames:
        if lf.frame_idx >= N_FRAMES or lf.frame_idx in labelled:
            continue
        preds = [
            sio.PredictedInstance.from_numpy(u.numpy(), skeleton=skeleton, score=0.9)
            for u in lf.user_instances
        ]
        project.append(sio.LabeledFrame(video=video, frame_idx=lf.frame_idx, instances=preds))
    sio.save_slp(project, str(path))


@pytest.fixture
def tracked(make_napari_viewer, sample_paths, tmp_path):
    path = tmp_path / "predicted.slp"
    _predictions_project(sample_paths, path)
    viewer = make_napari_viewer()
    viewer.open(str(path), plugin="napari-sleap-train")
    _, widget = viewer.window.add_plugin_dock_widget("napari-sleap-train", "Label & Suggest…")
    assert isinstance(widget, LabellingWidget)
    return viewer, widget, path


def _tracks_by_frame(layer) -> dict[int, dict[str, np.ndarray]]:
    """Frame -> track -> centre (y, x) of the instance with that track."""
    table = PointsTable.from_layer(layer)
    out: dict[int, dict[str, np.ndarray]] = {}
    for f, t, c in zip(table.frames, table.features["track"], table.data[:, 1:]):
        out.setdefault(int(f), {}).setdefault(t, []).append(c)
    return {f: {t: np.mean(c, axis=0) for t, c in d.items()} for f, d in out.items()}


def test_track_swap_save_and_reopen(tracked, make_napari_viewer, qtbot):
    viewer, widget, path = tracked
    panel = widget.tracks
    layer = viewer.layers["sample.avi predictions"]
    assert set(layer.features["track"]) == {""}
    panel.track_button.click()
    # The user-labelled tracks seed the tracker: every prediction takes one of their names.
    assert set(layer.features["track"]) == {"animal_0", "animal_1", "animal_2"}
    assert "sample.avi tracks" in viewer.layers
    tracks_layer = viewer.layers["sample.avi tracks"]
    assert len(np.unique(tracks_layer.data[:, 0])) == 3
    colours = {tuple(np.round(c, 3)) for c in layer.face_color}
    assert len(colours) == 3  # coloured by track, not by node
    names = list(viewer.layers).index
    assert names(tracks_layer) < names(layer)  # the trails lie under the points
    track_of = layer.features["track"].to_numpy()
    for k, name in enumerate(tracks_layer.metadata["napari_sleap_train"]["track_names"]):
        trail = tracks_layer.track_colors[tracks_layer.data[:, 0] == k]
        point = layer.face_color[track_of == name]
        np.testing.assert_allclose(trail, np.repeat(point[:1], len(trail), 0), atol=1e-6)
    before = _tracks_by_frame(layer)
    # The ground truth keeps each animal apart: tracks move smoothly, no jump > 20 px.
    for f in range(1, N_FRAMES):
        if f in before and f - 1 in before:
            for t in before[f].keys() & before[f - 1].keys():
                assert np.hypot(*(before[f][t] - before[f - 1][t])) < 20

    viewer.dims.set_current_step(0, 20)
    panel.track_box.setCurrentText("animal_0")
    panel.other_box.setCurrentText("animal_1")
    panel.swap_button.click()
    after = _tracks_by_frame(layer)
    for f in before:
        if f >= 20:
            np.testing.assert_allclose(after[f]["animal_0"], before[f]["animal_1"])
        else:
            np.testing.assert_allclose(after[f]["animal_0"], before[f]["animal_0"])
    # The swap is a jump of both tracks at frame 20: the next suspicious frame from 0.
    viewer.dims.set_current_step(0, 0)
    event = panel.goto(1)
    first = min(f for f in before if f >= 20)  # labelled frames hold no predictions
    assert event is not None and event.frame == first and event.reason == "jump"

    widget.saving.save_button.click()
    assert path.with_name(path.name + ".bak").exists() or any(path.parent.glob("*.bak"))
    saved = sio.load_slp(str(path))
    frame25 = next(lf for lf in saved.labeled_frames if lf.frame_idx == 25)
    names = {p.track.name: np.nanmean(p.numpy(), axis=0) for p in frame25.predicted_instances}
    np.testing.assert_allclose(names["animal_0"][::-1], before[25]["animal_1"], atol=1e-3)

    fresh = make_napari_viewer()
    fresh.open(str(path), plugin="napari-sleap-train")
    reopened = _tracks_by_frame(fresh.layers["sample.avi predictions"])
    np.testing.assert_allclose(reopened[25]["animal_0"], before[25]["animal_1"], atol=1e-3)
    assert "sample.avi tracks" in fresh.layers  # a tracked project shows its Tracks layer


def test_assign_and_delete(tracked):
    viewer, widget, _ = tracked
    panel = widget.tracks
    panel.track_button.click()
    layer = viewer.layers["sample.avi predictions"]
    table = PointsTable.from_layer(layer)
    row = int(np.flatnonzero((table.frames == 5) & (table.features["track"] == "animal_2"))[0])
    viewer.layers.selection.active = layer
    layer.selected_data = {row}
    panel.track_box.setCurrentText("animal_0")
    assert panel.assign_button.isEnabled()
    panel.assign_button.click()
    table = PointsTable.from_layer(layer)
    here = table.features["track"][table.frames == 5]
    # The chosen instance is animal_0 now; the old animal_0 of frame 5 took animal_2.
    assert table.features["track"].iloc[row] == "animal_0"
    assert sorted(set(here)) == ["animal_0", "animal_1", "animal_2"]

    viewer.dims.set_current_step(0, 30)
    panel.track_box.setCurrentText("animal_1")
    panel.delete_button.click()
    table = PointsTable.from_layer(layer)
    late = table.frames >= 30
    assert late.any() and not (table.features["track"][late] == "animal_1").any()
    assert (table.features["track"][~late] == "animal_1").any()
    assert "Deleted" in widget.status.text()


def test_dock_predicts_a_range_tracked_and_scattered_untracked(viewer_dock, qtbot):  # noqa: F811
    viewer, dock = viewer_dock
    tiny(dock, epochs=1, batches=2)
    w = dock.settings.form.widgets
    w["predict_on"].value = FrameTarget.RANGE
    w["first_frame"].value = 0
    w["last_frame"].value = 29
    w["tracker"].value = TrackerMethod.FLOW
    w["max_tracks"].value = 3
    dock.runner.run_button.click()
    qtbot.waitUntil(lambda: dock.runner.busy, timeout=5000)
    qtbot.waitUntil(
        lambda: not dock.runner.busy and "Predicted" in dock.runner.status.text(), timeout=120000
    )
    text = dock.runner.status.text()
    assert "Tracked" in text
    layer = viewer.layers["sample.avi predictions"]
    tracks = set(layer.features["track"]) - {""}
    assert 1 <= len(tracks) <= 3  # max tracks holds
    assert "sample.avi tracks" in viewer.layers

    w["predict_on"].value = FrameTarget.SUGGESTED
    dock.runs.runs.setCurrentRow(dock.runs.runs.count() - 1)
    dock.runs.predict_button.click()
    qtbot.waitUntil(
        lambda: not dock.runner.busy and "Predicted" in dock.runner.status.text(), timeout=60000
    )
    assert "Not tracked" in dock.runner.status.text()
    assert "consecutive" in dock.runner.status.text()
