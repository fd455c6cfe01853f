"""Poses for the whole video from the dock, with a real viewer: an ensemble that learns from
unlabelled frames, then predictions smoothed over time with each body part's uncertainty."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from napari_sleap_train.choices import FrameTarget, PipelineKind, Smoothing
from napari_sleap_train.sample.project import write_sample

from .test_pipelines_gui import open_dock


@pytest.fixture
def one_animal_dock(make_napari_viewer, tmp_path):
    sample = write_sample(tmp_path / "one", n_animals=1)
    return open_dock(make_napari_viewer, sample.project)


def test_an_ensemble_learns_from_unlabelled_frames_and_its_predictions_are_smoothed(
    one_animal_dock, qtbot
):
    viewer, dock = one_animal_dock
    w = dock.settings.form.widgets
    w["pipeline"].value = PipelineKind.SINGLE_INSTANCE
    for name, value in (
        ("filters", 8),
        ("max_stride", 8),
        ("epochs", 1),
        ("batches_per_epoch", 3),
        ("learning_rate", 1e-3),
    ):
        w[f"single_instance.{name}"].value = value
    w["single_instance.training_crop"].value = 0  # none: unlabelled frames need whole frames
    w["learn_from_unlabelled"].value = True
    w["unlabelled_pairs"].value = 4
    w["ensemble_size"].value = 2
    w["predict_on"].value = FrameTarget.RANGE
    w["first_frame"].value, w["last_frame"].value = 10, 30
    w["peak_threshold"].value = 0.01  # a few steps of training give weak peaks
    w["smoothing"].value = Smoothing.KALMAN
    dock.runner.run_button.click()
    qtbot.waitUntil(lambda: dock.runner.busy, timeout=5000)
    qtbot.waitUntil(lambda: not dock.runner.busy, timeout=180000)
    run = dock.runner.run_dir
    for member in (run, run / "members" / "2"):
        with open(member / "single_instance" / "training_log.csv") as f:
            assert "temporal_loss" in next(csv.DictReader(f))  # the unlabelled losses
    status = dock.runner.status.text()
    assert "Smoothed" in status and "kalman" in status
    predicted = viewer.layers["sample.avi predictions"]
    sd = predicted.features["uncertainty"].to_numpy()
    assert np.isfinite(sd).mean() > 0.9 and (sd[np.isfinite(sd)] > 0).all()
    assert not viewer.layers["sample.avi raw predictions"].visible
    dock.runs.refresh()
    assert dock.runs.runs.item(0).text() == f"{run.name} (ensemble of 2)"
