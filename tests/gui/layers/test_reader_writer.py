"""The napari reader and writer: layers from .slp files and back, without edits or with."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import sleap_io as sio

from napari_sleap_train.gui import META_KEY
from napari_sleap_train.gui.layers.convert import layers_to_project, project_to_layers
from napari_sleap_train.gui.layers.reader import get_reader, read_project
from napari_sleap_train.gui.layers.writer import write_slp
from napari_sleap_train.io.project import ProjectError, load_project
from napari_sleap_train.io.video import LazyVideo, VideoOpenError

from ...conftest import SLP_FILES, require_data


def _instances(labels: sio.Labels):
    """(video index, frame, kind, track, xy, visible, scores) of every instance, sorted."""
    out = []
    for lf in labels.labeled_frames:
        for inst in lf.instances:
            predicted = isinstance(inst, sio.PredictedInstance)
            xy = inst.points["xy"]
            keep = np.isfinite(xy).all(axis=1)
            out.append(
                (
                    labels.videos.index(lf.video),
                    lf.frame_idx,
                    predicted,
                    inst.track.name if inst.track else "",
                    np.where(keep[:, None], xy, np.nan),
                    inst.points["visible"] & keep,
                    round(float(inst.score), 6) if predicted else None,
                )
            )
    return sorted(out, key=lambda r: (r[0], r[1], r[2], r[3], np.nan_to_num(r[4]).sum()))


@pytest.mark.parametrize("path", SLP_FILES, ids=lambda p: p.name)
def test_every_shared_project_round_trips(path, tmp_path):
    before = hashlib.sha256(path.read_bytes()).digest()
    layers = read_project(str(path))
    out = tmp_path / "roundtrip.slp"
    assert write_slp(str(out), layers) == [str(out.resolve())]
    original, saved = sio.load_slp(str(path)), sio.load_slp(str(out))
    assert saved.skeletons[0].node_names == original.skeletons[0].node_names
    assert saved.skeletons[0].edge_inds == original.skeletons[0].edge_inds
    assert saved.skeletons[0].symmetry_inds == original.skeletons[0].symmetry_inds
    assert sorted(t.name for t in saved.tracks) == sorted(t.name for t in original.tracks)
    assert [(s.frame_idx) for s in saved.suggestions] == [s.frame_idx for s in original.suggestions]
    a, b = _instances(original), _instances(saved)
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        assert ra[:4] == rb[:4]
        np.testing.assert_allclose(ra[4], rb[4], atol=1e-6)
        np.testing.assert_array_equal(ra[5], rb[5])
        assert ra[6] == rb[6]
    assert hashlib.sha256(path.read_bytes()).digest() == before


def test_layers_have_the_movement_features(sample_paths):
    layers = read_project(str(sample_paths.project))
    kinds = [(m["name"], t) for _, m, t in layers]
    assert kinds[0] == ("sample.avi", "image")
    assert ("sample.avi labels", "points") in kinds
    assert ("sample.avi skeleton", "vectors") in kinds
    data, meta, _ = next(layer for layer in layers if layer[1]["name"] == "sample.avi labels")
    assert data.shape[1] == 3
    feats = meta["features"]
    assert {"individual", "keypoint", "confidence", "instance", "track", "visible"} <= set(feats)
    assert feats["confidence"].isna().all()
    assert set(feats["keypoint"].astype(str)) <= set(load_project(sample_paths.project).node_names)
    assert meta["face_color"] == "keypoint"
    image = layers[0][0]
    assert isinstance(image, LazyVideo) and image.shape == (300, 384, 384)


def test_edited_points_are_saved_and_the_old_file_kept(sample_paths, tmp_path):
    target = tmp_path / "edited.slp"
    target.write_bytes(sample_paths.project.read_bytes())
    layers = read_project(str(target))
    i = next(i for i, layer in enumerate(layers) if layer[1]["name"].endswith(" labels"))
    data = layers[i][0].copy()
    data[0, 1:] += [3.0, -2.0]
    layers[i] = (data, layers[i][1], "points")
    write_slp(str(target), layers)
    assert (tmp_path / "edited.slp.bak").read_bytes() == sample_paths.project.read_bytes()
    saved = load_project(target)
    frame = int(data[0, 0])
    lf = next(lf for lf in saved.labels.labeled_frames if lf.frame_idx == frame)
    xy = np.concatenate([inst.numpy() for inst in lf.user_instances])
    assert np.isclose(xy, [data[0, 2], data[0, 1]], atol=1e-6).all(axis=1).any()


def test_point_without_keypoint_is_reported_not_saved(sample_paths, tmp_path):
    layers = read_project(str(sample_paths.project))
    i = next(i for i, layer in enumerate(layers) if layer[1]["name"].endswith(" labels"))
    feats = layers[i][1]["features"].copy()
    feats["keypoint"] = feats["keypoint"].cat.add_categories(["???"])
    feats.loc[0, "keypoint"] = "???"
    layers[i][1]["features"] = feats
    with pytest.raises(ProjectError, match="no valid keypoint"):
        write_slp(str(tmp_path / "x.slp"), layers)
    assert not (tmp_path / "x.slp").exists()


def test_a_project_from_plain_layers(tmp_path):
    video_path = require_data("small_robot.mp4")
    import pandas as pd

    video = LazyVideo(video_path)
    feats = pd.DataFrame({"keypoint": ["head", "tail", "head", "tail"], "instance": [0, 0, 1, 1]})
    pts = np.array([[0, 10, 20], [0, 30, 40], [5, 50, 60], [5, 70, 80]], float)
    layers = [(video, {"name": "robot"}, "image"), (pts, {"features": feats}, "points")]
    project = layers_to_project(layers)
    assert project.node_names == ["head", "tail"]
    out = project.save(tmp_path / "new.slp")
    labels = sio.load_slp(str(out))
    assert len(labels.labeled_frames) == 2
    np.testing.assert_allclose(labels.labeled_frames[0].instances[0].numpy(), [[20, 10], [40, 30]])


def test_empty_project_opens_with_empty_label_layers(tmp_path):
    video_path = require_data("small_robot.mp4")
    labels = sio.Labels(
        videos=[sio.load_video(str(video_path))], skeletons=[sio.Skeleton(["a", "b"])]
    )
    path = tmp_path / "empty.slp"
    sio.save_slp(labels, str(path))
    layers = read_project(str(path))
    points = [(d, m) for d, m, t in layers if t == "points"]
    assert len(points) == 1 and points[0][0].shape == (0, 3)


def test_reader_picks_slp_and_videos_only():
    assert get_reader("x.slp") is not None and get_reader("a/b.pkg.slp") is not None
    assert get_reader("x.mp4") is not None and get_reader("x.MOV") is not None
    assert get_reader("x.tif") is None and get_reader(["a.slp", "b.slp"]) is None


def test_bad_inputs_raise_clear_errors(tmp_path):
    with pytest.raises(ProjectError, match="does not exist"):
        read_project(str(tmp_path / "missing.slp"))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(VideoOpenError, match="bad.mp4.*not a video that OpenCV can decode"):
        get_reader(str(bad))(str(bad))


def test_undecodable_video_adds_no_layers(tmp_path):
    src = require_data("minimal_instance.slp")
    (tmp_path / "centered_pair_low_quality.mp4").write_bytes(b"\x00" * 4096)
    copy = tmp_path / "p.slp"
    copy.write_bytes(src.read_bytes())
    with pytest.raises(VideoOpenError, match="centered_pair_low_quality.mp4.*re-encode"):
        project_to_layers(load_project(copy))


def test_viewer_opens_project_and_sample(make_napari_viewer, sample_paths):
    viewer = make_napari_viewer()
    path = require_data("centered_pair_predictions.slp")
    viewer.open(str(path), plugin="napari-sleap-train")
    names = [layer.name for layer in viewer.layers]
    assert names == [
        "centered_pair_low_quality.mp4",
        "centered_pair_low_quality.mp4 skeleton",
        "centered_pair_low_quality.mp4 predicted skeleton",
        "centered_pair_low_quality.mp4 tracks",
        "centered_pair_low_quality.mp4 predictions",
        "centered_pair_low_quality.mp4 labels",
    ]
    tracks = viewer.layers["centered_pair_low_quality.mp4 tracks"]
    assert tracks._type_string == "tracks"
    assert len(np.unique(tracks.data[:, 0])) == 27  # the file's 27 tracks
    pred = viewer.layers["centered_pair_low_quality.mp4 predictions"]
    assert len(pred.data) > 40000 and pred.metadata[META_KEY]["kind"] == "predicted"
    viewer.dims.set_current_step(0, 10)
    viewer.layers.clear()
    viewer.open(str(sample_paths.project), plugin="napari-sleap-train")
    assert viewer.layers["sample.avi labels"].features["keypoint"].nunique() == 8


def test_failed_open_adds_nothing(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    bad = tmp_path / "bad.slp"
    bad.write_text("nope")
    with pytest.raises(Exception, match="bad.slp is not a SLEAP project: .slp files are HDF5"):
        viewer.open(str(bad), plugin="napari-sleap-train")
    assert len(viewer.layers) == 0


def test_file_open_reads_deeplabcut_labelled_data(make_napari_viewer):
    viewer = make_napari_viewer()
    path = require_data("dlc/labeled-data/video/madlc_testdata.csv")
    viewer.open(str(path), plugin="napari-sleap-train")  # napari reads .csv files too
    names = [layer.name for layer in viewer.layers]
    assert names == ["video", "video skeleton", "video labels"]  # named after its folder
    labels = viewer.layers["video labels"]
    assert set(labels.features["individual"]) == {"Animal1", "Animal2"}
    assert set(labels.features["keypoint"]) == {"A", "B", "C"}
    assert viewer.layers["video"].data.shape[:3] == (4, 30, 30)


OPENED = [p.name for p in SLP_FILES] + [
    "two_flies/two_flies.slp",
    "dlc/labeled-data/video/CollectedData_LM.csv",
    "dlc/labeled-data/video/madlc_testdata.csv",
    "mirror_mouse/CollectedData.csv",
]


@pytest.mark.parametrize("name", [*OPENED, "sample"], ids=lambda n: n)
def test_every_file_saves_all_its_layers_and_reopens(
    make_napari_viewer, name, sample_paths, tmp_path
):
    """File ▸ Save Layers with every layer selected (a Tracks layer among them), and Save
    project of the labelling dock, each read back with every instance and track."""
    from napari_sleap_train.gui.labelling.dock import LabellingWidget
    from napari_sleap_train.io.formats import load_any

    path = sample_paths.project if name == "sample" else require_data(name)
    viewer = make_napari_viewer()
    viewer.open(str(path), plugin="napari-sleap-train")
    original = load_any(path)
    out = tmp_path / "saved.slp"
    assert viewer.layers.save(str(out), plugin="napari-sleap-train") == [str(out.resolve())]
    again = sio.load_slp(str(out))
    assert len(_instances(again)) == len(_instances(original))
    assert sorted(t.name for t in again.tracks) == sorted(t.name for t in original.tracks)
    _, widget = viewer.window.add_plugin_dock_widget("napari-sleap-train", "Label & Suggest…")
    assert isinstance(widget, LabellingWidget)
    project_file = tmp_path / "project.slp"
    assert widget.saving.save_project(project_file) == project_file.resolve()
    kept, before = _instances(sio.load_slp(str(project_file))), _instances(original)
    users = [r for r in before if not r[2]]
    assert [r[:4] for r in kept if not r[2]] == [r[:4] for r in users]
    # a user instance replaces the prediction of the same animal
    assert len(before) - len(users) <= len(kept) <= len(before)


def test_saving_keypoint_layers_without_points_says_so(make_napari_viewer, tmp_path):
    from napari.utils.notifications import notification_manager

    viewer = make_napari_viewer()
    viewer.open(str(require_data("minimal_instance.slp")), plugin="napari-sleap-train")
    for layer in viewer.layers:
        if layer._type_string == "points":
            layer.data = np.zeros((0, 3))
    before = len(notification_manager.records)
    out = tmp_path / "empty.slp"
    assert viewer.layers.save(str(out), plugin="napari-sleap-train") == [str(out.resolve())]
    said = [str(n.message) for n in notification_manager.records[before:]]
    assert any("but no instance" in s for s in said)
