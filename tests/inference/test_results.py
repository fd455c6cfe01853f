"""Writing predictions into a project."""

from __future__ import annotations

import numpy as np
import pytest
import sleap_io as sio

from napari_sleap_train.inference.results import add_predictions
from napari_sleap_train.inference.topdown import FramePrediction
from napari_sleap_train.io.project import load_project


@pytest.fixture
def project(sample_paths):
    return load_project(sample_paths.project)


def _pred(frame: int, n_nodes: int, offset: float) -> FramePrediction:
    pts = np.full((1, n_nodes, 2), 50.0) + offset + np.arange(n_nodes)[None, :, None]
    pts[0, -1] = np.nan
    return FramePrediction(frame, pts, np.full((1, n_nodes), 0.9), np.array([0.8]))


def test_predictions_replace_only_their_frames_and_round_trip(project, tmp_path):
    video, n = project.videos[0], len(project.node_names)
    user_before = sum(len(lf.user_instances) for lf in project.labels.labeled_frames)
    assert add_predictions(project, video, [_pred(1, n, 0), _pred(2, n, 0)]) == 2
    assert add_predictions(project, video, [_pred(2, n, 10), _pred(13, n, 0)]) == 2
    by_frame = {lf.frame_idx: lf for lf in project.labels.labeled_frames}
    assert len(by_frame[1].predicted_instances) == 1
    assert len(by_frame[2].predicted_instances) == 1
    assert by_frame[2].predicted_instances[0].numpy()[0, 0] == pytest.approx(60.0)
    assert len(by_frame[13].user_instances) == 3 and len(by_frame[13].predicted_instances) == 1
    add_predictions(project, video, [_pred(2, n, 20)], mode="keep")
    frame2 = next(lf for lf in project.labels.labeled_frames if lf.frame_idx == 2)
    assert len(frame2.predicted_instances) == 2
    out = project.save(tmp_path / "pred.slp")
    labels = sio.load_slp(str(out))
    frame1 = next(lf for lf in labels.labeled_frames if lf.frame_idx == 1)
    np.testing.assert_allclose(frame1.predicted_instances[0].numpy(), _pred(1, n, 0).points[0])
    assert frame1.predicted_instances[0].score == pytest.approx(0.8)
    assert sum(len(lf.user_instances) for lf in labels.labeled_frames) == user_before
    add_predictions(project, video, [], mode="clear_all")
    assert not any(lf.predicted_instances for lf in project.labels.labeled_frames)
    assert sum(len(lf.user_instances) for lf in project.labels.labeled_frames) == user_before
