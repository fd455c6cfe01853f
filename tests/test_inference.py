"""Frame selection and writing predictions into a project."""

from __future__ import annotations

import numpy as np
import pytest
import sleap_io as sio

from napari_sleap_train.choices import FrameTarget
from napari_sleap_train.errors import InferenceError
from napari_sleap_train.inference.frames import FrameSelection, select_frames
from napari_sleap_train.inference.results import add_predictions
from napari_sleap_train.inference.topdown import FramePrediction
from napari_sleap_train.project import load_project


@pytest.fixture
def project(sample_paths):
    return load_project(sample_paths.project)


def test_frame_selections(project):
    video = project.videos[0]
    labelled = project.labelled_frame_indices(video)
    suggested = select_frames(project, video, FrameSelection.parse("suggested"))
    assert suggested == sorted(set(project.suggested_frames(video)) - labelled)
    assert select_frames(project, video, FrameSelection.parse("labeled")) == sorted(labelled)
    everything = select_frames(project, video, FrameSelection.parse("all"))
    assert len(everything) == 300 - len(labelled) and not set(everything) & labelled
    rand = select_frames(project, video, FrameSelection.parse("random:10"))
    assert len(rand) == 10 and not set(rand) & labelled
    assert rand == select_frames(project, video, FrameSelection.parse("random:10"))
    assert select_frames(project, video, FrameSelection.parse("10:15")) == [
        f for f in range(10, 15) if f not in labelled
    ]
    assert select_frames(project, video, FrameSelection.parse("13")) == [13]
    assert select_frames(project, video, FrameSelection.of([5, 3, 5])) == [3, 5]
    with pytest.raises(InferenceError, match="Unknown frame selection"):
        FrameSelection.parse("every other")
    assert FrameSelection.parse("random:7") == FrameSelection(FrameTarget.RANDOM, count=7)
    assert FrameSelection.parse("5:") == FrameSelection(FrameTarget.RANGE, start=5)
    with pytest.raises(InferenceError, match="outside the video"):
        select_frames(project, video, FrameSelection.of([400]))


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


@pytest.fixture(scope="module")
def models(sample_paths, tmp_path_factory):
    """Tiny models trained once on the sample."""
    from napari_sleap_train.training.pipeline import pipeline_events

    from .test_training import tiny_config

    out = tmp_path_factory.mktemp("models")
    list(pipeline_events(load_project(sample_paths.project), tiny_config(1, 2), out))
    return out


def test_missing_or_incomplete_model_folder(models, tmp_path):
    from napari_sleap_train.errors import ModelFolderError
    from napari_sleap_train.inference.topdown import TopDownPredictor

    with pytest.raises(ModelFolderError, match="does not exist"):
        TopDownPredictor.from_models_dir(tmp_path / "none")
    (tmp_path / "centroid").mkdir()
    (tmp_path / "centered_instance").mkdir()
    with pytest.raises(ModelFolderError, match="not a complete model folder"):
        TopDownPredictor.from_models_dir(tmp_path)


def test_another_skeleton_is_refused(models):
    from napari_sleap_train.inference.topdown import TopDownPredictor

    predictor = TopDownPredictor.from_models_dir(models, device="cpu")
    with pytest.raises(InferenceError, match="another skeleton"):
        predictor.check_skeleton(["a", "b"])


def test_other_frame_sizes_and_channels_and_empty_frames(models):
    from napari_sleap_train.inference.topdown import TopDownPredictor

    predictor = TopDownPredictor.from_models_dir(models, device="cpu")
    empty = predictor.predict_batch(np.zeros((2, 200, 250), np.uint8))
    assert [p.n_instances for p in empty] == [0, 0]
    rgb = predictor.predict_batch(np.zeros((1, 64, 80, 3), np.uint8))
    assert rgb[0].points.shape[1:] == (8, 2)
    with pytest.raises(InferenceError, match="channels"):
        predictor.predict_batch(np.zeros((1, 64, 64, 2), np.uint8))
