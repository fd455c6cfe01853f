"""Top-down-ID and bottom-up-ID in the training dock, with a real viewer: their tabs and
class settings, the labelled instances per track before Run, training inputs with their
identities (class maps for bottom-up-ID), and runs that predict named animals into the
layers and evaluate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_sleap_train.choices import CameraView, FrameTarget, ModelKind, PipelineKind
from napari_sleap_train.gui.layers.project_layers import LOW_IDENTITY, LOW_NODE, doubt_outlines
from napari_sleap_train.gui.training.runs_panel import FOLDER_ROLE

from .test_pipelines_gui import open_dock, shown_tabs

TRACKS = {"animal_0", "animal_1", "animal_2"}


@pytest.fixture
def id_dock(make_napari_viewer, sample_paths, tmp_path):
    project = tmp_path / "sample.slp"
    project.write_bytes(sample_paths.project.read_bytes())
    viewer, dock = open_dock(make_napari_viewer, project)
    dock.settings.form.widgets["pipeline"].value = PipelineKind.TOP_DOWN_ID
    return viewer, dock


def test_top_down_id_tabs_and_tracks_before_run(id_dock):
    viewer, dock = id_dock
    w = dock.settings.form.widgets
    assert shown_tabs(dock) == ["Training Pipeline", "Centroid Model", "Centered Instance ID Model"]
    config = dock.settings.config().validate()
    assert tuple(config.models) == (ModelKind.CENTROID, ModelKind.CENTERED_INSTANCE_ID)
    tabs = dock.settings.tabs
    tabs.setCurrentIndex(
        next(i for i in range(tabs.count()) if tabs.tabText(i) == "Centered Instance ID Model")
    )
    assert w["centered_instance_id.class_loss_weight"].native.isVisibleTo(dock)
    tabs.setCurrentIndex(0)
    assert not w["centered_instance_id.class_loss_weight"].native.isVisibleTo(dock)
    w["centered_instance_id.class_loss_weight"].value = 0.5
    section = dock.settings.config().model(ModelKind.CENTERED_INSTANCE_ID)
    assert section.class_loss_weight == 0.5
    text = dock.settings.pipeline_label.text()
    assert "Classes: 3 tracks; labelled instances per track: animal_0 (20), animal_1 (20)" in text
    assert "without a track" not in text

    # an instance loses its track: the tab says where, before Run
    labels = dock.layers.labels
    features = labels.features.copy()
    frame = int(labels.data[0, 0])
    first = features["instance"] == features["instance"].iloc[0]
    features.loc[first & (labels.data[:, 0] == frame), "track"] = ""
    labels.features = features
    assert f"Labelled instances without a track in 1 frames ({frame})" in (
        dock.settings.pipeline_label.text()
    )


def test_top_down_id_inputs_run_and_named_predictions(id_dock, qtbot):
    viewer, dock = id_dock
    w = dock.settings.form.widgets
    for kind in ("centroid", "centered_instance_id"):
        w[f"{kind}.filters"].value = 8
        w[f"{kind}.max_stride"].value = 8
        w[f"{kind}.epochs"].value = 2
        w[f"{kind}.batches_per_epoch"].value = 2
        w[f"{kind}.learning_rate"].value = 1e-3
    w["camera_view"].value = CameraView.SIDE  # a few steps do not learn ±180°
    dock.view_training_inputs(n=3)
    inputs = viewer.layers["Centered Instance ID Model inputs"]
    assert set(inputs.metadata["identities"]) <= TRACKS and len(inputs.metadata["identities"]) == 3
    targets = viewer.layers["Centered Instance ID Model targets"].data
    assert targets.max() <= 1.0 + 1e-6 and targets.min() >= 0  # node maps, not identities

    w["predict_on"].value = FrameTarget.CURRENT
    w["peak_threshold"].value = 0.01  # a few steps of training give weak peaks
    dock.runner.run_button.click()
    qtbot.waitUntil(lambda: dock.runner.busy, timeout=5000)
    qtbot.waitUntil(lambda: not dock.runner.busy, timeout=120000)
    assert (dock.runner.run_dir / "centered_instance_id" / "best.pt").exists()
    assert "identities right" in dock.monitor.title.text()
    assert "val losses: maps" in dock.monitor.title.text()
    predicted = viewer.layers["sample.avi predictions"]
    names = predicted.features["track"].to_numpy(object)
    assert len(names) and set(names) <= TRACKS
    instances = predicted.features.groupby("instance")["track"].first()
    assert instances.is_unique  # no two animals of a frame share a name
    scores = predicted.features["tracking_score"].to_numpy(float)
    assert np.all((scores >= 0) & (scores <= 1))

    # Evaluate: the run measured on the labelled frames it held out, identities included
    runs = dock.runs
    rows = [runs.runs.item(i) for i in range(runs.runs.count())]
    runs.runs.setCurrentItem(
        next(r for r in rows if Path(r.data(FOLDER_ROLE)) == dock.runner.run_dir)
    )
    with qtbot.waitSignal(runs.evaluated, timeout=120000) as evaluated:
        runs.evaluate_button.click()
    assert evaluated.args[0].held_out
    text = runs.report.toPlainText()
    assert text.startswith("Measured on the 2 labelled frames the run held out")
    assert "OKS mAP" in text and "Identity:" in text
    qtbot.waitUntil(lambda: runs.evaluate_button.isEnabled(), timeout=5000)


def test_bottom_up_id_class_maps_run_named_predictions_and_evaluate(id_dock, qtbot):
    viewer, dock = id_dock
    w = dock.settings.form.widgets
    w["pipeline"].value = PipelineKind.BOTTOM_UP_ID
    assert shown_tabs(dock) == ["Training Pipeline", "Bottom-Up ID Model"]
    assert "Classes: 3 tracks" in dock.settings.pipeline_label.text()
    for name, value in (
        ("input_scaling", 0.5),
        ("filters", 8),
        ("max_stride", 8),
        ("epochs", 3),
        ("batches_per_epoch", 10),
        ("learning_rate", 1e-3),
        ("class_loss_weight", 2.0),
    ):
        w[f"bottom_up_id.{name}"].value = value
    assert dock.settings.config().model(ModelKind.BOTTOM_UP_ID).class_loss_weight == 2.0
    w["camera_view"].value = CameraView.SIDE
    dock.view_training_inputs(n=3)
    assert viewer.layers["Bottom-Up ID Model inputs"].data.shape == (3, 192, 192)
    for track in sorted(TRACKS):
        class_map = viewer.layers[f"Bottom-Up ID Model class map {track}"].data
        assert class_map.shape == (3, 48, 48) and 0.9 < class_map.max() <= 1.0 + 1e-6

    w["predict_on"].value = FrameTarget.CURRENT
    w["peak_threshold"].value = 0.01  # a few steps of training give weak peaks
    dock.runner.run_button.click()
    qtbot.waitUntil(lambda: dock.runner.busy, timeout=5000)
    qtbot.waitUntil(lambda: not dock.runner.busy, timeout=120000)
    assert (dock.runner.run_dir / "bottom_up_id" / "best.pt").exists()
    assert "identities right" in dock.monitor.title.text()
    predicted = viewer.layers["sample.avi predictions"]
    names = predicted.features["track"].to_numpy(object)
    assert len(names) and set(names) <= TRACKS
    assert predicted.features.groupby("instance")["track"].first().is_unique

    runs = dock.runs
    rows = [runs.runs.item(i) for i in range(runs.runs.count())]
    runs.runs.setCurrentItem(
        next(r for r in rows if Path(r.data(FOLDER_ROLE)) == dock.runner.run_dir)
    )
    with qtbot.waitSignal(runs.evaluated, timeout=120000):
        runs.evaluate_button.click()
    text = runs.report.toPlainText()
    assert "OKS mAP" in text and "Identity:" in text
    qtbot.waitUntil(lambda: runs.evaluate_button.isEnabled(), timeout=5000)


def test_doubtful_identities_and_nodes_are_outlined():
    import pandas as pd

    features = pd.DataFrame(
        {
            "confidence": [0.9, 0.2, 0.9, 0.9],
            "track": ["a", "a", "b", ""],
            "tracking_score": [0.3, 0.3, 0.9, np.nan],
        }
    )
    colours, widths = doubt_outlines(features)
    assert tuple(colours[0]) == LOW_IDENTITY and tuple(colours[1]) == LOW_NODE
    assert tuple(colours[2]) == tuple(colours[3]) == (0.0, 0.0, 0.0, 1.0)
    assert list(widths) == [0.3, 0.3, 0.05, 0.05]
