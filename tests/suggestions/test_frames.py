"""Frame suggestions on the built-in sample, real SLEAP files and synthetic videos."""

from __future__ import annotations

import numpy as np
import pytest
import sleap_io as sio

from napari_sleap_train.io.project import load_project
from napari_sleap_train.suggestions.frames import (
    METHODS,
    SuggestionError,
    add_suggestions,
    frame_scores,
    image_feature_frames,
    kmeans,
    low_score_frames,
    stride_frames,
    suggest,
    suggest_frames,
)

from ..conftest import require_data


@pytest.fixture
def sample_project(sample_paths):
    """A fresh copy in memory of the sample project (20 labelled frames, 36 suggestions)."""
    return load_project(sample_paths.project)


@pytest.fixture(scope="module")
def predictions_path():
    return require_data("centered_pair_predictions.slp")


def _write_video(path, frames):
    """Write grayscale ``frames`` losslessly (FFV1) and open it with sleap-io."""
    import cv2

    h, w = frames.shape[1:]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 30.0, (w, h), False)
    assert writer.isOpened()
    for frame in frames:
        writer.write(np.ascontiguousarray(frame))
    writer.release()
    return sio.Video.from_filename(str(path), grayscale=True)


@pytest.mark.parametrize("method", ["random", "stride", "image-features"])
def test_methods_give_n_distinct_unlabelled_frames(sample_project, method):
    labels = sample_project.labels
    video = labels.videos[0]
    labelled = sample_project.labelled_frame_indices(video)
    suggested = set(sample_project.suggested_frames(video))
    assert len(labelled) == 20 and len(suggested) == 36

    frames = suggest_frames(labels, video, method, 12, seed=3)
    assert len(frames) == 12
    assert frames == sorted(set(frames))
    assert all(isinstance(f, int) and 0 <= f < 300 for f in frames)
    assert not set(frames) & labelled
    assert not set(frames) & suggested  # already suggested frames are skipped too

    frames = suggest_frames(labels, video, method, 12, seed=3, exclude_suggested=False)
    assert len(frames) == 12 and not set(frames) & labelled


def test_include_labelled_frames(sample_project):
    labels = sample_project.labels
    video = labels.videos[0]
    labelled = sample_project.labelled_frame_indices(video)
    every = suggest_frames(labels, video, "stride", 1000, exclude_labelled=False)
    assert labelled <= set(every)
    assert len(every) == 300 - 36  # all frames but the suggested ones
    assert suggest_frames(labels, video, "random", 1000) == sorted(
        set(range(300)) - labelled - set(sample_project.suggested_frames(video))
    )


def test_random_is_seeded(sample_project):
    labels, video = sample_project.labels, sample_project.labels.videos[0]
    a = suggest_frames(labels, video, "random", 10, seed=1)
    assert a == suggest_frames(labels, video, "random", 10, seed=1)
    assert a != suggest_frames(labels, video, "random", 10, seed=2)


def test_stride_spreads_frames_evenly():
    assert stride_frames(range(100), 4) == [12, 37, 62, 87]
    assert stride_frames(range(10), 20) == list(range(10))
    frames = stride_frames(range(1100), 20)
    gaps = np.diff(frames)
    assert gaps.min() >= 54 and gaps.max() <= 56
    # over candidates with holes, it spreads over the candidates themselves
    candidates = [f for f in range(200) if not 50 <= f < 150]
    picked = stride_frames(candidates, 4)
    assert len(picked) == 4 and set(picked) <= set(candidates)
    assert sum(f < 50 for f in picked) == 2


@pytest.mark.parametrize("bad", [0, -3])
def test_bad_n_and_unknown_method_are_clear_errors(sample_project, bad):
    labels, video = sample_project.labels, sample_project.labels.videos[0]
    with pytest.raises(SuggestionError, match="1 or more"):
        suggest_frames(labels, video, "random", bad)
    with pytest.raises(SuggestionError, match="Unknown suggestion method 'sharpest'"):
        suggest_frames(labels, video, "sharpest", 5)
    with pytest.raises(SuggestionError, match="1 or more"):
        suggest(labels, "stride", bad)
    with pytest.raises(SuggestionError, match="n_clusters must be 1 or more"):
        suggest_frames(labels, video, "image-features", 5, n_clusters=bad)
    assert issubclass(SuggestionError, ValueError)


def test_low_score_without_predictions_is_a_clear_error(sample_project):
    labels, video = sample_project.labels, sample_project.labels.videos[0]
    with pytest.raises(SuggestionError, match="no predicted instances"):
        suggest_frames(labels, video, "low-score", 5)
    with pytest.raises(SuggestionError, match="Run predict first"):
        suggest(labels, "low-score", 5)
    assert len(labels.suggestions) == 36  # nothing was added


def test_low_score_takes_the_least_confident_frames(predictions_path):
    project = load_project(predictions_path)
    labels, video = project.labels, project.labels.videos[0]
    means = {
        lf.frame_idx: float(np.mean([inst.score for inst in lf.predicted_instances]))
        for lf in labels.labeled_frames
    }
    assert frame_scores(labels, video) == pytest.approx(means)

    frames = suggest_frames(labels, video, "low-score", 15)
    assert len(frames) == 15 and frames == sorted(frames)
    worst_chosen = max(means[f] for f in frames)
    best_left = min(s for f, s in means.items() if f not in frames)
    assert worst_chosen <= best_left
    assert frames == sorted(sorted(means, key=means.get)[:15])

    # a frame the user has labelled is not suggested again
    lowest = min(means, key=means.get)
    lf = next(lf for lf in labels.labeled_frames if lf.frame_idx == lowest)
    pred = lf.predicted_instances[0]
    lf.instances.append(
        sio.Instance.from_numpy(pred.numpy(), skeleton=pred.skeleton, from_predicted=pred)
    )
    frames = suggest_frames(labels, video, "low-score", 15)
    assert lowest not in frames and len(frames) == 15
    assert lowest in suggest_frames(labels, video, "low-score", 15, exclude_labelled=False)
    ranked = sorted((s, f) for f, s in means.items() if f != lowest)
    assert low_score_frames(labels, video, 3, excluded=[lowest]) == sorted(f for _, f in ranked[:3])


