"""Outlier frames of tracked predictions: a planted jump is found, with its reason."""

from __future__ import annotations

import numpy as np
import pytest
import sleap_io as sio

from napari_sleap_train.errors import SuggestionError
from napari_sleap_train.suggestions.frames import suggest
from napari_sleap_train.suggestions.outliers import outlier_frames

from ..conftest import require_data

NAME = "centered_pair_predictions.slp"


def plant_jump(labels: sio.Labels, frame: int, node: int, by: float = 60.0) -> str:
    """Move one body part of the first tracked prediction on ``frame``; its track's name."""
    lf = next(lf for lf in labels.labeled_frames if lf.frame_idx == frame)
    inst = next(p for p in lf.predicted_instances if p.track is not None)
    xy = inst.numpy().copy()
    xy[node] += by
    lf.instances[lf.instances.index(inst)] = sio.PredictedInstance.from_numpy(
        xy,
        skeleton=inst.skeleton,
        point_scores=np.full(len(xy), 0.9),
        score=inst.score,
        track=inst.track,
    )
    return inst.track.name


def test_a_planted_jump_is_found_with_its_reason():
    labels = sio.load_slp(str(require_data(NAME)))
    video = labels.videos[0]
    before = {o.frame for o in outlier_frames(labels, video)}
    frame = next(f for f in range(500, 1000) if f not in before and {f - 1, f + 1} - before)
    track = plant_jump(labels, frame, node=0)
    found = outlier_frames(labels, video)
    planted = next(o for o in found if o.frame == frame)
    head = labels.skeletons[0].node_names[0]
    assert f"{track}: {head}" in planted.reason and "jumps" in planted.reason
    flagged = [o.flagged for o in found]
    assert flagged == sorted(flagged, reverse=True)  # most flagged body parts first
    assert frame not in [o.frame for o in outlier_frames(labels, video, excluded=[frame])]


def test_outliers_need_predictions():
    labels = sio.load_slp(str(require_data("minimal_instance.slp")))
    with pytest.raises(SuggestionError, match="no predicted instances"):
        suggest(labels, "outliers", 5)


def test_a_smooth_track_has_no_outliers_and_one_jump_is_named():
    skeleton = sio.Skeleton(nodes=["head", "tail"])
    video = sio.Video(filename="fake.mp4")
    rng = np.random.default_rng(0)
    t = np.arange(200)
    centre = np.stack([100 + 40 * np.sin(t / 25), 100 + 30 * np.cos(t / 30)], -1)
    frames = []
    for f in range(200):
        xy = np.stack([centre[f], centre[f] + [20, 0]]) + rng.normal(0, 0.5, (2, 2))
        inst = sio.PredictedInstance.from_numpy(
            xy, skeleton=skeleton, point_scores=np.full(2, 0.9), score=0.9
        )
        frames.append(sio.LabeledFrame(video=video, frame_idx=f, instances=[inst]))
    labels = sio.Labels(labeled_frames=frames, videos=[video], skeletons=[skeleton])
    assert outlier_frames(labels, video) == []
    plant = frames[120].instances[0]
    xy = plant.numpy().copy()
    xy[1] += 15
    frames[120].instances[0] = sio.PredictedInstance.from_numpy(
        xy, skeleton=skeleton, point_scores=np.full(2, 0.9), score=0.9
    )
    (only,) = outlier_frames(labels, video)
    assert only.frame == 120 and only.reason == "tail jumps"
    (res,) = suggest(labels, "outliers", 5)
    assert res.frames == [120] and res.added == 1 and res.reasons == {120: "tail jumps"}
    assert [s.frame_idx for s in labels.suggestions] == [120]
