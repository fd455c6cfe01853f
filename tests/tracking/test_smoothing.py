"""Smoothing tracked predictions over time: jumps set aside, short gaps filled, long gaps
left empty, real predictions of the SLEAP data smoothed track by track."""

from __future__ import annotations

import numpy as np
import pytest
import sleap_io as sio

from napari_sleap_train.errors import TrackingError
from napari_sleap_train.tracking.smoothing import (
    fillable,
    predictions_copy,
    smooth_trajectories,
    smooth_video,
)

from ..conftest import require_data


def _walk(n: int = 300, noise: float = 1.0, seed: int = 0):
    """A node moving on a smooth curve, predicted with ``noise`` px of error."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    truth = np.stack([100 + 50 * np.sin(t / 30), 100 + 30 * np.cos(t / 20)], -1)[:, None]
    return truth, truth + rng.normal(0, noise, truth.shape)


def test_kalman_sets_jumps_aside_and_halves_the_noise():
    truth, seen = _walk()
    seen[50:52] += 40  # two frames on another body part
    out = smooth_trajectories(seen)
    err = np.linalg.norm(out.points - truth, axis=-1)[:, 0]
    raw = np.linalg.norm(seen - truth, axis=-1)[:, 0]
    assert set(np.flatnonzero(out.rejected[:, 0])) >= {50, 51}
    assert out.rejected.sum() <= 4  # the ordinary noise is not taken for jumps
    assert err[50:52].max() < 3 < raw[50:52].min()
    assert np.median(err) < 0.7 * np.median(raw)
    assert np.all(out.sd[np.isfinite(out.sd)] > 0)


def test_an_ensembles_spread_makes_the_kalman_smoother_trust_a_frame_less():
    truth, seen = _walk()
    seen[100:103] += 4  # off, but not far enough to be set aside as a jump
    spread = np.zeros(seen.shape[:2])
    sure = smooth_trajectories(seen, spread=spread)
    spread[100:103] = 6.0  # the members disagree on these frames
    unsure = smooth_trajectories(seen, spread=spread)
    err = {
        k: np.linalg.norm(o.points - truth, axis=-1)[100:103, 0]
        for k, o in (("sure", sure), ("unsure", unsure))
    }
    assert not sure.rejected[100:103].any()
    assert err["unsure"].max() < 0.6 * err["sure"].min()
    assert (unsure.sd[100:103] > sure.sd[100:103]).all()


def test_short_gaps_filled_long_ones_left_empty():
    truth, seen = _walk()
    seen[120:126] = np.nan
    seen[200:240] = np.nan
    out = smooth_trajectories(seen, max_gap=10)
    err = np.linalg.norm(out.points - truth, axis=-1)[:, 0]
    assert np.isfinite(out.points[120:126]).all() and err[120:126].max() < 5
    assert np.isnan(out.points[200:240]).all()
    assert out.sd[123, 0] > out.sd[100, 0]  # less sure inside the gap


def test_fillable_marks_gaps_between_predictions_only():
    seen = np.array([0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0], bool)[:, None]
    assert fillable(seen, 2)[:, 0].tolist() == [0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0]


def test_movement_filters_smooth_and_fill():
    pytest.importorskip("movement")
    truth, seen = _walk(noise=2.0)
    seen[100:104] = np.nan
    seen[:2] = np.nan  # before the first prediction: left empty, and no error from scipy
    for method in ("median", "savgol"):
        out = smooth_trajectories(seen, method=method, max_gap=5, window=7)
        err = np.linalg.norm(out.points - truth, axis=-1)[:, 0]
        raw = np.linalg.norm(seen - truth, axis=-1)[:, 0]
        assert np.isfinite(out.points[100:104]).all()
        assert np.nanmedian(err) < np.nanmedian(raw)


def _instance(skeleton, xy, track=None, score=0.9):
    return sio.PredictedInstance.from_numpy(
        np.asarray(xy, float),
        skeleton=skeleton,
        point_scores=np.full(len(xy), score),
        score=score,
        track=track,
    )


def test_smooth_video_keeps_user_instances_and_fills_a_missed_frame():
    skeleton = sio.Skeleton(nodes=["a", "b"])
    video = sio.Video(filename="fake.mp4")
    track = sio.Track(name="track_0")
    truth, seen = _walk(60)
    frames = []
    for f in range(60):
        xy = np.concatenate([seen[f], seen[f] + 10])
        if f == 30:
            xy[1] += 60  # a jump of one node
        instances = [] if f == 20 else [_instance(skeleton, xy, track)]
        if f == 10:
            instances.append(sio.Instance.from_numpy(np.zeros((2, 2)), skeleton=skeleton))
        frames.append(sio.LabeledFrame(video=video, frame_idx=f, instances=instances))
    labels = sio.Labels(labeled_frames=frames, videos=[video], skeletons=[skeleton])
    labels.tracks = [track]
    raw = predictions_copy(labels, video)
    summary = smooth_video(labels, video, "kalman", max_gap=3)
    assert summary.tracks == 1 and summary.filled == 1 and summary.jumps >= 1
    by_frame = {lf.frame_idx: lf for lf in labels.labeled_frames}
    assert len(by_frame[20].predicted_instances) == 1  # the missed frame filled in
    assert by_frame[10].user_instances[0].numpy().tolist() == [[0, 0], [0, 0]]
    jumped = by_frame[30].predicted_instances[0].numpy()[1]
    assert np.linalg.norm(jumped - (truth[30, 0] + 10)) < 5
    assert (30, "track_0") in summary.uncertainty
    assert np.isfinite(summary.uncertainty[(30, "track_0")]).all()
    raw_30 = next(lf for lf in raw.labeled_frames if lf.frame_idx == 30)
    assert raw_30.predicted_instances[0].numpy()[1, 0] > truth[30, 0, 0] + 60  # raw kept


def test_several_animals_without_tracks_are_refused():
    skeleton = sio.Skeleton(nodes=["a"])
    video = sio.Video(filename="fake.mp4")
    lf = sio.LabeledFrame(
        video=video,
        frame_idx=0,
        instances=[_instance(skeleton, [[1, 1]]), _instance(skeleton, [[5, 5]])],
    )
    labels = sio.Labels(labeled_frames=[lf], videos=[video], skeletons=[skeleton])
    with pytest.raises(TrackingError, match="track the predictions first"):
        smooth_video(labels, video)


def test_real_tracked_predictions_are_smoothed_track_by_track():
    labels = sio.load_slp(str(require_data("centered_pair_predictions.slp")))
    before = sum(len(lf.predicted_instances) for lf in labels.labeled_frames)
    summary = smooth_video(labels, labels.videos[0], "kalman")
    after = sum(len(lf.predicted_instances) for lf in labels.labeled_frames)
    assert summary.tracks == len({id(t) for t in labels.tracks}) == 27
    assert summary.instances == before and after == before + summary.filled
    assert 0 < summary.jumps < 0.1 * before * 24
