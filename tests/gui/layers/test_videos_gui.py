"""A project of two videos in a real viewer: the video switcher of both docks, training on
the labels of both, predicting on every video, saving (run under xvfb-run)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import sleap_io as sio

from napari_sleap_train.choices import FrameTarget, VideoScope
from napari_sleap_train.gui.labelling.dock import LabellingWidget
from napari_sleap_train.gui.last_config import settings_file
from napari_sleap_train.gui.training.dock import TrainingDock

from ..training.test_dock import tiny


@pytest.fixture
def two_videos(sample_paths, tmp_path):
    """The sample project plus a second video (a copy of the sample's) with labels on
    frames 100-109 and suggestions 110-119."""
    second = tmp_path / "second.avi"
    shutil.copy(sample_paths.video, second)
    labels = sio.load_slp(str(sample_paths.project))
    truth = sio.load_slp(str(sample_paths.ground_truth))
    video = sio.load_video(str(second))
    labels.videos.append(video)
    skeleton, tracks = labels.skeletons[0], {t.name: t for t in labels.tracks}
    for lf in truth.labeled_frames:
        if 100 <= lf.frame_idx < 110:
            users = [
                sio.Instance.from_numpy(u.numpy(), skeleton=skeleton, track=tracks[u.track.name])
                for u in lf.user_instances
            ]
            labels.append(sio.LabeledFrame(video=video, frame_idx=lf.frame_idx, instances=users))
    labels.suggestions.extend(
        sio.SuggestionFrame(video=video, frame_idx=f) for f in range(110, 120)
    )
    path = tmp_path / "two.slp"
    sio.save_slp(labels, str(path))
    return path


def test_switch_train_on_both_predict_all_and_save(make_napari_viewer, two_videos, qtbot):
    settings_file().unlink(missing_ok=True)
    viewer = make_napari_viewer()
    viewer.open(str(two_videos), plugin="napari-sleap-train")
    _, dock = viewer.window.add_plugin_dock_widget("napari-sleap-train", "Run Training…")
    _, widget = viewer.window.add_plugin_dock_widget("napari-sleap-train", "Label & Suggest…")
    assert isinstance(dock, TrainingDock) and isinstance(widget, LabellingWidget)
    assert widget.video_switcher.isVisibleTo(widget) and widget.video_switcher.box.count() == 2
    assert viewer.layers["sample.avi"].visible
    assert "second.avi" not in viewer.layers  # made when it is first shown
    assert "30 labelled frames, 90 instances" in widget.editor_panel.counts.text()

    widget.video_switcher.choose(1)
    assert viewer.layers["second.avi"].visible and viewer.layers["second.avi labels"].visible
    assert not viewer.layers["sample.avi labels"].visible
    assert dock.layers.video_index == 1 and widget.layers.video_index == 1
    assert dock.video_switcher.box.currentIndex() == 1  # the other dock follows
    rows = {f for f, *_ in widget.suggestions.rows()}
    assert rows == set(range(110, 120))  # the second video's suggestions

    tiny(dock, epochs=1, batches=2)
    w = dock.settings.form.widgets
    w["predict_on"].value = FrameTarget.RANGE
    w["first_frame"].value, w["last_frame"].value = 0, 4
    w["videos"].value = VideoScope.ALL
    # Both videos train: 20 + 10 labelled frames.
    assert "30 labelled frames, 90 instances" in dock.previews.count_label.text()
    assert "30 labelled frames, 90 instances" in widget.editor_panel.counts.text()
    dock.runner.run_button.click()
    qtbot.waitUntil(lambda: dock.runner.busy, timeout=5000)
    qtbot.waitUntil(
        lambda: not dock.runner.busy and "Predicted" in dock.runner.status.text(), timeout=120000
    )
    assert "in 2 videos" in dock.runner.status.text()
    for name in ("sample.avi", "second.avi"):
        frames = set(np.rint(viewer.layers[f"{name} predictions"].data[:, 0]).astype(int))
        assert frames and frames <= set(range(5)), name

    widget.saving.save_button.click()
    saved = sio.load_slp(str(two_videos))
    assert len(saved.videos) == 2
    per_video = {
        i: {lf.frame_idx for lf in saved.labeled_frames if lf.video is v and lf.user_instances}
        for i, v in enumerate(saved.videos)
    }
    assert len(per_video[0]) == 20 and per_video[1] == set(range(100, 110))
    predicted = {
        i
        for i, v in enumerate(saved.videos)
        for lf in saved.labeled_frames
        if lf.video is v and lf.predicted_instances
    }
    assert predicted == {0, 1}


def test_a_project_with_a_missing_video_opens_the_rest(make_napari_viewer, two_videos, tmp_path):
    from napari_sleap_train.errors import ProjectError
    from napari_sleap_train.io.project import load_project

    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (tmp_path / "second.avi").rename(moved / "second.avi")
    with pytest.raises(ProjectError, match="not found"):
        load_project(two_videos)  # the command line still refuses, naming where it looked
    viewer = make_napari_viewer()
    viewer.open(str(two_videos), plugin="napari-sleap-train")
    assert "sample.avi labels" in viewer.layers and "second.avi" not in viewer.layers
    _, widget = viewer.window.add_plugin_dock_widget("napari-sleap-train", "Label & Suggest…")
    assert "1 not found" in widget.project_label.text()
    assert widget.locate_button.isVisibleTo(widget)
    assert widget.video_switcher.box.itemText(1).endswith("(missing)")
    widget.video_switcher.choose(1)  # a missing video cannot be shown
    assert widget.layers.video_index == 0
    assert widget.locate_videos(tmp_path) == 0 and "still missing" in widget.status.text()
    assert widget.locate_videos(moved) == 1
    assert not widget.locate_button.isVisibleTo(widget)
    widget.video_switcher.choose(1)
    assert viewer.layers["second.avi labels"].visible and widget.layers.video_index == 1
    widget.saving.save_button.click()
    saved = sio.load_slp(str(two_videos))
    assert saved.videos[1].filename == str((moved / "second.avi").resolve())


def test_an_edit_in_one_video_saves_from_the_arrays(make_napari_viewer, two_videos):
    """The project stays the file's arrays through showing, editing and saving a video:
    the other video's rows are written as they were, the edit lands, nothing else moves."""
    from napari_sleap_train.gui import META_KEY

    before = sio.load_slp(str(two_videos))
    viewer = make_napari_viewer()
    viewer.open(str(two_videos), plugin="napari-sleap-train")
    _, widget = viewer.window.add_plugin_dock_widget("napari-sleap-train", "Label & Suggest…")
    assert widget.layers.project.is_lazy
    widget.video_switcher.choose(1)
    labels = viewer.layers["second.avi labels"]
    skeleton = viewer.layers["second.avi skeleton"]
    viewer.dims.set_current_step(0, 103)
    assert len(skeleton.data) and set(skeleton.data[:, 0, 0]) == {103}  # that frame's edges
    assert len(skeleton.metadata[META_KEY]["frame_rows"][0]) > len(skeleton.data)
    data = labels.data.copy()
    row = int(np.flatnonzero(data[:, 0] == 103)[0])
    data[row, 1:] += 5.0
    labels.data = data
    widget.saving.save_button.click()
    assert widget.layers.project.is_lazy  # saved without an object per instance
    saved = sio.load_slp(str(two_videos))

    def frames(labels, index):
        video = labels.videos[index]
        return {
            lf.frame_idx: [np.nan_to_num(i.numpy(), nan=-1) for i in lf.instances]
            for lf in labels.labeled_frames
            if lf.video is video
        }

    first_before, first_after = frames(before, 0), frames(saved, 0)
    assert first_before.keys() == first_after.keys()
    for f, insts in first_before.items():
        np.testing.assert_allclose(np.stack(first_after[f]), np.stack(insts))
    second_before, second_after = frames(before, 1), frames(saved, 1)
    assert second_after.keys() == second_before.keys() == set(range(100, 110))
    moved = np.concatenate(second_after[103]) - np.concatenate(second_before[103])
    assert np.isclose(np.abs(moved), 5.0).sum() == 2  # one node: its x and y
    assert [t.name for t in saved.tracks] == [t.name for t in before.tracks]
    assert len(saved.suggestions) == len(before.suggestions)
