"""Tracking a project's predictions: the built-in sample's three animals on 300 frames."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
import sleap_io as sio

from napari_sleap_train.choices import Similarity
from napari_sleap_train.config.tracking import TrackingConfig
from napari_sleap_train.errors import TrackingError
from napari_sleap_train.evaluation import evaluate_labels
from napari_sleap_train.tracking import clear_tracks, frame_gaps, track_video

N_FRAMES, ANIMALS = 300, ["animal_0", "animal_1", "animal_2"]


@pytest.fixture(scope="module")
def truth_path(sample_paths):
    return sample_paths.ground_truth


@pytest.fixture(scope="module")
def truth(truth_path) -> sio.Labels:
    labels = sio.load_slp(str(truth_path))
    assert len(labels.labeled_frames) == N_FRAMES
    assert [t.name for t in labels.tracks] == ANIMALS
    return labels


class Predictions:
    """The ground truth as untracked predictions, shuffled on every frame; ``animal``
    maps each predicted instance to its ground-truth track name."""

    def __init__(self, path, seeds=(), frames=None, seed: int = 0):
        self.labels = sio.load_slp(str(path))
        self.video = self.labels.videos[0]
        self.animal: dict[int, str] = {}
        self.frame: dict[int, int] = {}
        self.instances: list[sio.PredictedInstance] = []
        rng = np.random.default_rng(seed)
        skeleton = self.labels.skeletons[0]
        for lf in self.labels.labeled_frames:
            keep, preds = [], []
            for user in lf.user_instances:
                if (lf.frame_idx, user.track.name) in seeds:
                    keep.append(user)
                    continue
                if frames is not None and lf.frame_idx not in frames:
                    continue
                p = sio.PredictedInstance.from_numpy(user.numpy(), skeleton=skeleton, score=1.0)
                self.animal[id(p)] = user.track.name
                self.frame[id(p)] = lf.frame_idx
                preds.append(p)
            lf.instances = keep + [preds[i] for i in rng.permutation(len(preds))]
            self.instances.extend(preds)
        used = {id(u.track) for lf in self.labels.labeled_frames for u in lf.user_instances}
        self.labels.tracks = [t for t in self.labels.tracks if id(t) in used]

    def identities(self, frames=None) -> dict[str, list[str | None]]:
        """Ground-truth name -> the predicted track name of each of its instances
        (on ``frames`` only, when given)."""
        out: dict[str, list[str | None]] = defaultdict(list)
        for p in self.instances:
            if frames is None or self.frame[id(p)] in frames:
                out[self.animal[id(p)]].append(None if p.track is None else p.track.name)
        return out

    def assert_one_track_per_animal(self, n_frames: int | None = N_FRAMES, frames=None):
        """Every animal's predictions carry one track, a different one for each animal;
        returns ground-truth name -> predicted track name."""
        ids = self.identities(frames)
        assert sorted(ids) == ANIMALS
        mapping = {}
        for name, tracks in ids.items():
            if n_frames is not None:
                assert len(tracks) == n_frames
            assert len(set(tracks)) == 1, f"{name} has tracks {sorted(set(map(str, tracks)))}"
            assert tracks[0] is not None
            mapping[name] = tracks[0]
        assert len(set(mapping.values())) == len(ANIMALS)
        return mapping


def _frames(video: sio.Video):
    return lambda i: video[i]


@pytest.mark.parametrize("similarity", list(Similarity))
def test_the_three_animals_keep_one_track_each(truth_path, similarity):
    pred = Predictions(truth_path)
    calls = []
    summary = track_video(
        pred.labels,
        pred.video,
        TrackingConfig(similarity=similarity),
        progress=lambda n, total: calls.append((n, total)),
    )
    pred.assert_one_track_per_animal()
    assert (summary.frames, summary.instances, summary.untracked) == (N_FRAMES, 900, 0)
    assert (summary.culled, summary.joined, summary.notes) == (0, 0, [])
    assert len(summary.tracks) == 3
    assert sorted(t.name for t in pred.labels.tracks) == sorted(summary.tracks)
    assert all(p.tracking_score is not None for p in pred.instances)
    later = [p for lf in pred.labels.labeled_frames[1:] for p in lf.predicted_instances]
    assert all(p.tracking_score > 0 for p in later)
    assert calls[-1] == (N_FRAMES, N_FRAMES)
    assert "900 instances on 300 frames into 3 tracks" in summary.text()


def test_the_flow_tracker_on_the_sample_video(truth_path):
    pred = Predictions(truth_path, frames=range(60))
    with pytest.raises(TrackingError, match="frames"):
        track_video(pred.labels, pred.video, TrackingConfig(method="flow"))
    summary = track_video(
        pred.labels, pred.video, TrackingConfig(method="flow"), frames=_frames(pred.video)
    )
    assert summary.frames == 60
    pred.assert_one_track_per_animal(60)


def test_tracked_predictions_evaluate_without_identity_switches(truth_path, truth, tmp_path):
    pred = Predictions(truth_path)
    track_video(pred.labels, pred.video, TrackingConfig())
    out = tmp_path / "tracked.slp"
    sio.save_slp(pred.labels, str(out))
    tracked = sio.load_slp(str(out))
    assert len(tracked.tracks) == 3
    assert all(
        p.track is not None and p.tracking_score is not None
        for lf in tracked.labeled_frames
        for p in lf.predicted_instances
    )
    identity = evaluate_labels(truth, tracked)["identity"]
    assert identity["id_switches"] == 0
    assert identity["idf1"] == pytest.approx(1.0)
    assert identity["tracks_pred"] == 3
    assert sorted(identity["track_mapping"].values()) == ANIMALS


def test_every_15th_frame_with_max_tracks(truth_path):
    frames = set(range(0, N_FRAMES, 15))
    pred = Predictions(truth_path, frames=frames)
    summary = track_video(pred.labels, pred.video, TrackingConfig(max_tracks=3))
    assert summary.frames == len(frames) == 20
    assert summary.untracked == 0 and summary.notes == []  # evenly strided: no note
    assert len(pred.labels.tracks) == 3
    pred.assert_one_track_per_animal(len(frames))


def test_scattered_frames_get_a_note(truth_path):
    frames = {0, 1, 2, 3, 10, 11, 12, 40, 41}
    pred = Predictions(truth_path, frames=frames)
    summary = track_video(pred.labels, pred.video, TrackingConfig())
    assert summary.frames == len(frames)
    assert len(summary.notes) == 1 and "not consecutive" in summary.notes[0]
    assert summary.notes[0] in summary.text()


def test_frame_gaps():
    assert frame_gaps(range(10)) is None
    assert frame_gaps(range(0, 300, 15)) is None
    assert frame_gaps([5, 40]) is None
    assert frame_gaps([]) is None
    note = frame_gaps([0, 1, 2, 10, 11, 30])  # steps 1, 1, 8, 1, 19
    assert note is not None
    assert "2 gaps" in note and "the largest 19 frames" in note
    assert frame_gaps([30, 0, 2, 1, 11, 10, 2]) == note  # order and repeats do not matter


def test_frame_range(truth_path):
    pred = Predictions(truth_path)
    summary = track_video(pred.labels, pred.video, TrackingConfig(), frame_range=(100, 150))
    assert summary.frames == 50
    for lf in pred.labels.labeled_frames:
        for p in lf.predicted_instances:
            inside = 100 <= lf.frame_idx < 150
            assert (p.track is not None) == inside
            assert (p.tracking_score is not None) == inside
    with pytest.raises(TrackingError, match="no predicted instances"):
        track_video(pred.labels, pred.video, TrackingConfig(), frame_range=(1000, None))


def _snapshot(labels: sio.Labels):
    return [
        (lf.frame_idx, u, u.numpy().copy(), u.track)
        for lf in labels.labeled_frames
        for u in lf.user_instances
    ]


def _assert_unchanged(labels: sio.Labels, before) -> None:
    after = _snapshot(labels)
    assert len(after) == len(before)
    for (f0, u0, pts0, t0), (f1, u1, pts1, t1) in zip(before, after):
        assert f0 == f1 and u0 is u1 and t0 is t1
        np.testing.assert_array_equal(pts0, pts1)


def test_user_instances_seed_the_tracks(truth_path):
    seeds = {(0, name) for name in ANIMALS}
    pred = Predictions(truth_path, seeds=seeds)
    seed_tracks = list(pred.labels.tracks)
    assert [t.name for t in seed_tracks] == ANIMALS
    before = _snapshot(pred.labels)
    assert len(before) == 3
    summary = track_video(pred.labels, pred.video, TrackingConfig())
    mapping = pred.assert_one_track_per_animal(N_FRAMES - 1)
    assert mapping == {name: name for name in ANIMALS}  # the predictions take their names
    assert all(a is b for a, b in zip(pred.labels.tracks, seed_tracks))
    assert len(pred.labels.tracks) == 3
    assert all(p.track in seed_tracks for p in pred.instances)  # the same Track objects
    assert sorted(summary.tracks) == ANIMALS
    _assert_unchanged(pred.labels, before)


@pytest.mark.parametrize("max_tracks", [None, 3])
def test_predictions_beside_user_labels_of_the_same_animals(truth_path, max_tracks):
    """Predicted on the labelled frames too: a prediction of a user-labelled animal takes
    the label's track instead of a new one (or none, at max tracks)."""
    every = [(f, name) for f in range(0, N_FRAMES, 15) for name in ANIMALS]
    pred = Predictions(truth_path, seeds=set(every))
    skeleton = pred.labels.skeletons[0]
    for lf in pred.labels.labeled_frames:  # a prediction next to every user label
        for user in list(lf.user_instances):
            p = sio.PredictedInstance.from_numpy(user.numpy() + 0.5, skeleton=skeleton, score=1)
            pred.animal[id(p)], pred.frame[id(p)] = user.track.name, lf.frame_idx
            pred.instances.append(p)
            lf.instances.append(p)
    summary = track_video(pred.labels, pred.video, TrackingConfig(max_tracks=max_tracks))
    assert pred.assert_one_track_per_animal(N_FRAMES) == {name: name for name in ANIMALS}
    assert summary.untracked == 0 and sorted(summary.tracks) == ANIMALS


