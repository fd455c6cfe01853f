"""Exports read back by sleap-io (and movement when installed), on real SLEAP files."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import attrs
import h5py
import numpy as np
import pytest
import sleap_io as sio

from napari_sleap_train.io.export import (
    ExportError,
    csv_columns,
    export_analysis_h5,
    export_csv,
    export_labels,
    export_slp,
    select_instances,
    tracked_instances,
)
from napari_sleap_train.io.project import load_project

from ..conftest import require_data

SLEAP_DATASETS = {
    "tracks",
    "track_occupancy",
    "point_scores",
    "instance_scores",
    "tracking_scores",
    "node_names",
    "edge_names",
    "edge_inds",
    "track_names",
    "labels_path",
    "video_path",
    "video_ind",
    "provenance",
}


@pytest.fixture(scope="module")
def predictions_path():
    return require_data("centered_pair_predictions.slp")


@pytest.fixture
def predictions(predictions_path):
    """centered_pair_predictions.slp: 1,100 frames, 2,274 tracked predictions, 27 tracks."""
    return load_project(predictions_path).labels


def _untracked(labels: sio.Labels) -> sio.Labels:
    """The same predictions with no tracks at all."""
    frames = [
        sio.LabeledFrame(
            video=lf.video,
            frame_idx=lf.frame_idx,
            instances=[attrs.evolve(i, track=None) for i in lf.instances],
        )
        for lf in labels.labeled_frames
    ]
    return sio.Labels(
        labeled_frames=frames, videos=list(labels.videos), skeletons=list(labels.skeletons)
    )


def _read_rows(path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _only_file(folder, name):
    """The folder holds ``name`` (and no temporary file left behind)."""
    assert sorted(p.name for p in folder.iterdir()) == [name]


def test_slp_export_reads_back_with_the_same_points(predictions, tmp_path):
    out = export_slp(predictions, tmp_path / "preds.slp", which="predicted")
    assert out == (tmp_path / "preds.slp").resolve()
    _only_file(tmp_path, "preds.slp")
    back = sio.load_slp(str(out))
    assert len(back.labeled_frames) == 1100 and len(back.tracks) == 27
    assert [s.name for s in back.skeletons[0].nodes] == predictions.skeletons[0].node_names
    for a, b in zip(predictions.labeled_frames, back.labeled_frames):
        assert a.frame_idx == b.frame_idx and len(a.instances) == len(b.instances)
        for ia, ib in zip(a.instances, b.instances):
            np.testing.assert_allclose(ia.numpy(), ib.numpy(), equal_nan=True)
            assert ia.score == pytest.approx(ib.score)
            assert ia.track.name == ib.track.name
    # writing over an earlier export keeps it as .bak; the input labels are untouched
    export_slp(predictions, out)
    assert (tmp_path / "preds.slp.bak").exists()
    assert len(predictions.labeled_frames) == 1100


def test_selecting_instances(sample_paths, predictions):
    project = load_project(sample_paths.project)
    users = select_instances(project.labels, "user")
    assert sum(len(lf.instances) for lf in users.labeled_frames) == 60
    assert len(users.suggestions) == 36
    with pytest.raises(ExportError, match="no predicted instances to export.*run predict"):
        select_instances(project.labels, "predicted")
    with pytest.raises(ExportError, match="no user-labelled instances"):
        select_instances(predictions, "user")
    with pytest.raises(ExportError, match="Unknown instance choice"):
        select_instances(predictions, "some")
    with pytest.raises(ExportError, match="no instances to export"):
        export_labels(sio.Labels(videos=list(predictions.videos)), "x.slp", "slp")
    assert issubclass(ExportError, ValueError)


def test_analysis_h5_has_sleaps_layout_and_reads_back(predictions, predictions_path, tmp_path):
    out = export_analysis_h5(predictions, tmp_path / "preds.analysis.h5")
    _only_file(tmp_path, "preds.analysis.h5")
    n_nodes = len(predictions.skeletons[0].nodes)
    with h5py.File(out, "r") as f:
        assert set(f) >= SLEAP_DATASETS
        tracks = f["tracks"][:]
        assert tracks.shape == (27, 2, n_nodes, 1100)  # SLEAP's (MATLAB) order
        assert f["track_occupancy"].shape == (1100, 27)
        assert f["point_scores"].shape == (27, n_nodes, 1100)
        assert f["instance_scores"].shape == (27, 1100)
        assert f["tracking_scores"].shape == (27, 1100)
        assert [n.decode() for n in f["node_names"][:]] == predictions.skeletons[0].node_names
        assert f["edge_inds"].shape == (len(predictions.skeletons[0].edges), 2)
        track_names = [n.decode() for n in f["track_names"][:]]
        assert track_names == [t.name for t in predictions.tracks]
        stored = Path(f["labels_path"][()].decode()).resolve()
        assert stored == predictions_path.resolve()  # the same file, however it is reached
        assert f["video_path"][()].decode().endswith("centered_pair_low_quality.mp4")
        assert int(f["video_ind"][()]) == 0
        occupancy = f["track_occupancy"][:]
        point_scores = f["point_scores"][:]
        instance_scores = f["instance_scores"][:]
    assert occupancy.sum() == 2274
    slot = {name: i for i, name in enumerate(track_names)}
    for lf in predictions.labeled_frames:
        for inst in lf.instances:
            k = slot[inst.track.name]
            assert occupancy[lf.frame_idx, k] == 1
            np.testing.assert_allclose(tracks[k, :, :, lf.frame_idx].T, inst.numpy())
            np.testing.assert_allclose(point_scores[k, :, lf.frame_idx], inst.points["score"])
            assert instance_scores[k, lf.frame_idx] == pytest.approx(inst.score)

    for back in (sio.load_analysis_h5(str(out)), sio.load_file(str(out), format="analysis_h5")):
        assert sum(len(lf.instances) for lf in back.labeled_frames) == 2274
        got = {(lf.frame_idx, i.track.name): i.numpy() for lf in back.labeled_frames for i in lf}
        for lf in predictions.labeled_frames:
            for inst in lf.instances:
                np.testing.assert_allclose(got[(lf.frame_idx, inst.track.name)], inst.numpy())


def test_untracked_instances_get_tracks_by_score(predictions, tmp_path):
    labels = _untracked(predictions)
    out = export_analysis_h5(labels, tmp_path / "untracked.h5")
    with h5py.File(out, "r") as f:
        names = [n.decode() for n in f["track_names"][:]]
        scores = f["instance_scores"][:]
        tracks = f["tracks"][:]
        occupancy = f["track_occupancy"][:]
    max_per_frame = max(len(lf.instances) for lf in labels.labeled_frames)
    assert names == [f"track_{i}" for i in range(max_per_frame)]
    assert occupancy.sum() == 2274
    for lf in labels.labeled_frames:
        ranked = sorted(lf.instances, key=lambda i: -i.score)
        for k, inst in enumerate(ranked):
            assert scores[k, lf.frame_idx] == pytest.approx(inst.score)
            np.testing.assert_allclose(tracks[k, :, :, lf.frame_idx].T, inst.numpy())
        assert not occupancy[lf.frame_idx, len(ranked) :].any()
    # the labels themselves still have no tracks
    assert not labels.tracks and all(i.track is None for lf in labels for i in lf)


def test_user_instances_win_over_their_predictions(sample_paths, tmp_path):
    project = load_project(sample_paths.project)
    labels = project.labels
    lf = project.user_frames()[0]
    user = lf.user_instances[0]
    # a prediction of the same animal, a prediction the user corrected, and a stray one
    same_track = sio.PredictedInstance.from_numpy(
        user.numpy() + 1, skeleton=user.skeleton, point_scores=np.ones(8), score=0.9
    )
    same_track.track = user.track
    corrected = sio.PredictedInstance.from_numpy(
        lf.user_instances[1].numpy() + 2, skeleton=user.skeleton, point_scores=np.ones(8), score=0.8
    )
    corrected.track = labels.tracks[2]
    lf.user_instances[1].from_predicted = corrected
    stray = sio.PredictedInstance.from_numpy(
        np.full((8, 2), 5.0), skeleton=user.skeleton, point_scores=np.ones(8), score=0.5
    )
    lf.instances += [same_track, corrected, stray]

    tracked = tracked_instances(labels)
    frame = next(f for f in tracked.labeled_frames if f.frame_idx == lf.frame_idx)
    assert [t.name for t in tracked.tracks] == ["animal_0", "animal_1", "animal_2", "untracked_0"]
    assert len(frame.instances) == 4  # 3 user instances and the stray prediction
    assert same_track not in frame.instances and corrected not in frame.instances
    assert frame.instances[3].track.name == "untracked_0"

    out = export_csv(labels, tmp_path / "mixed.csv")
    rows = _read_rows(out)
    mine = [r for r in rows if int(r["frame_idx"]) == lf.frame_idx]
    assert [r["track"] for r in mine] == ["animal_0", "animal_1", "animal_2", "untracked_0"]
    assert mine[0]["instance.score"] == "" and mine[0]["head.score"] == ""  # user: no score
    assert float(mine[3]["instance.score"]) == pytest.approx(0.5)
    assert float(mine[3]["tail_tip.x"]) == 5.0

    h5 = export_analysis_h5(labels, tmp_path / "mixed.h5", which="user")
    with h5py.File(h5, "r") as f:
        assert [n.decode() for n in f["track_names"][:]] == ["animal_0", "animal_1", "animal_2"]
        assert f["track_occupancy"][:].sum() == 60
    fresh = load_project(sample_paths.project).labels
    with pytest.raises(ExportError, match="no predicted instances"):
        export_csv(fresh, tmp_path / "p.csv", which="predicted")
    with pytest.raises(ExportError, match="Video 0 has no predicted instances"):
        export_analysis_h5(fresh, tmp_path / "p.h5", video=0, which="predicted")


def test_csv_matches_the_predictions(predictions, tmp_path):
    out = export_csv(predictions, tmp_path / "preds.csv")
    _only_file(tmp_path, "preds.csv")
    nodes = predictions.skeletons[0].node_names
    with open(out, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [dict(zip(header, row)) for row in reader]
    assert header == csv_columns(nodes)
    assert header[:6] == ["track", "frame_idx", "instance.score", "head.x", "head.y", "head.score"]
    assert len(rows) == 2274
    by_key = {(int(r["frame_idx"]), r["track"]): r for r in rows}
    assert len(by_key) == 2274
    frames = [int(r["frame_idx"]) for r in rows]
    assert frames == sorted(frames)
    for lf in predictions.labeled_frames:
        for inst in lf.instances:
            row = by_key[(lf.frame_idx, inst.track.name)]
            assert float(row["instance.score"]) == inst.score
            xy = inst.numpy()
            for k, node in enumerate(nodes):
                for value, text in (
                    (xy[k, 0], row[f"{node}.x"]),
                    (xy[k, 1], row[f"{node}.y"]),
                    (inst.points["score"][k], row[f"{node}.score"]),
                ):
                    assert (text == "") if math.isnan(value) else float(text) == value

    pytest.importorskip("pandas")  # sleap-io's CSV reader needs pandas
    back = sio.load_csv(str(out), format="sleap")
    assert sum(len(lf.instances) for lf in back.labeled_frames) == 2274
    first = predictions.labeled_frames[0]
    got = back.labeled_frames[0]
    names = got.instances[0].skeleton.node_names
    expected = {str(i.track.name): i.numpy() for i in first.instances}
    for inst in got.instances:
        want = expected[str(inst.track.name)]
        for k, node in enumerate(names):
            np.testing.assert_allclose(inst.numpy()[k], want[nodes.index(node)])


def test_one_video_formats_need_a_video_choice(predictions, tmp_path):
    labels = predictions
    second = sio.Video.from_filename(str(labels.videos[0].filename))
    labels.videos.append(second)
    lf = labels.labeled_frames[5]
    labels.append(sio.LabeledFrame(video=second, frame_idx=3, instances=list(lf.instances)))
    with pytest.raises(ExportError, match="Videos 0, 1 all hold instances.*--video"):
        export_csv(labels, tmp_path / "x.csv")
    with pytest.raises(ExportError, match="Video 7 does not exist"):
        export_csv(labels, tmp_path / "x.csv", video=7)
    out = export_analysis_h5(labels, tmp_path / "v1.h5", video=1)
    with h5py.File(out, "r") as f:
        assert int(f["video_ind"][()]) == 1
        assert f["track_occupancy"][:].sum() == len(lf.instances)
        assert f["track_occupancy"][3].sum() == len(lf.instances)
    out = export_csv(labels, tmp_path / "v1.csv", video=1)
    assert len(_read_rows(out)) == len(lf.instances)
    # the .slp export keeps both videos
    back = sio.load_slp(str(export_slp(labels, tmp_path / "both.slp")), open_videos=False)
    assert len(back.videos) == 2


def test_export_errors(predictions, tmp_path):
    with pytest.raises(ExportError, match="does not exist"):
        export_csv(predictions, tmp_path / "missing" / "x.csv")
    with pytest.raises(ExportError, match="is a folder"):
        export_analysis_h5(predictions, tmp_path)
    with pytest.raises(ExportError, match="Unknown export format 'xlsx'"):
        export_labels(predictions, tmp_path / "x.xlsx", "xlsx")
    assert list(tmp_path.iterdir()) == []


def test_movement_reads_the_exports(predictions, tmp_path):
    load_poses = pytest.importorskip("movement.io.load_poses")
    slp = export_slp(predictions, tmp_path / "preds.slp")
    h5 = export_analysis_h5(predictions, tmp_path / "preds.h5")
    for path in (slp, h5):
        ds = load_poses.from_file(path, source_software="SLEAP")
        assert ds.position.shape == (1100, 2, 24, 27)  # time, space, keypoints, individuals
        for lf in predictions.labeled_frames[::100]:
            for inst in lf.instances:
                got = ds.position.isel(time=lf.frame_idx).sel(individuals=inst.track.name)
                np.testing.assert_allclose(got.values.T, inst.numpy())


def test_a_movement_dataset_file_loads_with_tracks_and_time(sample_paths, tmp_path):
    xr = pytest.importorskip("xarray")
    pytest.importorskip("movement")
    from napari_sleap_train.io.export import export_movement

    truth = sio.load_slp(str(sample_paths.ground_truth))
    out = export_labels(truth, tmp_path / "sample.nc", "movement")
    _only_file(tmp_path, "sample.nc")
    with xr.open_dataset(out) as ds:
        assert ds.attrs["ds_type"] == "poses"
        assert ds.attrs["source_software"] == "napari-sleap-train"
        assert list(ds.individuals.values) == ["animal_0", "animal_1", "animal_2"]
        assert list(ds.keypoints.values) == truth.skeletons[0].node_names
        assert ds.position.dims == ("time", "space", "keypoints", "individuals")
        assert ds.sizes["time"] == 300 and np.isnan(ds.confidence.values).all()  # user labels
        lf = truth.labeled_frames[57]
        for inst in lf.instances:
            got = ds.position.isel(time=lf.frame_idx).sel(individuals=inst.track.name)
            np.testing.assert_allclose(got.values.T, inst.numpy())
    fps = export_movement(truth, tmp_path / "fps.nc", fps=30.0)
    with xr.open_dataset(fps) as ds:
        assert ds.attrs["fps"] == 30.0 and float(ds.time[1]) == pytest.approx(1 / 30)


def test_movement_export_of_predictions_keeps_their_scores(predictions, tmp_path):
    xr = pytest.importorskip("xarray")
    pytest.importorskip("movement")
    out = export_labels(predictions, tmp_path / "pair.nc", "movement")
    with xr.open_dataset(out) as ds:
        assert ds.position.shape == (1100, 2, 24, 27)
        lf = predictions.labeled_frames[10]
        inst = lf.predicted_instances[0]
        got = ds.confidence.isel(time=lf.frame_idx).sel(individuals=inst.track.name)
        np.testing.assert_allclose(got.values, inst.points["score"], rtol=1e-6)
