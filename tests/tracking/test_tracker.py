"""The streaming tracker: tracks frame by frame, seeds, windows, breaks, culling and flow."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from napari_sleap_train.choices import Candidates, Matching, Similarity
from napari_sleap_train.config.tracking import TrackingConfig
from napari_sleap_train.sample.project import make_sample
from napari_sleap_train.tracking import Tracker, connect_single_breaks, cull
from napari_sleap_train.tracking.flow import follow_points, shift_instances

# A 24 x 10 px animal of four nodes.
BODY = np.array([[0.0, 0.0], [12.0, 4.0], [24.0, 0.0], [12.0, -6.0]])
STARTS = np.array([[40.0, 40.0], [40.0, 140.0], [40.0, 240.0]])
VELOCITIES = np.array([[2.0, 0.5], [1.5, -0.3], [2.5, 0.2]])  # px per frame


def _lines(n_frames: int = 50, speed: float = 1.0, seed: int = 0) -> np.ndarray:
    """``(T, 3, 4, 2)``: three animals on straight lines, 100 px apart at the start."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames, dtype=np.float64)[:, None, None, None]
    pos = STARTS[None, :, None] + speed * VELOCITIES[None, :, None] * t
    return pos + BODY[None, None] + rng.normal(0.0, 0.2, (n_frames, 3, 4, 2))


def _track(tracker: Tracker, poses: np.ndarray, frames=None, seed: int = 0, images=None):
    """Step through ``poses`` ``(T, A, N, 2)`` in a shuffled order on every frame;
    returns ``(T, A)`` track of each animal (-1 untracked) and the frames' results."""
    rng = np.random.default_rng(seed)
    frames = range(len(poses)) if frames is None else frames
    out = np.full(poses.shape[:2], -2)
    results = []
    for k, (f, pts) in enumerate(zip(frames, poses)):
        order = rng.permutation(len(pts))
        image = None if images is None else images[k]
        res = tracker.step(f, pts[order], image=image)
        assert len(res.tracks) == len(res.scores) == len(pts)
        for i, animal in enumerate(order):
            out[k, animal] = -1 if res.tracks[i] is None else res.tracks[i]
        results.append(res)
    return out, results


def _one_track_each(tracks: np.ndarray) -> None:
    per_animal = [set(tracks[:, a].tolist()) for a in range(tracks.shape[1])]
    assert all(len(s) == 1 for s in per_animal), per_animal
    assert len(set.union(*per_animal)) == tracks.shape[1]
    assert (tracks >= 0).all()


@pytest.mark.parametrize("matching", list(Matching))
@pytest.mark.parametrize("similarity", list(Similarity))
def test_three_animals_keep_their_tracks(similarity, matching):
    tracker = Tracker(TrackingConfig(similarity=similarity, matching=matching))
    tracks, results = _track(tracker, _lines(50))
    _one_track_each(tracks)
    assert tracker.n_tracks == 3
    assert tracker.names == ["track_0", "track_1", "track_2"]
    assert results[0].scores == [0.0, 0.0, 0.0]  # new tracks
    assert all(s > 0 for r in results[1:] for s in r.scores)


@pytest.mark.parametrize("candidates", list(Candidates))
def test_three_animals_with_queues_and_window(candidates):
    tracker = Tracker(TrackingConfig(candidates=candidates, window=3, max_tracks=None))
    tracks, _ = _track(tracker, _lines(50, speed=2.0), seed=3)
    _one_track_each(tracks)


def test_max_tracks_leaves_the_third_animal_untracked():
    tracker = Tracker(TrackingConfig(max_tracks=2))
    tracks, results = _track(tracker, _lines(50), seed=1)
    assert tracker.n_tracks == 2
    assert all(r.tracks.count(None) == 1 for r in results)
    untracked = set(np.flatnonzero((tracks == -1).any(axis=0)).tolist())
    assert len(untracked) == 1  # always the same animal
    (lost,) = untracked
    assert (tracks[:, lost] == -1).all()
    kept = [a for a in range(3) if a != lost]
    assert sorted(set(tracks[:, kept].ravel().tolist())) == [0, 1]
    assert all(len(set(tracks[:, a].tolist())) == 1 for a in kept)