def test_some_seeds_and_a_new_track(truth_path):
    # Two animals labelled on frame 0; the third is predicted there and gets a new track.
    pred = Predictions(truth_path, seeds={(0, "animal_0"), (0, "animal_1")})
    before = _snapshot(pred.labels)
    track_video(pred.labels, pred.video, TrackingConfig(max_tracks=3))
    mapping = pred.assert_one_track_per_animal(None)
    assert mapping["animal_0"] == "animal_0" and mapping["animal_1"] == "animal_1"
    assert mapping["animal_2"] not in ANIMALS
    assert len(pred.identities()["animal_2"]) == N_FRAMES
    assert sorted(t.name for t in pred.labels.tracks) == sorted(mapping.values())
    _assert_unchanged(pred.labels, before)


def test_seeds_later_in_the_video_and_users_without_a_track(truth_path):
    # Seeds on frame 150 only, and an untracked user instance on frame 10.
    pred = Predictions(truth_path, seeds={(150, name) for name in ANIMALS})
    lf10 = next(lf for lf in pred.labels.labeled_frames if lf.frame_idx == 10)
    skeleton = pred.labels.skeletons[0]
    stray = sio.Instance.from_numpy(lf10.predicted_instances[0].numpy() + 200, skeleton=skeleton)
    lf10.instances.append(stray)
    before = _snapshot(pred.labels)
    summary = track_video(pred.labels, pred.video, TrackingConfig())
    assert stray.track is None
    _assert_unchanged(pred.labels, before)
    # The predictions before and after the seeds carry the seeds' names.
    assert pred.assert_one_track_per_animal(N_FRAMES - 1) == {name: name for name in ANIMALS}
    assert sorted(summary.tracks) == ANIMALS and len(pred.labels.tracks) == 3


