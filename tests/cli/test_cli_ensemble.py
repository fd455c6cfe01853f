"""An ensemble from the command line: ``train --ensemble``, then ``predict`` with every member
and each body part's uncertainty written beside the predictions."""

from __future__ import annotations

import csv

import numpy as np
import sleap_io as sio

from napari_sleap_train.cli import main

from ..conftest import tiny_config


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_an_ensemble_trains_and_predicts_with_uncertainty(sample_paths, tmp_path, capsys):
    tiny_config(epochs=1, batches=2).save(tmp_path / "config.json")
    models = tmp_path / "models"
    args = ["train", str(sample_paths.project), "--out", str(models)]
    args += ["--config", str(tmp_path / "config.json"), "--ensemble", "2"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "Ensemble member 2 of 2." in printed
    assert (models / "members" / "2" / "centered_instance" / "best.pt").exists()

    exported = tmp_path / "exported"
    assert main(["export-model", str(models), "-o", str(exported), "--format", "torchscript"]) == 0
    assert "ensemble of 2; the export holds its first member" in capsys.readouterr().out

    pred = tmp_path / "pred.slp"
    args = ["predict", str(models), str(sample_paths.project), "--frames", "0:12"]
    args += ["--peak-threshold", "0.01", "--max-instances", "3"]
    args += ["--tracker", "simple", "--max-tracks", "3"]
    assert main([*args, "--smooth", "kalman", "-o", str(pred)]) == 0
    printed = capsys.readouterr().out
    table = tmp_path / "pred.uncertainty.csv"
    assert f"-> {table}" in printed
    rows = _rows(table)
    labels = sio.load_slp(str(pred))
    tracked = {
        (lf.frame_idx, p.track.name)
        for lf in labels.labeled_frames
        for p in lf.predicted_instances
        if p.track is not None
    }
    assert {(int(r["frame_idx"]), r["track"]) for r in rows} == tracked
    nodes = labels.skeletons[0].node_names
    assert list(rows[0]) == ["video", "frame_idx", "track", *(f"{n}.uncertainty_px" for n in nodes)]
    values = np.array([[float(r[f"{n}.uncertainty_px"] or "nan") for n in nodes] for r in rows])
    assert np.isfinite(values).mean() > 0.5 and (values[np.isfinite(values)] > 0).all()

    assert main([*args, "--frames", "0:4", "-o", str(tmp_path / "raw.slp")]) == 0
    assert (tmp_path / "raw.uncertainty.csv").exists()  # the members' spread, unsmoothed

    many = ["predict", str(models), str(sample_paths.video), "--frames", "0:4"]
    many += ["--peak-threshold", "0.01", "--max-instances", "3", "--tracker", "simple"]
    assert main([*many, "--max-tracks", "3", "--workers", "0", "-o", str(tmp_path / "out")]) == 0
    rows = _rows(tmp_path / "out" / "sample.avi.predictions.uncertainty.csv")
    assert rows and {r["video"] for r in rows} == {"sample.avi"}

    assert (
        main(["train", str(sample_paths.project), "--out", str(tmp_path / "m"), "--ensemble", "11"])
        == 2
    )
    assert "ensemble_size: 11 is outside the range" in capsys.readouterr().err
