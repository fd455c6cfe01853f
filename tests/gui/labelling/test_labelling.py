"""The "Label & Suggest…" dock with a real viewer and real files (run under xvfb-run)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sleap_io as sio
from qtpy.QtCore import Qt

from napari_sleap_train.gui import META_KEY
from napari_sleap_train.gui.labelling.dock import LabellingWidget
from napari_sleap_train.gui.labelling.poses import mean_pose
from napari_sleap_train.gui.layers.project_layers import project_from_viewer, show_predictions
from napari_sleap_train.inference.results import add_predictions
from napari_sleap_train.inference.topdown import FramePrediction

from ...conftest import require_data

WIDGET = "Label & Suggest…"


def add_widget(viewer) -> LabellingWidget:
    _, widget = viewer.window.add_plugin_dock_widget("napari-sleap-train", WIDGET)
    assert isinstance(widget, LabellingWidget)
    return widget


@pytest.fixture
def sample(make_napari_viewer, sample_paths, tmp_path):
    """A viewer with a copy of the sample project open and the widget docked."""
    viewer = make_napari_viewer()
    path = tmp_path / "sample.slp"
    path.write_bytes(sample_paths.project.read_bytes())
    viewer.open(str(path), plugin="napari-sleap-train")
    return viewer, add_widget(viewer), path


def click_row(qtbot, table, row: int) -> None:
    """Click a row of a table as a user does."""
    rect = table.visualItemRect(table.item(row, 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def press(qtbot, viewer, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    """Press a key on the napari canvas."""
    canvas = viewer.window._qt_viewer.canvas.native
    canvas.setFocus()
    qtbot.keyClick(canvas, key, modifier)


def predict_from_ground_truth(viewer, ground_truth, frames, seed=0) -> dict:
    """Predictions on ``frames``: the true poses moved by ~0.5 px, shown as the dock does."""
    truth = sio.load_slp(str(ground_truth), open_videos=False)
    by_frame = {lf.frame_idx: lf for lf in truth.labeled_frames}
    rng = np.random.default_rng(seed)
    preds = {}
    for f in frames:
        pts = np.stack([inst.numpy() for inst in by_frame[f].user_instances])
        pts = pts + rng.normal(0, 0.5, pts.shape)
        scores = rng.uniform(0.6, 0.9, len(pts))
        preds[f] = FramePrediction(f, pts, np.full(pts.shape[:2], 0.8), scores)
    project = project_from_viewer(viewer)
    add_predictions(project, project.videos[0], preds.values())
    show_predictions(viewer, project)
    return preds


def user_xy(labels: sio.Labels, frame: int) -> list[np.ndarray]:
    lf = next(lf for lf in labels.labeled_frames if lf.frame_idx == frame)
    return [inst.numpy() for inst in lf.user_instances]


# ---------------------------------------------------------------------------------------


def test_new_project_from_a_bare_video(make_napari_viewer, tmp_path):
    video = require_data("small_robot.mp4")
    viewer = make_napari_viewer()
    viewer.open(str(video), plugin="napari-sleap-train")
    widget = add_widget(viewer)
    assert widget.tabs.currentIndex() == 1  # the skeleton tab comes first on a bare video
    assert "New project on small_robot.mp4" in widget.project_label.text()

    editor = widget.editor
    for name in ("head", "tail", "left_ear", "right_ear"):
        editor.node_name.setText(name)
        editor.add_node_button.click()
    editor.nodes.item(0).setText("nose")  # renamed in place, as a double-click edit does
    editor.node_name.setText("tail")
    editor.add_node_button.click()  # a duplicate name is refused with a message
    assert "already a node named 'tail'" in editor.message.text()
    for a, b in (("nose", "tail"), ("nose", "left_ear"), ("nose", "right_ear")):
        editor.edge_a.setCurrentText(a)
        editor.edge_b.setCurrentText(b)
        editor.add_edge_button.click()
    editor.sym_a.setCurrentText("left_ear")
    editor.sym_b.setCurrentText("right_ear")
    editor.add_symmetry_button.click()
    editor.apply_button.click()

    labels = viewer.layers["small_robot.mp4 labels"]
    assert len(labels.data) == 0
    assert {"individual", "keypoint", "instance", "track", "visible", "score"} <= set(
        labels.features
    )
    assert list(labels.features["keypoint"].cat.categories) == [
        "nose",
        "tail",
        "left_ear",
        "right_ear",
    ]
    assert "small_robot.mp4 skeleton" in viewer.layers

    viewer.dims.set_current_step(0, 5)
    widget.editor_panel.new_button.click()
    assert len(labels.data) == 4 and set(labels.data[:, 0]) == {5}
    spread = labels.data[:, 1:]
    assert np.linalg.norm(spread - spread.mean(0), axis=1).min() > 10  # a circle, not a dot
    centre = np.asarray(viewer.camera.center[-2:])
    np.testing.assert_allclose(spread.mean(0), centre, atol=1)
    data = labels.data.copy()
    data[1, 1:] = [200.0, 300.0]  # drag the tail
    labels.data = data
    viewer.dims.set_current_step(0, 40)
    widget.editor_panel.new_button.click()
    assert len(labels.data) == 8
    assert list(labels.features["instance"]) == [0] * 4 + [1] * 4
    skeleton = viewer.layers["small_robot.mp4 skeleton"]
    assert len(skeleton.metadata[META_KEY]["frame_rows"][0]) == 6  # 3 edges x 2 instances
    assert len(skeleton.data) == 3 and set(skeleton.data[:, 0, 0]) == {40}  # the shown frame's
    viewer.dims.set_current_step(0, 5)
    assert len(skeleton.data) == 3 and set(skeleton.data[:, 0, 0]) == {5}
    viewer.dims.set_current_step(0, 6)
    assert len(skeleton.data) == 0
    assert "2 labelled frames, 2 instances" in widget.editor_panel.counts.text()

    out = tmp_path / "robot.slp"
    assert widget.saving.save_project(out) == out.resolve()
    saved = sio.load_slp(str(out))
    skeleton = saved.skeletons[0]
    assert skeleton.node_names == ["nose", "tail", "left_ear", "right_ear"]
    assert skeleton.edge_inds == [(0, 1), (0, 2), (0, 3)]
    assert skeleton.symmetry_inds == [(2, 3)]
    assert [lf.frame_idx for lf in saved.labeled_frames] == [5, 40]
    assert sum(len(lf.user_instances) for lf in saved.labeled_frames) == 2
    first = user_xy(saved, 5)[0]
    np.testing.assert_allclose(first[1], [300.0, 200.0])  # x, y of the moved tail
    assert np.isfinite(user_xy(saved, 40)[0]).all()
    assert saved.videos[0].filename.endswith("small_robot.mp4")
    widget.saving.save_button.click()  # now the project has a file: saved in place, with a backup
    assert (tmp_path / "robot.slp.bak").exists()
    # File > Save Layers (napari's writer) saves the same project
    viewer.layers.save(str(tmp_path / "writer.slp"), plugin="napari-sleap-train")
    again = sio.load_slp(str(tmp_path / "writer.slp"))
    assert again.skeletons[0].symmetry_inds == [(2, 3)]
    np.testing.assert_allclose(user_xy(again, 5)[0], first)


def test_the_loop_on_the_sample(sample, sample_paths, qtbot):
    viewer, widget, path = sample
    assert "20 labelled frames, 60 instances" in widget.editor_panel.counts.text()
    before = {row[0] for row in widget.suggestions.rows()}
    widget.suggestions.method.setCurrentText("image-features")
    widget.suggestions.count.setValue(10)
    widget.suggestions.suggest_button.click()
    qtbot.waitUntil(lambda: widget.suggestions.worker is None, timeout=60000)
    rows = widget.suggestions.rows()
    new = sorted({row[0] for row in rows} - before)
    assert len(new) == 10 and widget.suggestions.table.rowCount() == len(before) + 10
    assert "Suggested 10 new frame(s)" in widget.status.text()

    preds = predict_from_ground_truth(viewer, sample_paths.ground_truth, new)
    shown = {f: (n, score) for f, _, n, score in widget.suggestions.rows()}
    for f in new:
        assert shown[f][0] == 3 and shown[f][1] == pytest.approx(preds[f].scores.mean())

    accepted = new[:3]
    frames_in_table = [
        int(widget.suggestions.table.item(r, 0).text())
        for r in range(widget.suggestions.table.rowCount())
    ]
    labels = viewer.layers["sample.avi labels"]
    pred = viewer.layers["sample.avi predictions"]
    for f in accepted[:2]:
        click_row(qtbot, widget.suggestions.table, frames_in_table.index(f))
        assert viewer.dims.current_step[0] == f
        widget.editor_panel.accept_button.click()  # nothing selected: every prediction on the frame
        assert "Accepted 3 predicted instance(s)" in widget.status.text()
    click_row(qtbot, widget.suggestions.table, frames_in_table.index(accepted[2]))
    pred.selected_data = {int(np.flatnonzero(np.rint(pred.data[:, 0]) == accepted[2])[0])}
    widget.editor_panel.accept_button.click()  # the instance of the selected point only
    assert "Accepted 1 predicted instance(s)" in widget.status.text()
    widget.editor_panel.accept_button.click()  # the two others
    assert "Accepted 2" in widget.status.text() and "1 already labelled" in widget.status.text()
    widget.editor_panel.accept_button.click()  # a second time: nothing is added twice
    assert "Accepted 0" in widget.status.text() and "3 already labelled" in widget.status.text()
    assert "23 labelled frames, 69 instances" in widget.editor_panel.counts.text()

    # move one node of an accepted instance, as dragging it does
    rows_moved = np.flatnonzero(np.rint(labels.data[:, 0]) == accepted[0])
    moved = int(rows_moved[0])
    node = str(labels.features["keypoint"].iloc[moved])
    data = labels.data.copy()
    data[moved, 1:] += [4.0, -3.0]
    labels.data = data
    target_xy = data[moved, [2, 1]]

    widget.saving.save_button.click()
    assert path.with_name("sample.slp.bak").exists()
    assert "9 prediction(s) replaced by user instances" in widget.status.text()
    saved = sio.load_slp(str(path))
    node_idx = saved.skeletons[0].node_names.index(node)
    assert len(saved.suggestions) == len(before) + 10
    by_frame = {lf.frame_idx: lf for lf in saved.labeled_frames}
    for f in accepted:
        lf = by_frame[f]
        assert len(lf.user_instances) == 3 and not lf.predicted_instances
        got = np.stack(sorted((i.numpy() for i in lf.user_instances), key=lambda a: a[0, 0]))
        want = np.stack(sorted(preds[f].points, key=lambda a: a[0, 0]))
        if f == accepted[0]:
            hit = np.isclose(got[:, node_idx], target_xy, atol=1e-6).all(axis=1)
            assert hit.sum() == 1
            np.testing.assert_allclose(got[~hit], want[~hit], atol=1e-6)
        else:
            np.testing.assert_allclose(got, want, atol=1e-6)
    for f in new[3:]:
        assert len(by_frame[f].predicted_instances) == 3 and not by_frame[f].user_instances
    assert sum(len(lf.user_instances) for lf in saved.labeled_frames) == 69
    assert "23 labelled frames, 69 instances" in widget.editor_panel.counts.text()
    table = {row[0]: row[1] for row in widget.suggestions.rows()}
    assert all(table[f] for f in accepted) and not any(table[f] for f in new[3:])


def test_shortcuts_go_to_unlabelled_suggestions(sample, qtbot):
    viewer, widget, _ = sample
    todo = sorted(f for f, labelled, _, _ in widget.suggestions.rows() if not labelled)
    assert len(todo) > 3
    viewer.dims.set_current_step(0, 0)
    press(qtbot, viewer, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert viewer.dims.current_step[0] == todo[0]
    press(qtbot, viewer, Qt.Key.Key_Period)
    assert viewer.dims.current_step[0] == todo[1]
    widget.editor_panel.new_button.click()  # label todo[1]: the shortcuts now skip it
    press(qtbot, viewer, Qt.Key.Key_Comma)
    assert viewer.dims.current_step[0] == todo[0]
    press(qtbot, viewer, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert viewer.dims.current_step[0] == todo[2]
    press(qtbot, viewer, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    assert viewer.dims.current_step[0] == todo[0]
    press(qtbot, viewer, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)  # wraps around
    assert viewer.dims.current_step[0] == todo[-1]


def test_toggle_visibility_and_delete_instance(sample):
    viewer, widget, path = sample
    labels = viewer.layers["sample.avi labels"]
    viewer.dims.set_current_step(0, 13)
    on_frame = np.flatnonzero(np.rint(labels.data[:, 0]) == 13)
    first = labels.features["instance"].to_numpy()[on_frame[0]]
    rows = [int(r) for r in on_frame if labels.features["instance"].iloc[r] == first][:2]
    labels.selected_data = set(rows)
    widget.editor_panel.visibility_button.click()
    assert not labels.features["visible"].iloc[rows].any()
    assert all(str(s) == "cross" for s in labels.symbol[rows])
    node_names = [str(labels.features["keypoint"].iloc[r]) for r in rows]
    widget.saving.save_project()
    saved = sio.load_slp(str(path))
    lf = next(lf for lf in saved.labeled_frames if lf.frame_idx == 13)
    names = saved.skeletons[0].node_names
    hidden = [inst for inst in lf.user_instances if not inst.points["visible"].all()]
    assert len(hidden) == 1
    assert [names[i] for i in np.flatnonzero(~hidden[0].points["visible"])] == node_names
    labels.selected_data = set(rows)
    widget.editor_panel.visibility_button.click()  # and back
    assert labels.features["visible"].iloc[rows].all()
    assert all(str(s) == "disc" for s in labels.symbol[rows])

    n_points = len(labels.data)
    labels.selected_data = {rows[0]}
    widget.editor_panel.delete_button.click()
    assert len(labels.data) == n_points - 8
    assert first not in set(labels.features["instance"])
    assert "20 labelled frames, 59 instances" in widget.editor_panel.counts.text()
    labels.selected_data = set()
    widget.editor_panel.delete_button.click()
    assert "Select a point" in widget.status.text()


def test_points_added_with_napari_tools_are_repaired_or_reported(sample, tmp_path, qtbot):
    viewer, widget, path = sample
    labels = viewer.layers["sample.avi labels"]
    viewer.dims.set_current_step(0, 13)
    on_frame = np.flatnonzero(np.rint(labels.data[:, 0]) == 13)
    inst = labels.features["instance"].to_numpy()
    a, b = inst[on_frame[0]], inst[on_frame[-1]]
    assert a != b
    # delete the tail tip of animal a
    tail = next(
        int(r)
        for r in on_frame
        if inst[r] == a and labels.features["keypoint"].iloc[r] == "tail_tip"
    )
    where = labels.data[tail].copy()
    labels.selected_data = {tail}
    labels.remove_selected()
    # select a point of animal b (napari then gives new points b's features), add a point
    labels.selected_data = {int(np.flatnonzero(labels.features["instance"].to_numpy() == b)[0])}
    labels.add(where + [0, 1.0, 1.0])
    added = labels.features.iloc[-1]
    assert added["keypoint"] == "tail_tip" and added["instance"] == a
    assert added["individual"] == labels.features["individual"].iloc[on_frame[0]]
    assert "became 'tail_tip'" in widget.status.text()
    assert "20 labelled frames, 60 instances" in widget.editor_panel.counts.text()

    # every instance on the frame is complete: the next point has no node to be
    labels.add([13, 5.0, 5.0])
    assert labels.features["keypoint"].isna().iloc[-1]
    assert "no node to be" in widget.status.text()
    assert "1 point(s) have no node" in widget.editor_panel.counts.text()
    out = tmp_path / "not_saved.slp"
    assert widget.saving.save_project(out) is None
    assert not out.exists() and "no node to be" in widget.status.text()

    # an instance copied and pasted onto its own frame is a new instance. (napari's paste
    # adds points and their features without a data event; its Points._paste_data fails
    # in napari 0.9.2, so the same is done here by hand.)
    labels.selected_data = {len(labels.data) - 1}
    labels.remove_selected()
    qtbot.waitUntil(lambda: "have no node" not in widget.editor_panel.counts.text(), timeout=2000)
    rows = np.flatnonzero(labels.features["instance"].to_numpy() == b)
    features = pd.concat([labels.features, labels.features.iloc[rows]], ignore_index=True)
    with labels.events.data.blocker():
        labels.data = np.concatenate([labels.data, labels.data[rows]])
    labels.features = features
    assert widget.saving.save_project(out) == out.resolve()
    saved = sio.load_slp(str(out))
    lf = next(lf for lf in saved.labeled_frames if lf.frame_idx == 13)
    assert len(lf.user_instances) == 4


def test_rename_a_node_and_load_a_skeleton(sample, make_napari_viewer, sample_paths, tmp_path):
    viewer, widget, path = sample
    labels = viewer.layers["sample.avi labels"]
    n_points = len(labels.data)
    widget.editor.nodes.item(0).setText("nose")
    widget.editor.apply_button.click()
    assert len(labels.data) == n_points
    assert list(labels.features["keypoint"].cat.categories)[0] == "nose"
    assert (labels.features["keypoint"] == "nose").sum() == 60
    widget.saving.save_project()
    assert sio.load_slp(str(path)).skeletons[0].node_names[0] == "nose"

    # a bare video with the skeleton of another project
    video = require_data("small_robot.mp4")
    other = make_napari_viewer()
    other.open(str(video), plugin="napari-sleap-train")
    fresh = add_widget(other)
    assert fresh.load_skeleton(sample_paths.project)
    assert fresh.editor.node_names()[:2] == ["head", "thorax"]
    fresh.editor.apply_button.click()
    other.dims.set_current_step(0, 3)
    fresh.editor_panel.new_button.click()
    out = fresh.saving.save_project(tmp_path / "robot.slp")
    saved = sio.load_slp(str(out))
    assert saved.skeletons[0].symmetry_inds == [(4, 5), (6, 7)]
    assert len(saved.labeled_frames[0].user_instances[0].numpy()) == 8


def test_exports_from_the_widget_read_back(sample, sample_paths, tmp_path):
    viewer, widget, _ = sample
    frames = [f for f, labelled, _, _ in widget.suggestions.rows() if not labelled][:5]
    predict_from_ground_truth(viewer, sample_paths.ground_truth, frames)

    slp = widget.saving.export(tmp_path / "preds.slp", "slp", which="predicted")
    back = sio.load_slp(str(slp))
    assert sum(len(lf.predicted_instances) for lf in back.labeled_frames) == 15
    assert sum(len(lf.user_instances) for lf in back.labeled_frames) == 0

    h5 = widget.saving.export(tmp_path / "all.analysis.h5", "analysis-h5", which="all")
    back = sio.load_analysis_h5(str(h5))
    assert sum(len(lf.instances) for lf in back.labeled_frames) == 60 + 15
    assert back.skeletons[0].node_names == sio.load_slp(str(slp)).skeletons[0].node_names

    csv = widget.saving.export(tmp_path / "preds.csv", "csv", which="predicted")
    back = sio.load_csv(str(csv), format="sleap")
    assert sum(len(lf.instances) for lf in back.labeled_frames) == 15
    assert sorted(lf.frame_idx for lf in back.labeled_frames) == sorted(frames)

    nc = widget.saving.export(tmp_path / "preds.movement.nc", "movement", which="predicted")
    xr = pytest.importorskip("xarray")
    with xr.open_dataset(nc) as ds:  # a movement poses dataset: every frame of the video
        assert ds.attrs["ds_type"] == "poses" and ds.sizes["time"] == 300
        found = np.isfinite(ds.position.values).any(axis=(1, 2, 3))
        assert sorted(np.flatnonzero(found).tolist()) == sorted(frames)

    coco = widget.saving.convert(tmp_path / "all.json", "coco")  # another tool's format
    back = sio.load_coco(str(coco))
    assert sum(len(lf.instances) for lf in back.labeled_frames) == 60 + 15
    assert len(list((tmp_path / "all_images").iterdir())) == len(back.labeled_frames)

    assert widget.saving.export(tmp_path / "missing" / "x.csv", "csv") is None
    assert "does not exist" in widget.status.text()


def _pairwise(pose: np.ndarray) -> np.ndarray:
    return np.linalg.norm(pose[:, None] - pose[None], axis=-1)


def test_new_instances_take_the_mean_labelled_shape(sample):
    # animals facing every way: the mean is their shape, not a point
    base = np.array([[0, 10], [0, 0], [0, -10], [5, 3]], float)
    turns = [np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]]) for t in range(6)]
    poses = np.stack([base @ r.T + [100, 50] for r in turns])
    np.testing.assert_allclose(_pairwise(mean_pose(poses)), _pairwise(base), atol=1e-9)

    viewer, widget, _ = sample
    labels = viewer.layers["sample.avi labels"]
    viewer.dims.set_current_step(0, 14)
    widget.editor_panel.new_button.click()
    new = labels.data[np.rint(labels.data[:, 0]) == 14][:, 1:]
    truth = labels.data[np.rint(labels.data[:, 0]) == 13][:8, 1:]  # one labelled animal
    assert len(new) == 8 and labels.mode == "select"
    scale = _pairwise(truth).max()
    assert abs(_pairwise(new).max() - scale) < 0.25 * scale


def test_the_training_dock_follows_the_edits(sample):
    viewer, widget, _ = sample
    _, dock = viewer.window.add_plugin_dock_widget("napari-sleap-train", "Run Training…")
    assert dock.previews.counts()[:2] == (20, 60)
    viewer.dims.set_current_step(0, 14)
    widget.editor_panel.new_button.click()
    assert dock.previews.counts()[:2] == (21, 61)
    labels = viewer.layers["sample.avi labels"]
    labels.selected_data = set(np.flatnonzero(np.rint(labels.data[:, 0]) == 14).tolist())
    widget.editor_panel.visibility_button.click()  # every node invisible: not trained on
    assert dock.previews.counts()[:2] == (20, 60)
    assert "20 labelled frames, 60 instances" in widget.editor_panel.counts.text()
    dock.shutdown()


def test_outlier_frames_of_tracked_predictions_are_suggested_with_why(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open(str(require_data("centered_pair_predictions.slp")), plugin="napari-sleap-train")
    widget = add_widget(viewer)
    panel = widget.suggestions
    panel.suggest("outliers", 3, wait=True)
    table = panel.table
    assert table.rowCount() == 3
    why = [table.item(r, 4).text() for r in range(3)]
    assert all("jumps" in w or "leaves its path" in w for w in why)


def test_check_labels_flags_jumps_marks_correct_and_keeps_the_mark(
    make_napari_viewer, sample_paths, tmp_path, qtbot
):
    from napari_sleap_train.evaluation.label_checks import check_project
    from napari_sleap_train.io.project import load_project

    labels = sio.load_slp(str(sample_paths.project))
    lf = sorted(labels.user_labeled_frames, key=lambda lf: lf.frame_idx)[3]
    inst = lf.user_instances[1]
    xy = inst.numpy().copy()
    xy[0] += 80  # a node put a body length away
    lf.instances[lf.instances.index(inst)] = sio.Instance.from_numpy(
        xy, skeleton=inst.skeleton, track=inst.track
    )
    path = tmp_path / "wrong.slp"
    sio.save_slp(labels, str(path))
    viewer = make_napari_viewer()
    viewer.open(str(path), plugin="napari-sleap-train")
    widget = add_widget(viewer)
    panel = widget.checks
    panel.check_button.click()
    table = panel.table
    rows = [r for r in range(table.rowCount()) if table.item(r, 1).text() == str(lf.frame_idx)]
    assert len(rows) == 1 and "off the pose" in table.item(rows[0], 3).text()
    click_row(qtbot, table, rows[0])
    assert viewer.dims.current_step[0] == lf.frame_idx
    table.selectRow(rows[0])
    panel.correct_button.click()
    assert str(lf.frame_idx) not in [table.item(r, 1).text() for r in range(table.rowCount())]
    assert widget.saving.save_project() == path.resolve()
    again = check_project(load_project(path))
    assert lf.frame_idx not in [f.frame for f in again]