def _far_newcomer(n: int = 10) -> list[np.ndarray]:
    """Two animals for ``n`` frames, then the second is gone and a third appears far away."""
    poses = _lines(2 * n)[:, :2]
    frames = [poses[t] for t in range(n)]
    far = BODY + [300.0, 300.0]
    frames += [np.stack([poses[t, 0], far + [t - n, 0.0]]) for t in range(n, 2 * n)]
    return frames


def test_min_similarity_starts_a_new_track_instead_of_stealing_one():
    frames = _far_newcomer()
    # Without a threshold the newcomer takes the lost animal's track...
    greedy = Tracker(TrackingConfig(connect_breaks=False))
    steps = [greedy.step(t, p) for t, p in enumerate(frames)]
    assert greedy.n_tracks == 2 and steps[10].tracks == [0, 1]
    # ...with one it starts its own and the first animal keeps its track.
    tracker = Tracker(TrackingConfig(min_similarity=0.1, connect_breaks=False))
    steps = [tracker.step(t, p) for t, p in enumerate(frames)]
    assert tracker.n_tracks == 3
    assert all(s.tracks == [0, 1] for s in steps[:10])
    assert steps[10].tracks == [0, 2] and steps[10].scores[1] == 0.0
    assert all(s.tracks == [0, 2] for s in steps[10:])
    # At max tracks it stays untracked.
    capped = Tracker(TrackingConfig(min_similarity=0.1, max_tracks=2))
    steps = [capped.step(t, p) for t, p in enumerate(frames)]
    assert capped.n_tracks == 2
    assert all(s.tracks == [0, None] for s in steps[10:])


def test_fixed_instances_keep_their_track_and_hold_it_on_their_frame():
    poses = _lines(3)[:, :2]
    a, b = poses[0]
    tracker = Tracker(TrackingConfig(), seeds=["mine", "yours"])
    first = tracker.step(0, np.stack([a, b]), fixed=[0, 1])
    assert first.tracks == [0, 1] and first.scores == [1.0, 1.0]
    # The user moved "mine" far away on frame 1; a prediction sits where "mine" was.
    moved = a + [0.0, 250.0]
    second = tracker.step(1, np.stack([moved, a + 0.5, b + 0.5]), fixed=[0, None, None])
    # The prediction cannot take "mine" (held by the fixed instance on this frame).
    assert second.tracks == [0, 2, 1]
    assert second.scores[0] == 1.0
    # Both fixed on frame 2: a prediction at either place starts a new track.
    third = tracker.step(2, np.stack([moved, b + 1, b + 1.2]), fixed=[0, 1, None])
    assert third.tracks[:2] == [0, 1] and third.tracks[2] not in (0, 1)
    # The fixed instance serves as a candidate: a prediction near it takes its track.
    fourth = tracker.step(3, np.stack([b + 1.5, moved + 1.0, a + 1.0]))
    assert fourth.tracks[0] == 1 and fourth.tracks[1] == 0 and fourth.tracks[2] == 2
    assert tracker.names[:2] == ["mine", "yours"]
    assert tracker.names[2] == "track_2"


def test_new_track_names_skip_the_seed_names():
    tracker = Tracker(TrackingConfig(), seeds=["track_1"])
    res = tracker.step(0, _lines(1)[0])
    assert sorted(res.tracks) == [1, 2, 3]  # index 0 is the seed, unused here
    assert tracker.names == ["track_1", "track_2", "track_3", "track_4"]


def test_at_max_tracks_animals_take_the_labelled_tracks_not_seen_in_the_frames_tracked():
    # the labelled animals' frames lie outside the frames tracked: their tracks are free
    tracker = Tracker(TrackingConfig(max_tracks=3), seeds=["a", "b", "c"])
    tracks, results = _track(tracker, _lines(20), seed=1)
    assert tracker.names == ["a", "b", "c"]
    assert all(sorted(r.tracks) == [0, 1, 2] for r in results)
    _one_track_each(tracks)


