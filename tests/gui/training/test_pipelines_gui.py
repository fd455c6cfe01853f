"""The pipeline choice of the training dock, with a real viewer: the model tabs follow it,
auto follows the labels, and bottom-up trains and predicts from the dock."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sleap_train.choices import (
    CameraView,
    FrameTarget,
    ModelKind,
    PipelineKind,
    StartFrom,
)
from napari_sleap_train.gui.last_config import settings_file
from napari_sleap_train.gui.training.dock import CROP_LAYER, TrainingDock
from napari_sleap_train.sample.project import write_sample


def open_dock(make_napari_viewer, project) -> tuple:
    settings_file().unlink(missing_ok=True)
    viewer = make_napari_viewer()
    viewer.open(str(project), plugin="napari-sleap-train")
    _, dock = viewer.window.add_plugin_dock_widget("napari-sleap-train", "Run Training…")
    assert isinstance(dock, TrainingDock)
    viewer.dims.set_current_step(0, 13)
    return viewer, dock


@pytest.fixture
def viewer_dock(make_napari_viewer, sample_paths, tmp_path):
    project = tmp_path / "sample.slp"
    project.write_bytes(sample_paths.project.read_bytes())
    return open_dock(make_napari_viewer, project)


def fine_tune_bottom_up(dock: TrainingDock, bottom_up_run) -> None:
    """Two short epochs fine-tuned from a bottom-up model trained on the sample (a few
    steps from scratch would predict nothing yet)."""
    w = dock.settings.form.widgets
    w["bottom_up.start"].value = StartFrom.FINE_TUNE
    w["bottom_up.previous"].value = bottom_up_run / "bottom_up"
    for name, value in (("epochs", 2), ("batches_per_epoch", 3), ("learning_rate", 1e-4)):
        w[f"bottom_up.{name}"].value = value


def shown_tabs(dock: TrainingDock) -> list[str]:
    tabs = dock.settings.tabs
    return [tabs.tabText(i) for i in range(tabs.count()) if tabs.isTabVisible(i)]


def test_the_model_tabs_follow_the_pipeline(viewer_dock):
    viewer, dock = viewer_dock
    w = dock.settings.form.widgets
    assert w["pipeline"].value is None  # auto: the sample holds three animals a frame
    assert shown_tabs(dock) == ["Training Pipeline", "Centroid Model", "Centered Instance Model"]
    assert "top-down (auto: labelled frames hold several animals)" in (
        dock.settings.pipeline_label.text()
    )
    w["pipeline"].value = PipelineKind.BOTTOM_UP
    assert shown_tabs(dock) == ["Training Pipeline", "Bottom-Up Model"]
    config = dock.settings.config().validate()
    assert tuple(config.models) == (ModelKind.BOTTOM_UP,)
    assert not w["crop_size"].native.isVisibleTo(dock) and w["edge_sigma"].native.isVisibleTo(dock)
    assert "whole frames" in dock.previews.crop_label.text()
    w["bottom_up.training_crop"].value = 128
    assert "Training crop: 128 px" in dock.previews.crop_label.text()
    boxes = viewer.layers[CROP_LAYER].data
    assert len(boxes) == 3 and np.allclose([np.ptp(b, axis=0) for b in boxes], 128)
    assert dock.settings.config().model(ModelKind.BOTTOM_UP).training_crop == 128
    w["edge_sigma"].value = 5.0
    assert dock.settings.config().model(ModelKind.BOTTOM_UP).paf_sigma == 5.0
    w["pipeline"].value = PipelineKind.TOP_DOWN
    assert shown_tabs(dock)[1:] == ["Centroid Model", "Centered Instance Model"]
    assert dock.runner.run_button.isEnabled()


def test_auto_picks_single_animal_for_one_animal_labels(make_napari_viewer, tmp_path):
    paths = write_sample(tmp_path / "one", n_animals=1)
    _, dock = open_dock(make_napari_viewer, paths.project)
    assert shown_tabs(dock) == ["Training Pipeline", "Single Instance Model"]
    assert "single animal (auto: no labelled frame holds more than one animal)" in (
        dock.settings.pipeline_label.text()
    )
    notes = dock.settings_from_data()
    scaling = dock.settings.form.widgets["single_instance.input_scaling"].value
    assert f"input scaling {scaling:.2f}" in notes[0]
    assert "Single Instance Model: input scaling" in dock.settings.auto_label.text()


def test_bottom_up_shows_its_inputs_trains_and_predicts_from_the_dock(
    viewer_dock, qtbot, bottom_up_run
):
    viewer, dock = viewer_dock
    w = dock.settings.form.widgets
    w["pipeline"].value = PipelineKind.BOTTOM_UP
    w["bottom_up.input_scaling"].value = 0.5
    dock.view_training_inputs(n=3)
    assert viewer.layers["Bottom-Up Model inputs"].data.shape == (3, 192, 192)
    assert viewer.layers["Bottom-Up Model targets"].data.shape == (3, 48, 48)
    fields = viewer.layers["Bottom-Up Model part affinity fields"].data
    assert fields.shape == (3, 48, 48) and 0.9 < fields.max() < 3.1
    fine_tune_bottom_up(dock, bottom_up_run)
    w["predict_on"].value = FrameTarget.CURRENT
    viewer.dims.set_current_step(0, 14)
    dock.runner.run_button.click()
    qtbot.waitUntil(lambda: dock.runner.busy, timeout=5000)
    qtbot.waitUntil(lambda: not dock.runner.busy, timeout=120000)
    assert "Predicted 1 frames" in dock.runner.status.text()
    assert (dock.runner.run_dir / "bottom_up" / "best.pt").exists()
    assert not (dock.runner.run_dir / "centroid").exists()
    assert dock.monitor.n_epoch_events == 2
    predicted = viewer.layers["sample.avi predictions"]
    assert len(set(predicted.features["individual"])) == 3  # the sample's three animals
    dock.runs.refresh()
    assert dock.runs.runs.count() == 1  # the bottom-up run is listed for prediction


def test_a_run_learns_from_the_whole_video_and_smooths_its_predictions(
    viewer_dock, qtbot, bottom_up_run
):
    from napari_sleap_train.choices import Smoothing, TrackerMethod

    viewer, dock = viewer_dock
    w = dock.settings.form.widgets
    w["pipeline"].value = PipelineKind.BOTTOM_UP
    w["bottom_up.input_scaling"].value = 0.5
    fine_tune_bottom_up(dock, bottom_up_run)
    w["camera_view"].value = CameraView.SIDE  # as the model it starts from learnt
    w["adapt_to_video"].value = True
    w["pseudo_label_frames"].value = 40
    w["predict_on"].value = FrameTarget.RANGE
    w["first_frame"].value, w["last_frame"].value = 10, 40
    w["tracker"].value = TrackerMethod.SIMPLE
    w["max_tracks"].value = 3
    w["smoothing"].value = Smoothing.KALMAN
    dock.runner.run_button.click()
    qtbot.waitUntil(lambda: dock.runner.busy, timeout=5000)
    qtbot.waitUntil(lambda: not dock.runner.busy, timeout=180000)
    run = dock.runner.run_dir
    assert (run / "pseudo_labels.slp").exists()
    assert (run / "first_round" / "bottom_up" / "best.pt").exists()
    assert (run / "bottom_up" / "best.pt").exists()
    assert dock.monitor.n_epoch_events == 4  # two epochs, then two of the second round
    status = dock.runner.status.text()
    assert "Smoothed" in status and "kalman" in status
    predicted = viewer.layers["sample.avi predictions"]
    sd = predicted.features["uncertainty"].to_numpy()
    assert np.isfinite(sd).mean() > 0.9 and np.nanmax(sd) < 20
    raw = viewer.layers["sample.avi raw predictions"]
    assert not raw.visible and len(raw.data) > 0
