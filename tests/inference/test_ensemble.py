"""Ensembles: members trained from other random starts, matched and combined frame by frame,
each body part with the spread of the members' positions."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from napari_sleap_train.choices import ModelKind, PipelineKind
from napari_sleap_train.inference.ensemble import EnsemblePredictor, combine, match
from napari_sleap_train.inference.pipelines import predictor_from_run
from napari_sleap_train.inference.predictor import FramePrediction
from napari_sleap_train.io.project import load_project
from napari_sleap_train.io.video import LazyVideo
from napari_sleap_train.models.folder import RunFolder
from napari_sleap_train.sample.project import write_sample
from napari_sleap_train.training.events import RunNoted, TrainingStarted
from napari_sleap_train.training.pipeline import pipeline_events

from ..conftest import tiny_config

ANIMAL = np.array([[0.0, 0.0], [20.0, 0.0], [40.0, 0.0]])


def _frame(*instances: np.ndarray) -> FramePrediction:
    points = np.stack(instances) if instances else np.zeros((0, 3, 2))
    return FramePrediction(
        0, points, np.where(np.isfinite(points[..., 0]), 0.9, 0.0), np.full(len(points), 0.8)
    )


def test_members_are_matched_by_animal_and_a_body_part_lies_where_the_others_agree():
    a, b = ANIMAL + [100, 100], ANIMAL + [300, 100]
    off = b.copy()
    off[2] += [30, 0]  # one member puts b's last body part far off
    c = b.copy()
    c[1] = np.nan  # another misses b's middle body part
    combined = combine([_frame(a, b), _frame(off, a + 1), _frame(c, a - 1)])
    assert combined.points.shape == (2, 3, 2)
    np.testing.assert_allclose(combined.points[0], a, atol=1e-9)  # a-1, a, a+1: a
    np.testing.assert_allclose(combined.points[1], b, atol=1e-9)  # the far one outvoted
    spread = combined.spread
    assert spread[0, 0] == pytest.approx(np.sqrt(4 / 3))  # sqrt(mean(2, 0, 2))
    assert spread[1, 2] > 10 > spread[1, 0]  # the members disagree on b's last body part
    assert np.isfinite(spread).all()


def test_a_body_part_or_animal_most_members_miss_is_left_out():
    a = ANIMAL + [100, 100]
    lone = ANIMAL + [500, 500]  # only the first member finds this animal
    holed = a.copy()
    holed[0] = np.nan
    combined = combine([_frame(a, lone), _frame(holed), _frame(holed + 0.5)])
    assert len(combined.points) == 1  # the lone animal is gone
    assert np.isnan(combined.points[0, 0]).all()  # 1 of 3 members found it
    np.testing.assert_allclose(combined.points[0, 1:], a[1:], atol=1e-9)  # a, a, a+0.5: a
    two = combine([_frame(a), _frame(holed)])
    assert np.isfinite(two.points[0, 0]).all() and np.isnan(two.spread[0, 0])  # 1 of 2


def test_two_members_that_disagree_give_the_surer_ones_position_not_a_point_between():
    a = ANIMAL + [100, 100]
    other = a.copy()
    other[2] += [0, 12]  # the last body part put on another leg
    sure, unsure = _frame(a), _frame(other)
    unsure.point_scores[0, 2] = 0.3
    combined = combine([unsure, sure])
    np.testing.assert_allclose(combined.points[0], a, atol=1e-9)
    assert combined.spread[0, 2] == pytest.approx(np.sqrt(144 / 2))
    assert combine([sure, unsure]).points[0, 2].tolist() == a[2].tolist()


def test_animals_further_apart_than_half_their_size_are_not_matched():
    a = ANIMAL + [100, 100]
    assert match(a[None], (a + [15, 0])[None]) == [(0, 0)]  # within half of 40 px
    assert match(a[None], (a + [25, 0])[None]) == []
    assert match(a[None], np.zeros((0, 3, 2))) == []


@pytest.fixture(scope="module")
def one_animal(tmp_path_factory):
    return write_sample(tmp_path_factory.mktemp("one"), n_animals=1)


def test_an_ensemble_run_trains_its_members_from_other_starts_and_predicts_with_all(
    one_animal, tmp_path
):
    config = tiny_config(epochs=1, batches=3).for_pipeline(PipelineKind.SINGLE_INSTANCE)
    config.pipeline.ensemble_size = 2
    project = load_project(one_animal.project)
    run = tmp_path / "run"
    events = list(pipeline_events(project, config, run))
    assert sum(isinstance(e, TrainingStarted) for e in events) == 2
    notes = [n for e in events if isinstance(e, RunNoted) for n in e.notes]
    assert notes == ["Ensemble member 1 of 2.", "Ensemble member 2 of 2."]
    folder = RunFolder(run)
    assert [m.path for m in folder.members()] == [run / "members" / "2"]
    first, second = (
        f.model(ModelKind.SINGLE_INSTANCE).load_state(f.model(ModelKind.SINGLE_INSTANCE).best)
        for f in (folder, folder.member(2))
    )
    key = next(k for k in first if k.endswith("weight"))
    assert not torch.equal(first[key], second[key])  # another start
    saved = json.loads((run / "training_config.json").read_text())
    assert saved["pipeline"]["ensemble_size"] == 2

    predictor = predictor_from_run(run, device="cpu", peak_threshold=1e-9)
    assert isinstance(predictor, EnsemblePredictor) and len(predictor.members) == 2
    alone = predictor_from_run(run, ensemble=False, device="cpu", peak_threshold=1e-9)
    assert not isinstance(alone, EnsemblePredictor)
    twins = EnsemblePredictor(
        [alone, predictor_from_run(run, False, device="cpu", peak_threshold=1e-9)]
    )
    video = LazyVideo(project.videos[0])
    try:
        frames = np.stack([video.frame(f) for f in range(3)])
        both, one, same = (p.predict_batch(frames) for p in (predictor, alone, twins))
    finally:
        video.close()
    assert all(p.spread is not None and p.spread.shape == p.points.shape[:2] for p in both)
    for mine, theirs in zip(one, same, strict=True):  # members that agree: spread 0
        np.testing.assert_allclose(theirs.points, mine.points)
        assert (theirs.spread[np.isfinite(theirs.points[..., 0])] == 0).all()
