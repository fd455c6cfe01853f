"""Labelled frames from several videos of different sizes, decoded once and padded."""

from __future__ import annotations

import numpy as np
import sleap_io as sio

from napari_sleap_train.data.datasets import load_labelled_data
from napari_sleap_train.project import Project
from napari_sleap_train.training import TrainingFinished
from napari_sleap_train.training.pipeline import pipeline_events
from napari_sleap_train.video import LazyVideo

from ..conftest import tiny_config


def _smaller_copy(sample_paths, tmp_path, frames: list[int], size=(256, 320)):
    """A 256×320 crop of the sample video's first frames, as a video of its own."""
    import cv2

    source = LazyVideo(str(sample_paths.video))
    path = tmp_path / "small.avi"
    h, w = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (w, h), False)
    for f in range(max(frames) + 1):
        writer.write(np.ascontiguousarray(source.frame(f)[:h, :w, 0]))
    writer.release()
    source.close()
    return path


def test_videos_of_different_sizes_train_together(sample_paths, tmp_path):
    labels = sio.load_slp(str(sample_paths.project))
    truth = sio.load_slp(str(sample_paths.ground_truth))
    inside = [
        lf
        for lf in truth.labeled_frames
        if all(np.nanmax(u.numpy()[:, 1]) < 250 for u in lf.user_instances)
        and all(np.nanmax(u.numpy()[:, 0]) < 310 for u in lf.user_instances)
    ][:3]
    assert inside, "the sample has frames with every animal inside the crop"
    small = sio.load_video(
        str(_smaller_copy(sample_paths, tmp_path, [lf.frame_idx for lf in inside]))
    )
    labels.videos.append(small)
    skeleton = labels.skeletons[0]
    for lf in inside:
        users = [sio.Instance.from_numpy(u.numpy(), skeleton=skeleton) for u in lf.user_instances]
        labels.append(sio.LabeledFrame(video=small, frame_idx=lf.frame_idx, instances=users))
    project = Project(labels)

    data = load_labelled_data(project)
    assert data.frames.shape[2:] == (384, 384)  # padded to the largest video
    rows = [r for r, (video, _) in enumerate(data.frame_ids) if video == 1]
    assert len(rows) == len(inside)
    padded = data.frames[rows[0], 0].numpy()
    assert padded[256:].max() == 0 and padded[:, 320:].max() == 0  # zeros beyond the frame
    assert padded[:256, :320].mean() > 50  # the small video's own pixels
    np.testing.assert_allclose(
        data.points[rows[0], :3].numpy(), np.stack([u.numpy() for u in inside[0].user_instances])
    )

    events = list(pipeline_events(project, tiny_config(1, 2), tmp_path / "run"))
    finished = [e for e in events if isinstance(e, TrainingFinished)]
    assert len(finished) == 2 and all(np.isfinite(e.best_val_loss) for e in finished)