@pytest.mark.parametrize("max_tracks", [None, 3])
def test_an_animal_predicted_on_the_seed_frame_keeps_one_track(truth_path, max_tracks):
    # Two animals labelled on frame 150; the third is only predicted, there and elsewhere.
    pred = Predictions(truth_path, seeds={(150, "animal_0"), (150, "animal_1")})
    summary = track_video(pred.labels, pred.video, TrackingConfig(max_tracks=max_tracks))
    mapping = pred.assert_one_track_per_animal(None)
    assert mapping["animal_0"] == "animal_0" and mapping["animal_1"] == "animal_1"
    assert len(pred.identities()["animal_2"]) == N_FRAMES
    assert summary.untracked == 0 and len(summary.tracks) == 3


def test_progress_ends_at_its_total(truth_path):
    # Seeds mid-video: tracking goes forward from them, then back to the start.
    pred = Predictions(truth_path, seeds={(150, name) for name in ANIMALS})
    calls = []
    track_video(
        pred.labels, pred.video, TrackingConfig(), progress=lambda n, t: calls.append((n, t))
    )
    done, total = calls[-1]
    assert done == total >= N_FRAMES - 1
    assert [n for n, _ in calls] == sorted(n for n, _ in calls)


def test_retracking_replaces_earlier_tracks(truth_path):
    pred = Predictions(truth_path)
    junk = [sio.Track(name=f"junk_{i}") for i in range(5)]
    rng = np.random.default_rng(0)
    for p in pred.instances:
        p.track = junk[rng.integers(4)]
    pred.labels.tracks = list(junk)  # junk_4 is used by no instance
    track_video(pred.labels, pred.video, TrackingConfig())
    first = pred.assert_one_track_per_animal()
    tracks = list(pred.labels.tracks)
    assert len(tracks) == 3 and not any(t.name.startswith("junk") for t in tracks)
    # Once more: the same names and Track objects.
    track_video(pred.labels, pred.video, TrackingConfig(similarity="oks"))
    assert pred.assert_one_track_per_animal() == first
    assert len(pred.labels.tracks) == 3
    assert all(a is b for a, b in zip(pred.labels.tracks, tracks))
    # Clearing removes them from the project.
    assert clear_tracks(pred.labels, pred.video) == 900
    assert pred.labels.tracks == []
    assert all(p.track is None for p in pred.instances)


