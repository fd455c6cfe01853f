"""Learning from the whole video: pseudo-labels that hold under rotation and in time,
unsure body parts left out of the loss, and a second round of training in the run."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import sleap_io as sio
import torch

from napari_sleap_train.choices import ModelKind, PipelineKind
from napari_sleap_train.config import TrainingConfig
from napari_sleap_train.data.datasets import CentroidData, InstanceData, masked_mse
from napari_sleap_train.data.labelled import load_labelled_data
from napari_sleap_train.io.project import load_project
from napari_sleap_train.training import RunNoted, TrainingFinished, TrainingStarted
from napari_sleap_train.training.adaptation import (
    FIRST_ROUND,
    PseudoLabels,
    adaptation_events,
    agreement,
    sample_frames,
    tolerances,
    with_pseudo_labels,
)
from napari_sleap_train.training.pipeline import pipeline_events

from ..conftest import tiny_config


def test_agreement_keeps_the_body_parts_every_check_puts_near():
    base = np.array([[[10.0, 10], [20, 20], [30, 30]], [[100, 100], [110, 110], [120, 120]]])
    moved = base.copy()
    moved[0, 2] += 8  # one body part lands elsewhere when the frame is rotated
    neighbour = base[::-1] + 1  # the next frame, its animals in the other order
    points, unsure = agreement(base, [(moved, 2.0), (neighbour, 3.0)])
    assert unsure.tolist() == [[False, False, True], [False, False, False]]
    assert np.isnan(points[0, 2]).all() and np.isfinite(points[1]).all()
    _, none_found = agreement(base, [(np.zeros((0, 3, 2)), 2.0)])
    assert none_found.all()


def test_masked_loss_leaves_unsure_maps_out():
    pred = torch.zeros(2, 3, 4, 4)
    target = torch.ones(2, 3, 4, 4)
    assert float(masked_mse(pred, target)) == pytest.approx(1.0)
    target[0, 1] = float("nan")
    pred[0, 1] = 100.0  # whatever the model says there costs nothing
    assert float(masked_mse(pred, target)) == pytest.approx(1.0)


def test_pseudo_frames_join_training_not_validation(sample_paths):
    project = load_project(sample_paths.project)
    data = load_labelled_data(project)
    tol, motion = tolerances(data)
    assert 2.0 <= tol < motion
    picks, notes = sample_frames(project, 6)
    labelled = {f for _, f in data.frame_ids}
    assert len(picks) >= 4 and not notes and not {f for _, f, _ in picks} & labelled
    for *_, lazy in picks:
        lazy.close()
    n = data.points.shape[2]
    pts = np.full((1, n, 2), np.nan)
    pts[0] = data.points[0, 0].numpy() + 1
    unsure = np.zeros((1, n), bool)
    unsure[0, 0] = True
    pseudo = PseudoLabels(
        frame_ids=[(0, 7)],
        images=[np.zeros((*data.frame_hw, data.channels), np.uint8)],
        points=[pts],
        unsure=[unsure],
        complete=[False],
        tried=1,
    )
    both = with_pseudo_labels(data, pseudo)
    assert both.n_labelled == data.n_frames and both.weak == 1
    assert both.pseudo_rows() == [data.n_frames]
    # a frame where some animal may have been missed: whole-frame maps only near the kept one
    centroid = CentroidData(both, [data.n_frames], tiny_config().model(ModelKind.CENTROID))
    _, maps = centroid.batch(torch.arange(1), torch.Generator(), augment=False)
    known = torch.isfinite(maps[0, 0])
    assert 0 < known.float().mean() < 0.5
    assert float(maps[0, 0][known].max()) > 0.5  # the kept animal's peak is there
    mine = CentroidData(data, [0], tiny_config().model(ModelKind.CENTROID))
    assert torch.isfinite(mine.batch(torch.arange(1), torch.Generator(), augment=False)[1]).all()
    config = tiny_config()
    section = config.model(ModelKind.CENTERED_INSTANCE)
    crops = InstanceData(both, [data.n_frames], section, 96)
    _, y = crops.batch(torch.arange(len(crops)), torch.Generator(), augment=False)
    assert torch.isnan(y[0, 0]).all() and torch.isfinite(y[0, 1:]).all()


@pytest.fixture
def first_round(bottom_up_run, tmp_path):
    """A copy of the session's trained bottom-up run."""
    run = tmp_path / "run"
    shutil.copytree(bottom_up_run, run)
    return run


