"""Projects as the file's arrays: the same instances, counts and saved files as sleap-io's
objects give."""

from __future__ import annotations

import numpy as np
import pytest
import sleap_io as sio

from napari_sleap_train.io import lazy_labels
from napari_sleap_train.io.lazy_labels import VideoInstances
from napari_sleap_train.io.project import Project

from ..conftest import SLP_FILES, require_data


def _same(a: VideoInstances, b: VideoInstances) -> None:
    for name in VideoInstances.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        assert x.shape == y.shape, name
        if x.dtype == object:
            assert list(x) == list(y), name
        else:
            np.testing.assert_array_equal(x, y, err_msg=name)


POSE_FILES = [p for p in SLP_FILES if not p.name.endswith(".pkg.slp")]


@pytest.mark.parametrize("path", POSE_FILES, ids=lambda p: p.name)
def test_a_videos_instances_from_the_arrays_equal_those_of_the_objects(path):
    lazy = lazy_labels.load_lazy(path)
    eager = sio.load_slp(str(path), open_videos=False)
    assert lazy_labels.is_lazy(lazy)
    n = len(eager.skeletons[0].nodes)
    for index, video in enumerate(eager.videos):
        frames = [lf for lf in eager.labeled_frames if lf.video is video]
        for predicted in (False, True):
            _same(
                lazy_labels.video_instances(lazy, index, predicted),
                VideoInstances.from_frames(frames, n, predicted),
            )
    assert Project(lazy).user_counts() == Project(eager).user_counts()
    assert Project(lazy).instance_counts() == Project(eager).instance_counts()


def test_a_package_with_its_frames_opens_as_objects():
    labels = lazy_labels.load_lazy(require_data("minimal_instance.pkg.slp"))
    assert not lazy_labels.is_lazy(labels) and labels.labeled_frames


def _two_videos(tmp_path):
    """Two videos, tracked user and predicted instances, a user instance linked to the
    prediction it was made from, and an older file's missing tracking score nowhere."""
    skeleton = sio.Skeleton(["a", "b", "c"], edges=[("a", "b"), ("b", "c")])
    videos = [sio.Video(filename=str(tmp_path / f"v{i}.mp4")) for i in range(2)]
    tracks = [sio.Track("one"), sio.Track("two")]
    rng = np.random.default_rng(0)
    frames = []
    for v, video in enumerate(videos):
        for f in range(0, 30, 3):
            pred = sio.PredictedInstance.from_numpy(
                rng.uniform(0, 50, (3, 2)),
                skeleton=skeleton,
                point_scores=rng.uniform(size=3),
                score=float(rng.uniform()),
                track=tracks[f % 2],
                tracking_score=0.5,
            )
            insts = [pred]
            if f % 9 == 0:
                xy = rng.uniform(0, 50, (3, 2))
                xy[2] = np.nan
                user = sio.Instance.from_numpy(xy, skeleton=skeleton, track=tracks[0])
                user.from_predicted = pred
                insts.insert(0, user)
            frames.append(sio.LabeledFrame(video=video, frame_idx=f + v, instances=insts))
    labels = sio.Labels(labeled_frames=frames, videos=videos, skeletons=[skeleton], tracks=tracks)
    labels.suggestions.append(sio.SuggestionFrame(video=videos[1], frame_idx=7))
    path = tmp_path / "two.slp"
    sio.save_slp(labels, str(path))
    return path


def _content(labels: sio.Labels) -> dict:
    out = {}
    for lf in labels.labeled_frames:
        key = (labels.videos.index(lf.video), lf.frame_idx)
        out[key] = [
            (
                type(inst).__name__,
                inst.track.name if inst.track else None,
                np.nan_to_num(np.round(inst.numpy(), 5), nan=-1).tolist(),
                round(float(getattr(inst, "score", 0)), 5),
                inst.from_predicted is not None,
            )
            for inst in lf.instances
        ]
    return out


def test_replacing_one_video_keeps_every_other_row_as_it_was(tmp_path):
    path = _two_videos(tmp_path)
    original = sio.load_slp(str(path), open_videos=False)
    project = Project(lazy_labels.load_lazy(path), path=path)
    assert project.is_lazy
    edited = project.video_frames(1)[1:]  # the first frame of video 1 deleted
    new_track = sio.Track("three")
    skeleton = project.skeleton
    edited[0].instances.append(
        sio.Instance.from_numpy(np.full((3, 2), 7.0), skeleton=skeleton, track=new_track)
    )
    labels = lazy_labels.with_lists(project.header, [*project.tracks, new_track], [])
    changed = Project(labels, path=project.path, replaced={1: edited})
    assert changed.is_lazy and changed.replaced.keys() == {1}
    target = changed.save(tmp_path / "saved.slp")
    assert changed.is_lazy  # saved from the arrays
    saved = sio.load_slp(str(target), open_videos=False)

    before, after = _content(original), _content(saved)
    assert {k: v for k, v in after.items() if k[0] == 0} == {
        k: v for k, v in before.items() if k[0] == 0
    }
    assert (1, 1) in before and (1, 1) not in after
    assert after[(1, 4)] == [
        *before[(1, 4)],
        ("Instance", "three", np.full((3, 2), 7.0).tolist(), 0.0, False),
    ]
    assert [t.name for t in saved.tracks] == ["one", "two", "three"]
    assert _content(changed.labels) == after  # the same frames once they are objects


def test_a_lazy_project_becomes_objects_with_its_own_videos(tmp_path):
    path = _two_videos(tmp_path)
    project = Project(lazy_labels.load_lazy(path), path=path)
    videos = project.videos
    assert project.is_lazy and project.suggested_frames(videos[1]) == [7]
    labels = project.labels
    assert not project.is_lazy
    assert all(a is b for a, b in zip(labels.videos, videos, strict=True))
    assert all(lf.video is videos[0] or lf.video is videos[1] for lf in labels.labeled_frames)
    assert _content(labels) == _content(sio.load_slp(str(path), open_videos=False))
    assert project.labels is labels  # once
