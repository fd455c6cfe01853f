"""Labelled frames from several videos of different sizes, decoded once and padded."""

from __future__ import annotations

import numpy as np
import sleap_io as sio
import torch

from napari_sleap_train.data.augment import warp_points
from napari_sleap_train.data.labelled import load_labelled_data
from napari_sleap_train.io.project import Project
from napari_sleap_train.io.video import LazyVideo
from napari_sleap_train.training import TrainingFinished
from napari_sleap_train.training.pipeline import pipeline_events

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


def test_a_training_crop_gives_one_sample_per_animal_centred_on_it(sample_paths):
    from napari_sleap_train.config import BottomUpConfig
    from napari_sleap_train.data.datasets import BottomUpData

    data = load_labelled_data(Project(sio.load_slp(str(sample_paths.project))))
    cfg = BottomUpConfig(input_scaling=0.5, training_crop=160)
    rows = list(range(data.n_frames))
    ds = BottomUpData(data, rows, cfg)
    whole = BottomUpData(data, rows, BottomUpConfig(input_scaling=0.5))
    n_animals = int(torch.isfinite(data.anchors).all(-1).sum())
    assert len(ds) == n_animals and len(whole) == data.n_frames
    assert ds.input_hw == (96, 96)  # 160 px at 0.5 is 80, up to a multiple of max stride 32
    gen = torch.Generator().manual_seed(0)
    x, y = ds.batch(torch.arange(8), gen)
    assert x.shape == (8, data.channels, 96, 96) and y.shape[-2:] == (24, 24)
    rows, inst = ds.samples.unbind(1)
    anchors = data.anchors[rows, inst][:, None]
    every = torch.arange(len(ds))
    _, _, A, _ = ds._frames(every, gen, False)
    assert (warp_points(anchors, A)[:, 0] - 47.5).norm(dim=-1).max() < 1e-3  # at the centre
    # while training within a quarter of the crop (40 px, 20 px at this scaling) along each
    # axis, but for about a quarter of the crops, centred anywhere on the frame
    _, _, A, _ = ds._frames(every, gen, True)
    offset = (warp_points(anchors, A)[:, 0] - 47.5).norm(dim=-1)
    near = offset <= 40 * 0.5 * 2**0.5
    assert offset[near].max() > 5 and 0.6 < near.float().mean() < 0.9