@pytest.mark.parametrize("candidates", ["window", "queues"])
def test_window_finds_tracks_across_frames_farther_apart_than_it(candidates):
    frames = list(range(0, 150, 15))  # 15 frames apart, window 5
    poses = _lines(150, speed=1.0)[frames]
    tracker = Tracker(TrackingConfig(window=5, candidates=candidates))
    tracks, _ = _track(tracker, poses, frames=frames, seed=2)
    _one_track_each(tracks)
    assert tracker.n_tracks == 3


@pytest.mark.parametrize("candidates", ["window", "queues"])
def test_a_track_hidden_on_one_sparse_frame_is_found_again(candidates):
    # The newest instance of every track is a candidate however old.
    poses = _lines(31, speed=0.5)
    tracker = Tracker(TrackingConfig(window=5, candidates=candidates))
    first = tracker.step(0, poses[0])
    tracker.step(15, poses[15, [0, 2]])  # animal 1 hidden
    third = tracker.step(30, poses[30, [1, 0, 2]])
    assert third.tracks == [first.tracks[1], first.tracks[0], first.tracks[2]]
    assert tracker.n_tracks == 3


def test_an_empty_frame_is_no_error():
    tracker = Tracker(TrackingConfig())
    tracker.step(0, _lines(1)[0])
    res = tracker.step(1, np.zeros((0, 4, 2)))
    assert res.tracks == [] and res.scores == []
    assert sorted(tracker.step(2, _lines(3)[2]).tracks) == [0, 1, 2]


def _break(n_new: int, frames: list[int]) -> Tracker:
    """Animal 0 throughout; animal 1 on the first half, then ``n_new`` animals far away."""
    poses = _lines(len(frames))
    tracker = Tracker(TrackingConfig(min_similarity=0.1))
    half = len(frames) // 2
    for k, f in enumerate(frames):
        if k < half:
            pts = poses[k, :2]
        else:
            far = [BODY + [400.0 + 100 * j + k, 400.0] for j in range(n_new)]
            pts = np.stack([poses[k, 0], *far])
        tracker.step(f, pts)
    return tracker


def test_connect_single_breaks_joins_the_one_new_track_to_the_one_that_ended():
    tracker = _break(1, list(range(10)))
    assert tracker.n_tracks == 3
    assert tracker.spans[1].last == 4 and tracker.spans[2].first == 5
    assert tracker.finish() == {2: 1}
    # On the next processed frame, however far: frames 0, 10, 20...
    assert _break(1, list(range(0, 100, 10))).finish() == {2: 1}


def test_connect_single_breaks_leaves_two_new_tracks_alone():
    tracker = _break(2, list(range(10)))
    assert tracker.n_tracks == 4
    assert tracker.finish() == {}


def test_connect_single_breaks_off_and_chains():
    frames = list(range(10))
    tracker = _break(1, frames)
    tracker.config.connect_breaks = False
    assert tracker.finish() == {}
    # A chain of breaks joins into the first track.
    spans = _break(1, frames).spans
    from napari_sleap_train.tracking.tracker import _Span

    spans[1] = _Span(0, 3)
    spans[2] = _Span(4, 6)
    spans[3] = _Span(7, 9)
    assert connect_single_breaks(spans, frames) == {2: 1, 3: 1}
    # A seed track never joins an earlier one.
    spans = {0: _Span(0, 4), 1: _Span(5, 9, seed=True)}
    assert connect_single_breaks(spans, frames) == {}


def test_cull_keeps_the_target_count():
    pts = np.stack([BODY + [100.0 * i, 0.0] for i in range(5)])
    scores = np.array([0.5, 0.9, 0.1, 0.7, 0.3])
    assert cull(pts, scores, 3, 0.8) == [0, 1, 3]
    assert cull(pts, scores, 5, 0.8) == [0, 1, 2, 3, 4]
    assert cull(pts, scores, 9, 0.8) == [0, 1, 2, 3, 4]