def test_culling_to_the_target_count(truth_path):
    pred = Predictions(truth_path)
    skeleton = pred.labels.skeletons[0]
    duplicates = []
    for lf in pred.labels.labeled_frames[10:20]:
        # A duplicate of one animal outscores another animal: the overlap, not the
        # score, has to decide.
        one, other = lf.predicted_instances[:2]
        other.score = 0.5
        dup = sio.PredictedInstance.from_numpy(one.numpy() + 0.5, skeleton=skeleton, score=0.9)
        duplicates.append(dup)
        lf.instances.append(dup)
    summary = track_video(pred.labels, pred.video, TrackingConfig(target_instances=3))
    assert summary.culled == 10
    kept = {id(p) for lf in pred.labels.labeled_frames for p in lf.predicted_instances}
    assert not any(id(d) in kept for d in duplicates)
    assert all(id(p) in kept for p in pred.instances)
    pred.assert_one_track_per_animal()


def test_a_single_break_is_connected(truth_path):
    # animal_0 jumps out of the frame at frame 150: a new track, joined to its old one.
    cfg = dict(min_similarity=0.3)
    for connect in (True, False):
        pred = Predictions(truth_path)
        for lf in pred.labels.labeled_frames[150:]:
            for p in lf.predicted_instances:
                if pred.animal[id(p)] == "animal_0":
                    p.points["xy"] += [1000.0, 0.0]
        summary = track_video(
            pred.labels, pred.video, TrackingConfig(connect_breaks=connect, **cfg)
        )
        ids = pred.identities()
        if connect:
            assert summary.joined == 1
            pred.assert_one_track_per_animal()
            assert len(pred.labels.tracks) == 3
        else:
            assert summary.joined == 0
            assert len(set(ids["animal_0"])) == 2
            assert len(pred.labels.tracks) == len(summary.tracks) == 4


def test_helpful_errors(truth_path, truth):
    pred = Predictions(truth_path)
    with pytest.raises(TrackingError, match="'none'"):
        track_video(pred.labels, pred.video, TrackingConfig(method="none"))
    with pytest.raises(TrackingError, match="needs the video's frames"):
        track_video(pred.labels, pred.video, TrackingConfig(method="flow"))
    # The ground truth holds user instances only: nothing to track.
    with pytest.raises(TrackingError, match="no predicted instances to track.*predict first"):
        track_video(truth, truth.videos[0], TrackingConfig())
    assert all(u.track is not None for lf in truth.labeled_frames for u in lf.user_instances)


def test_real_predictions_capped_at_two_tracks_export_as_two(tmp_path):
    """SLEAP's own predictions of two flies (2 to 5 instances a frame, 27 tracks), tracked
    anew with max tracks and a target count of two: the analysis file holds two tracks."""
    import h5py

    from napari_sleap_train.io.export import export_analysis_h5

    from ..conftest import require_data

    labels = sio.load_slp(str(require_data("centered_pair_predictions.slp")), open_videos=False)
    video = labels.videos[0]
    assert clear_tracks(labels, video) > 0 and not labels.tracks
    config = TrackingConfig(max_tracks=2, target_instances=2)
    summary = track_video(labels, video, config)
    assert len(summary.tracks) == 2 and summary.culled > 0
    assert all(len(lf.predicted_instances) <= 2 for lf in labels.labeled_frames)
    out = export_analysis_h5(labels, tmp_path / "pair.analysis.h5")
    with h5py.File(out, "r") as f:
        names = sorted(n.decode() for n in f["track_names"][:])
        occupancy = f["track_occupancy"][:]
    assert names == sorted(summary.tracks)
    assert occupancy.shape == (1100, 2) and occupancy.sum() >= 2 * 1000