def test_kmeans_finds_separated_groups():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    x = np.concatenate([c + rng.normal(0, 0.5, (40, 2)) for c in centres])
    truth = np.repeat(np.arange(3), 40)
    labels, found = kmeans(x, 3, seed=1)
    assert labels.shape == (120,) and found.shape == (3, 2)
    for c in range(3):  # each true group is exactly one cluster
        assert len(set(labels[truth == c])) == 1
    assert len(set(labels)) == 3
    again, _ = kmeans(x, 3, seed=1)
    assert np.array_equal(labels, again)
    # more clusters than points, and identical points, still work
    assert sorted(kmeans(np.zeros((3, 2)), 5)[0].tolist()) == [0, 1, 2]


def test_image_features_picks_every_scene(tmp_path):
    """Three very different scenes, one of them 87% of the video: each gets a frame."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64]
    checker = np.where((yy // 8 + xx // 8) % 2 == 0, 230, 20)
    gradient = xx * 4
    frames = []
    for t in range(120):
        if t < 104:
            base = np.full((64, 64), 60.0)  # dim arena
        elif t < 112:
            base = checker.astype(float)
        else:
            base = gradient.astype(float)
        frames.append(np.clip(base + rng.normal(0, 6, (64, 64)), 0, 255).astype(np.uint8))
    video = _write_video(tmp_path / "scenes.avi", np.stack(frames))
    labels = sio.Labels(videos=[video])
    scene = np.array([0] * 104 + [1] * 8 + [2] * 8)

    picked = suggest_frames(labels, video, "image-features", 3, seed=0)
    assert len(picked) == 3
    assert sorted(scene[picked].tolist()) == [0, 1, 2]
    # evenly spaced frames all land in the big scene
    assert set(scene[suggest_frames(labels, video, "stride", 3)].tolist()) == {0}

    picked = suggest_frames(labels, video, "image-features", 9, seed=5)
    assert len(picked) == 9 and set(scene[picked].tolist()) == {0, 1, 2}


def test_image_features_draw_from_every_cluster(predictions_path):
    project = load_project(predictions_path)
    video = project.labels.videos[0]
    frames, clusters = image_feature_frames(
        video, range(1100), 10, seed=0, sample_size=200, return_clusters=True
    )
    assert len(frames) == 10 == len(set(frames))
    assert len(clusters) == 200 and set(frames) <= set(clusters)
    assert len(set(clusters.values())) == 5
    assert {clusters[f] for f in frames} == set(clusters.values())
    counts = np.bincount([clusters[f] for f in frames])
    assert counts.min() >= 1 and counts.max() <= 2  # round-robin: 10 frames, 5 clusters


def test_embedded_video_only_suggests_stored_frames():
    project = load_project(require_data("minimal_instance.pkg.slp"))
    labels, video = project.labels, project.labels.videos[0]
    for method in ("random", "stride", "image-features"):
        assert suggest_frames(labels, video, method, 5) == []  # the one frame is labelled
        assert suggest_frames(labels, video, method, 5, exclude_labelled=False) == [0]


def test_add_suggestions_appends_without_duplicates_and_round_trips(sample_project, tmp_path):
    labels, video = sample_project.labels, sample_project.labels.videos[0]
    before = sample_project.suggested_frames(video)
    new = [
        f for f in (1, 2, 3, *before[:2]) if f not in sample_project.labelled_frame_indices(video)
    ]
    added = add_suggestions(labels, video, new)
    assert added == len(set(new) - set(before))
    assert add_suggestions(labels, video, new) == 0
    after = sample_project.suggested_frames(video)
    assert set(before) <= set(after) and set(new) <= set(after)
    assert len(labels.suggestions) == len(after)  # no duplicates

    out = sample_project.save(tmp_path / "with_suggestions.slp")
    again = load_project(out)
    assert again.suggested_frames(again.labels.videos[0]) == after
    assert len(again.user_frames()) == 20


def test_suggest_stores_per_video(sample_project, tmp_path):
    labels = sample_project.labels
    results = suggest(labels, "image-features", 6, seed=2)
    assert len(results) == 1
    res = results[0]
    assert res.video is labels.videos[0] and res.added == 6 and len(res.frames) == 6
    assert len(labels.suggestions) == 36 + 6
    # asking again gives 6 more new frames, as the earlier ones are now suggested
    res2 = suggest(labels, "image-features", 6, seed=2)[0]
    assert res2.added == 6 and not set(res2.frames) & set(res.frames)
    assert len(labels.suggestions) == 48
    out = sample_project.save(tmp_path / "s.slp")
    saved = sio.load_slp(str(out), open_videos=False)
    assert sorted(s.frame_idx for s in saved.suggestions) == sample_project.suggested_frames(
        labels.videos[0]
    )


def test_methods_constant():
    assert METHODS == ("random", "stride", "image-features", "low-score", "outliers")
