"""The single-instance pipeline: one network over the whole (scaled) frame, trained on a
one-animal version of the built-in sample and judged against its ground truth."""

from __future__ import annotations

import numpy as np
import pytest
import sleap_io as sio

from napari_sleap_train.choices import ModelKind, PipelineKind
from napari_sleap_train.cli import main
from napari_sleap_train.config import TrainingConfig, preset
from napari_sleap_train.errors import DataError
from napari_sleap_train.evaluation import evaluate_frames
from napari_sleap_train.inference.pipelines import predictor_from_run
from napari_sleap_train.inference.single import SingleInstancePredictor
from napari_sleap_train.io.project import load_project
from napari_sleap_train.io.video import LazyVideo
from napari_sleap_train.sample.project import write_sample
from napari_sleap_train.training import TrainingFinished
from napari_sleap_train.training.pipeline import auto_pipeline, pipeline_events


@pytest.fixture(scope="module")
def one_animal(tmp_path_factory):
    return write_sample(tmp_path_factory.mktemp("one"), n_animals=1)


def test_auto_picks_the_pipeline_from_the_labels(one_animal, sample_paths):
    assert auto_pipeline(load_project(one_animal.project))[0] is PipelineKind.SINGLE_INSTANCE
    assert auto_pipeline(load_project(sample_paths.project))[0] is PipelineKind.TOP_DOWN


def test_switching_pipeline_keeps_the_shared_settings_and_the_schedule():
    fast = preset("fast-cpu")
    fast.pipeline.peak_threshold = 0.3
    single = fast.for_pipeline(PipelineKind.SINGLE_INSTANCE).validate()
    assert tuple(single.models) == (ModelKind.SINGLE_INSTANCE,)
    assert single.pipeline.peak_threshold == 0.3 and single.pipeline.time_budget_minutes == 10
    opt = single.model(ModelKind.SINGLE_INSTANCE).optimization
    assert (opt.learning_rate, opt.batches_per_epoch) == (1e-3, 50)
    again = TrainingConfig.from_dict(single.to_dict())
    assert tuple(again.models) == (ModelKind.SINGLE_INSTANCE,)
    back = single.for_pipeline(PipelineKind.TOP_DOWN).validate()
    assert tuple(back.models) == (ModelKind.CENTROID, ModelKind.CENTERED_INSTANCE)


def test_two_animals_on_a_frame_are_refused_naming_the_frames(sample_paths, tmp_path):
    config = TrainingConfig(device="cpu").for_pipeline(PipelineKind.SINGLE_INSTANCE)
    with pytest.raises(DataError, match=r"20 labelled frame\(s\) hold more \(video 0 frame"):
        list(pipeline_events(load_project(sample_paths.project), config, tmp_path / "m"))


def test_single_instance_finds_the_animal_on_held_out_frames(one_animal, tmp_path):
    project = load_project(one_animal.project)
    config = TrainingConfig(device="cpu").for_pipeline(PipelineKind.SINGLE_INSTANCE)
    opt = config.model(ModelKind.SINGLE_INSTANCE).optimization
    # fixed steps at 3e-4: at 1e-3 without warm-up seeds 1 and 3 stayed on the empty-map
    # plateau (27 % and 0 % found); at 3e-4 seeds 0, 1 and 3 found every animal
    opt.learning_rate, opt.batches_per_epoch, opt.epochs = 3e-4, 40, 10
    finished = [
        e
        for e in pipeline_events(project, config, tmp_path / "models")
        if isinstance(e, TrainingFinished)
    ]
    assert [e.model for e in finished] == [ModelKind.SINGLE_INSTANCE]

    predictor = predictor_from_run(tmp_path / "models", device="cpu")
    assert isinstance(predictor, SingleInstancePredictor)
    video = project.videos[0]
    labelled = project.labelled_frame_indices(video)
    frames = [f for f in range(0, 300, 3) if f not in labelled][:60]
    truth = sio.load_slp(str(one_animal.ground_truth))
    gt = {lf.frame_idx: np.stack([i.numpy() for i in lf.user_instances]) for lf in truth}
    preds = list(predictor.predict_video(LazyVideo(video), frames))
    assert all(p.n_instances <= 1 for p in preds)
    m = evaluate_frames([(gt[p.frame_idx], p.points, p.scores) for p in preds], project.node_names)
    print({k: m[k] for k in ("oks_map", "dist_p50", "dist_p90", "found_fraction")})
    assert m["found_fraction"] >= 0.95
    assert m["dist_p50"] <= 2.0
    assert m["dist_p90"] <= 6.0


def test_the_command_line_trains_and_predicts_the_pipeline_the_labels_call_for(
    one_animal, tmp_path, capsys
):
    models, out = tmp_path / "models", tmp_path / "pred.slp"
    args = ["--pipeline", "auto", "--epochs", "1", "--batches-per-epoch", "2", "--device", "cpu"]
    assert main(["train", str(one_animal.project), "--out", str(models), *args]) == 0
    assert "pipeline: single-instance" in capsys.readouterr().out
    assert (models / "single_instance" / "best.pt").exists()
    assert not (models / "centroid").exists()
    predict = ["predict", str(models), str(one_animal.project), "--frames", "0:6", "-o", str(out)]
    assert main(predict) == 0
    predicted = sio.load_slp(str(out))
    assert all(len(lf.predicted_instances) <= 1 for lf in predicted.labeled_frames)


def test_a_receptive_field_smaller_than_the_animals_is_said_with_the_stride_that_fits(
    one_animal,
):
    from napari_sleap_train.config import SingleInstanceConfig
    from napari_sleap_train.data.checks import receptive_field_note
    from napari_sleap_train.data.geometry import instance_bbox_sides
    from napari_sleap_train.data.labelled import load_labelled_data
    from napari_sleap_train.models.receptive_field import receptive_field_px

    data = load_labelled_data(load_project(one_animal.project))
    largest = float(instance_bbox_sides(data.instances_array()).max())
    cfg = SingleInstanceConfig(input_scaling=1.0)
    cfg.backbone.max_stride = 8  # 36 px
    assert receptive_field_px(8) < largest
    note = receptive_field_note(data, cfg)
    fits = next(s for s in (16, 32, 64) if receptive_field_px(s) >= largest)
    assert note is not None and f"max stride {fits} covers it" in note
    cfg.backbone.max_stride = fits
    assert receptive_field_note(data, cfg) is None
