"""The bottom-up pipeline: one network finds every body part of every animal and the part
affinity fields that group them, trained on the built-in sample and judged against its
ground truth."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import sleap_io as sio

from napari_sleap_train.cli import main
from napari_sleap_train.evaluation import evaluate_frames
from napari_sleap_train.inference.bottomup import BottomUpPredictor
from napari_sleap_train.inference.pipelines import predictor_from_run
from napari_sleap_train.io.project import load_project
from napari_sleap_train.io.video import LazyVideo


@pytest.fixture(scope="module")
def trained(sample_paths, bottom_up_run):
    project = load_project(sample_paths.project)
    record = json.loads((bottom_up_run / "run.json").read_text())
    assert list(record["models"]) == ["bottom_up"]
    assert record["models"]["bottom_up"]["status"] == "finished"
    return project, bottom_up_run


def test_bottom_up_finds_every_animal_on_held_out_frames(trained, sample_paths):
    project, out = trained
    predictor = predictor_from_run(out, device="cpu")
    assert isinstance(predictor, BottomUpPredictor)
    assert predictor.class_names == []  # names no animal (no ID model)
    video = project.videos[0]
    labelled = project.labelled_frame_indices(video)
    frames = [f for f in range(0, 300, 3) if f not in labelled][:60]
    truth = sio.load_slp(str(sample_paths.ground_truth))
    gt = {lf.frame_idx: np.stack([i.numpy() for i in lf.user_instances]) for lf in truth}
    preds = list(predictor.predict_video(LazyVideo(video), frames))
    m = evaluate_frames([(gt[p.frame_idx], p.points, p.scores) for p in preds], project.node_names)
    print({k: m[k] for k in ("oks_map", "dist_p50", "dist_p90", "found_fraction")})
    assert m["found_fraction"] >= 0.9
    assert m["instances_extra"] <= 0.05 * m["instances_gt"]
    assert m["dist_p50"] <= 6.0


def test_the_model_folder_says_its_pipeline_and_edges(trained):
    project, out = trained
    info = json.loads((out / "bottom_up" / "model_info.json").read_text())
    assert info["pipeline"] == "bottom-up"
    assert [tuple(e) for e in info["edges"]] == project.edge_inds
    assert info["n_maps"] == len(project.node_names) + 2 * len(project.edge_inds)


def test_max_instances_keeps_the_best_grouped_animals(trained):
    project, out = trained
    predictor = predictor_from_run(out, device="cpu", max_instances=1)
    frame = LazyVideo(project.videos[0]).frame(40)
    (pred,) = predictor.predict_batch(frame[None])
    assert pred.n_instances == 1


def test_groups_of_under_a_quarter_of_the_body_parts_are_not_animals(trained):
    project, out = trained
    predictor = predictor_from_run(out, device="cpu")
    quarter = min(4, len(project.node_names) // 4)
    assert predictor.settings.min_instance_peaks == quarter == 2  # trained with the default 0
    keep_all = predictor_from_run(out, device="cpu")
    keep_all.settings = dataclasses.replace(keep_all.settings, min_instance_peaks=1)
    frames = np.stack([LazyVideo(project.videos[0]).frame(f) for f in range(0, 300, 30)])
    for pred, every in zip(predictor.predict_batch(frames), keep_all.predict_batch(frames)):
        sizes = np.isfinite(every.points[..., 0]).sum(1)
        assert np.isfinite(pred.points[..., 0]).sum(1).min(initial=quarter) >= quarter
        assert pred.n_instances == (sizes >= quarter).sum()


def test_the_command_line_trains_and_predicts_bottom_up(sample_paths, tmp_path):
    models, out = tmp_path / "models", tmp_path / "pred.slp"
    args = [
        "--pipeline",
        "bottom-up",
        "--epochs",
        "1",
        "--batches-per-epoch",
        "2",
        "--device",
        "cpu",
    ]
    assert main(["train", str(sample_paths.project), "--out", str(models), *args]) == 0
    assert (models / "bottom_up" / "best.pt").exists() and not (models / "centroid").exists()
    predict = ["predict", str(models), str(sample_paths.project), "--frames", "0:4"]
    assert main([*predict, "--peak-threshold", "0.05", "-o", str(out)]) == 0
    assert len(sio.load_slp(str(out)).labeled_frames) >= 1
