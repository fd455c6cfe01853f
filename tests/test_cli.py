"""The command line, run as a user would (in-process through ``main``)."""

from __future__ import annotations

import json

import sleap_io as sio

from napari_sleap_train.cli import main
from napari_sleap_train.config import TrainingConfig

from .test_training import tiny_config


def test_sample_writes_three_files(tmp_path, capsys):
    assert main(["sample", str(tmp_path / "s")]) == 0
    names = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert names == ["sample.avi", "sample.slp", "sample_ground_truth.slp"]
    assert "project:" in capsys.readouterr().out


def test_train_predict_evaluate(sample_paths, tmp_path, capsys):
    config = tiny_config(epochs=5, batches=2)
    config.save(tmp_path / "config.json")
    models = tmp_path / "models"
    assert (
        main(
            [
                "train",
                str(sample_paths.project),
                "--out",
                str(models),
                "--config",
                str(tmp_path / "config.json"),
                "--epochs",
                "2",
                "--batch-size",
                "2",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "[centroid] completed after 2 epochs" in out
    assert "[centered_instance] completed after 2 epochs" in out
    for kind in ("centroid", "centered_instance"):
        saved = TrainingConfig.load(models / kind / "training_config.json")
        assert saved.centroid.optimization.batch_size == 2
        assert (models / kind / "best.pt").exists()

    pred = tmp_path / "pred.slp"
    assert (
        main(
            [
                "predict",
                str(models),
                str(sample_paths.project),
                "--frames",
                "0:6",
                "--peak-threshold",
                "0.01",
                "-o",
                str(pred),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "frames/s" in out
    labels = sio.load_slp(str(pred))
    predicted = {lf.frame_idx for lf in labels.labeled_frames if lf.predicted_instances}
    assert predicted <= set(range(6))
    assert len(labels.user_labeled_frames) == 20  # the user's labels are kept

    assert main(["evaluate", str(sample_paths.ground_truth), str(pred), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert {
        "oks_map",
        "pck",
        "dist_p50",
        "dist_p90",
        "dist_p95",
        "instances_missed",
        "instances_extra",
    } <= set(metrics)


def test_errors_are_one_clear_line(tmp_path, capsys, sample_paths):
    assert main(["train", str(tmp_path / "missing.slp"), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "does not exist" in err
    assert (
        main(
            [
                "predict",
                str(tmp_path / "nomodels"),
                str(sample_paths.project),
                "-o",
                str(tmp_path / "p.slp"),
            ]
        )
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
    assert (
        main(
            ["train", str(sample_paths.project), "--out", str(tmp_path / "m"), "--crop-size", "100"]
        )
        == 2
    )
    assert "not a multiple of max stride" in capsys.readouterr().err
    assert (
        main(["predict", str(tmp_path), str(sample_paths.project), "-o", str(sample_paths.project)])
        == 2
    )
    assert "is the input file" in capsys.readouterr().err
