"""The top-down predictor: model folders, skeletons, frame sizes and channels."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sleap_train.errors import InferenceError
from napari_sleap_train.io.project import load_project


@pytest.fixture(scope="module")
def models(sample_paths, tmp_path_factory):
    """Tiny models trained once on the sample."""
    from napari_sleap_train.training.pipeline import pipeline_events

    from ..conftest import tiny_config

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
