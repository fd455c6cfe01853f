"""Top-down-ID and bottom-up-ID from the command line: the model learns the labelled tracks
and every predicted animal gets one of them, never two animals the same in one frame."""

from __future__ import annotations

import pytest
import sleap_io as sio

from napari_sleap_train.cli import main
from napari_sleap_train.inference.pipelines import predictor_from_run
from napari_sleap_train.models.folder import ModelFolder

from ..conftest import tiny_config


@pytest.mark.parametrize(
    ("pipeline", "model"),
    [("top-down-id", "centered_instance_id"), ("bottom-up-id", "bottom_up_id")],
)
def test_train_and_predict_named_animals(sample_paths, tmp_path, capsys, pipeline, model):
    config = tiny_config(epochs=3, batches=2).for_pipeline(pipeline)
    if model == "bottom_up_id":  # whole frames: half size, and enough steps for some peaks
        config.model(model).input_scaling = 0.5
        config.model(model).optimization.batches_per_epoch = 10
    config.save(tmp_path / "config.json")
    models = tmp_path / "models"
    args = ["train", str(sample_paths.project), "--out", str(models)]
    args += ["--config", str(tmp_path / "config.json"), "--pipeline", pipeline]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Identities: animal_0 (20), animal_1 (20), animal_2 (20) labelled instances." in out
    info = ModelFolder(models / model).read_info()
    assert info.class_names == ["animal_0", "animal_1", "animal_2"]
    assert predictor_from_run(models, device="cpu").class_names == info.class_names

    pred = tmp_path / "pred.slp"
    args = ["predict", str(models), str(sample_paths.project), "--frames", "0:6"]
    assert main(args + ["--peak-threshold", "0.01", "-o", str(pred)]) == 0
    labels = sio.load_slp(str(pred))
    named = 0
    for lf in labels.labeled_frames:
        names = [i.track.name for i in lf.predicted_instances if i.track is not None]
        assert len(names) == len(set(names))  # distinct within a frame
        assert set(names) <= set(info.class_names)
        assert all(0 <= i.tracking_score <= 1 for i in lf.predicted_instances if i.track)
        named += len(names)
    assert named > 0
