"""Train on the sample's labelled frames, predict 100 held-out frames, compare to ground truth.

A real run of both models (about three minutes on two CPU cores), with a fixed number of
steps so the result does not depend on the machine's speed.
"""

from __future__ import annotations

import numpy as np
import sleap_io as sio

from napari_sleap_train.config import TrainingConfig
from napari_sleap_train.evaluation import evaluate_frames
from napari_sleap_train.inference.topdown import TopDownPredictor
from napari_sleap_train.io.project import load_project
from napari_sleap_train.io.video import LazyVideo
from napari_sleap_train.training import TrainingFinished
from napari_sleap_train.training.pipeline import pipeline_events


def test_sample_accuracy_on_held_out_frames(sample_paths, tmp_path):
    project = load_project(sample_paths.project)
    config = TrainingConfig(device="cpu")
    for section, epochs in (
        (config.model("centroid"), 20),
        (config.model("centered_instance"), 12),
    ):
        section.optimization.learning_rate = 1e-3
        section.optimization.batches_per_epoch = 50
        section.optimization.epochs = epochs
    finished = [
        e
        for e in pipeline_events(project, config, tmp_path / "models")
        if isinstance(e, TrainingFinished)
    ]
    assert [e.model for e in finished] == ["centroid", "centered_instance"]

    video = project.videos[0]
    labelled = project.labelled_frame_indices(video)
    frames = [f for f in range(0, 300, 2) if f not in labelled][:100]
    truth = sio.load_slp(str(sample_paths.ground_truth))
    gt = {
        lf.frame_idx: np.stack([i.numpy() for i in lf.user_instances])
        for lf in truth.labeled_frames
    }
    predictor = TopDownPredictor.from_models_dir(tmp_path / "models", device="cpu")
    results = [
        (gt[p.frame_idx], p.points, p.scores)
        for p in predictor.predict_video(LazyVideo(video), frames)
    ]
    m = evaluate_frames(results, project.node_names)
    print({k: m[k] for k in ("oks_map", "dist_p50", "dist_p90", "found_fraction")})
    assert len(results) == 100
    assert m["dist_p50"] <= 2.0
    assert m["dist_p90"] <= 5.0
    assert m["found_fraction"] >= 0.95
    assert m["oks_map"] >= 0.8

    # The fast bfloat16 path (the default on CPUs that have it) finds the same nodes as fp32.
    exact = TopDownPredictor.from_models_dir(tmp_path / "models", device="cpu", precision="fp32")
    if predictor.precision == "bf16":
        ref = exact.predict_video(LazyVideo(video), frames[:20])
        fast = predictor.predict_video(LazyVideo(video), frames[:20])
        for a, b in zip(ref, fast):
            assert a.n_instances == b.n_instances
            shift = np.linalg.norm(a.points - b.points, axis=-1)
            assert np.nanmedian(shift) < 0.1 and np.nanmax(shift) < 1.0