def test_cull_drops_the_overlapping_duplicate_before_a_lower_scored_instance():
    a = BODY + [100.0, 100.0]
    pts = np.stack([a, a + 0.3, BODY + [300.0, 100.0]])
    scores = np.array([0.9, 0.8, 0.5])  # the duplicate outscores the separate animal
    assert cull(pts, scores, 2, 0.8) == [0, 2]
    # Overlap below the threshold: the scores decide.
    assert cull(pts, scores, 2, 0.999) == [0, 1]
    # The better-scored of the duplicates stays.
    assert cull(pts, np.array([0.6, 0.95, 0.5]), 2, 0.8) == [1, 2]


# ----- optical flow ------------------------------------------------------------------------
def _texture(seed: int = 0, shape=(256, 256)) -> np.ndarray:
    noise = gaussian_filter(np.random.default_rng(seed).normal(size=shape), 2.0)
    noise = (noise - noise.min()) / (noise.max() - noise.min())
    return (255 * noise).astype(np.uint8)


def _sample_frame() -> np.ndarray:
    return make_sample(0, n_frames=1).frames[0]


@pytest.mark.parametrize("make_image", [_texture, _sample_frame], ids=["texture", "sample"])
def test_follow_points_follows_a_translation(make_image):
    before = make_image()
    after = np.roll(before, shift=(-2, 3), axis=(0, 1))  # content moves by x +3, y -2
    rng = np.random.default_rng(4)
    pts = rng.uniform(40.0, before.shape[0] - 40.0, (3, 5, 2))
    pts[1, 2] = np.nan
    pts[2] = np.nan
    moved, good = follow_points(before, after, pts)
    assert moved.shape == pts.shape and good.shape == pts.shape[:2]
    assert np.isnan(moved[1, 2]).all() and np.isnan(moved[2]).all()
    assert not good[2].any() and not good[1, 2]
    ok = np.isfinite(pts).all(axis=-1)
    assert good[ok].mean() > 0.8
    np.testing.assert_allclose(moved[good], pts[good] + [3.0, -2.0], atol=0.2)
    shifted = shift_instances(before, after, pts)
    np.testing.assert_allclose(shifted[ok], pts[ok] + [3.0, -2.0], atol=0.2)


def test_an_instance_moves_as_a_whole_or_not_at_all():
    before = _texture()
    after = np.roll(before, shift=(0, 4), axis=(0, 1))
    pts = np.array([[[60.0, 60.0], [70.0, 64.0], [80.0, 70.0]]])
    shifted = shift_instances(before, after, pts)
    np.testing.assert_allclose(shifted - pts, [[[4.0, 0.0]] * 3], atol=0.2)  # its shape kept
    flat = np.full_like(before, 128)  # nothing to follow: no point is reliable
    np.testing.assert_array_equal(shift_instances(flat, flat, pts), pts)


def test_follow_points_of_only_missing_points():
    img = _texture()
    pts = np.full((2, 3, 2), np.nan)
    moved, good = follow_points(img, img, pts)
    assert np.isnan(moved).all() and not good.any()


def test_flow_tracker_follows_fast_motion_the_simple_tracker_loses():
    frame = _sample_frame()[..., None]  # (H, W, 1) as videos give it
    animals = make_sample(0, n_frames=1).poses[0]  # (3, 8, 2)
    n, step = 8, 10.0
    images = [np.roll(frame, int(step * t), axis=1) for t in range(n)]
    poses = np.stack([animals + [step * t, 0.0] for t in range(n)])
    # Pixel distances: 10 px a frame is no likeness at all without flow.
    cfg = dict(similarity="instance", min_similarity=0.5, connect_breaks=False)
    flow = Tracker(TrackingConfig(method="flow", **cfg))
    tracks, results = _track(flow, poses, images=images, seed=5)
    _one_track_each(tracks)
    assert all(s > 0.8 for r in results[1:] for s in r.scores)
    simple = Tracker(TrackingConfig(method="simple", **cfg))
    _track(simple, poses, images=images, seed=5)
    assert simple.n_tracks == 3 * n