def test_second_round_trains_on_pseudo_labels(sample_paths, first_round):
    project = load_project(sample_paths.project)
    config = TrainingConfig.load(first_round / "training_config.json")
    config.pipeline.pseudo_label_frames = 40
    opt = config.model(ModelKind.BOTTOM_UP).optimization
    opt.epochs, opt.batches_per_epoch = 1, 2
    data = load_labelled_data(project)
    events = list(
        adaptation_events(project, config, data, first_round, (ModelKind.BOTTOM_UP,), 0.0)
    )
    said = next(e for e in events if isinstance(e, RunNoted)).notes
    assert any("Pseudo-labels:" in n for n in said)
    print(said)
    started = next(e for e in events if isinstance(e, TrainingStarted))
    beside = next(n for n in started.notes if "pseudo-labelled frames" in n)
    assert int(beside.split()[2]) > 0
    assert started.n_train > len(data.frame_ids) * 0.8  # the user's frames and more
    assert isinstance(events[-1], TrainingFinished)
    assert (first_round / FIRST_ROUND / "bottom_up" / "best.pt").exists()
    assert (first_round / "bottom_up" / "best.pt").exists()
    pseudo = sio.load_slp(str(first_round / "pseudo_labels.slp"))
    assert pseudo.labeled_frames and not any(lf.user_instances for lf in pseudo.labeled_frames)
    assert not any(lf.predicted_instances for lf in project.labels.labeled_frames)


def test_adaptation_in_a_run_says_what_held(tmp_path):
    from napari_sleap_train.sample.project import write_sample

    config = tiny_config(epochs=1, batches=2).for_pipeline(PipelineKind.SINGLE_INSTANCE)
    config.pipeline.adapt_to_video = True
    config.pipeline.pseudo_label_frames = 4
    project = load_project(write_sample(tmp_path / "one", n_animals=1).project)
    events = list(pipeline_events(project, config, tmp_path / "run"))
    assert any(isinstance(e, RunNoted) for e in events)
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["models"]["single_instance"]["status"] == "finished"


def test_without_readable_videos_the_second_round_is_skipped_with_a_note(tmp_path):
    """A .pkg.slp of one embedded frame: the labels train, the video is too short."""
    from ..conftest import require_data

    config = tiny_config(epochs=1, batches=1)
    config.pipeline.adapt_to_video = True
    config.pipeline.pseudo_label_frames = 4
    project = load_project(require_data("minimal_instance.pkg.slp"))
    events = list(pipeline_events(project, config, tmp_path / "run"))
    said = " ".join(n for e in events if isinstance(e, RunNoted) for n in e.notes)
    assert "too short for pseudo-labels" in said and "No pseudo-label held" in said
    assert (tmp_path / "run" / "centered_instance" / "best.pt").exists()
    assert not (tmp_path / "run" / FIRST_ROUND).exists()


def test_pseudo_labels_before_any_model_say_so(sample_paths, tmp_path):
    config = tiny_config().for_pipeline(PipelineKind.TOP_DOWN)
    project = load_project(sample_paths.project)
    data = load_labelled_data(project)
    events = list(adaptation_events(project, config, data, tmp_path, tuple(config.models), 0.0))
    assert len(events) == 1 and isinstance(events[0], RunNoted)
    assert "learning from the whole video is skipped" in events[0].notes[0]
