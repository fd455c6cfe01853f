"""The command line, run as a user would (in-process through ``main``)."""

from __future__ import annotations

import json

import pytest
import sleap_io as sio

from napari_sleap_train.cli import main
from napari_sleap_train.config import TrainingConfig

from ..conftest import tiny_config


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
        assert saved.model("centroid").optimization.batch_size == 2
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
    assert "frames/s" in out and "predicted 6 frames" in out  # frames 0-5, none labelled
    labels = sio.load_slp(str(pred))
    predicted = {lf.frame_idx for lf in labels.labeled_frames if lf.predicted_instances}
    assert predicted and predicted <= set(range(6))
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
    n_pred = sum(len(lf.predicted_instances) for lf in labels.labeled_frames)
    assert metrics["n_frames"] == 300 and metrics["instances_gt"] == 900  # 3 animals a frame
    assert metrics["instances_pred"] == n_pred and 1 <= metrics["instances_matched"] <= 18
    assert metrics["found_fraction"] == pytest.approx(metrics["instances_matched"] / 900)
    assert 0 <= metrics["oks_map"] <= 1 and 0 < metrics["dist_p50"] < 384


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


def test_suggest_keeps_the_input_unless_told(sample_paths, tmp_path, capsys):
    import shutil

    project = tmp_path / "project.slp"  # its video path is absolute, so a copy still finds it
    shutil.copy(sample_paths.project, project)
    before = project.read_bytes()
    out = tmp_path / "suggested.slp"
    args = ["suggest", str(project), "--method", "image-features", "--n", "5", "-o", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "video 0 (sample.avi): added 5 suggestions" in text
    assert f"41 suggestions in all -> {out}" in text
    assert project.read_bytes() == before
    assert not (tmp_path / "project.slp.bak").exists()
    labels = sio.load_slp(str(out), open_videos=False)
    assert len(labels.suggestions) == 41
    assert len(labels.user_labeled_frames) == 20 and len(labels.tracks) == 3
    labelled = {lf.frame_idx for lf in labels.user_labeled_frames}
    assert not labelled & {s.frame_idx for s in labels.suggestions}

    # -o naming the input saves in place and keeps the previous file as .bak
    args = ["suggest", str(project), "--method", "random", "--n", "4", "--seed", "1"]
    assert main([*args, "-o", str(project)]) == 0
    assert "previous file kept as project.slp.bak" in capsys.readouterr().out
    assert (tmp_path / "project.slp.bak").read_bytes() == before
    assert len(sio.load_slp(str(project), open_videos=False).suggestions) == 40

    # --include-labelled: every frame may be suggested, the labelled ones too
    everything = tmp_path / "all.slp"
    args = ["suggest", str(project), "--method", "stride", "--n", "1000", "--include-labelled"]
    assert main([*args, "-o", str(everything)]) == 0
    assert "added 260 suggestions - fewer than 1000" in capsys.readouterr().out
    frames = {s.frame_idx for s in sio.load_slp(str(everything), open_videos=False).suggestions}
    assert frames == set(range(300))


def test_suggest_then_export_predictions(tmp_path, capsys):
    import csv
    import shutil

    import h5py
    import numpy as np

    from ..conftest import require_data

    source = require_data("centered_pair_predictions.slp")
    moved = tmp_path / "preds.slp"  # away from its video: found through --video-dir
    shutil.copy(source, moved)
    low = tmp_path / "low.slp"
    args = ["suggest", str(moved), "--method", "low-score", "--n", "10", "-o", str(low)]
    assert main(args) == 2
    assert "was not found" in capsys.readouterr().err
    assert main([*args, "--video-dir", str(source.parent)]) == 0
    assert "added 10 suggestions" in capsys.readouterr().out

    labels = sio.load_slp(str(low), open_videos=False)
    means = {
        lf.frame_idx: np.mean([i.score for i in lf.predicted_instances])
        for lf in labels.labeled_frames
    }
    suggested = sorted(s.frame_idx for s in labels.suggestions)
    assert suggested == sorted(sorted(means, key=means.get)[:10])
    assert sum(len(lf.instances) for lf in labels.labeled_frames) == 2274

    h5, table, slp = tmp_path / "low.h5", tmp_path / "low.csv", tmp_path / "low_export.slp"
    for fmt, path in (("analysis-h5", h5), ("csv", table), ("slp", slp)):
        assert main(["export", str(low), "--format", fmt, "--predicted-only", "-o", str(path)]) == 0
        out = capsys.readouterr().out
        assert "exported 2274 instances in 1100 frames" in out and str(path) in out

    first = labels.labeled_frames[0]
    back = sio.load_analysis_h5(str(h5))
    got = {i.track.name: i.numpy() for i in back.labeled_frames[0].instances}
    for inst in first.instances:
        np.testing.assert_allclose(got[inst.track.name], inst.numpy())
    with h5py.File(h5, "r") as f:
        assert f["tracks"].shape == (27, 2, 24, 1100)
        assert f["labels_path"][()].decode() == str(low.resolve())
    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2274
    row = next(r for r in rows if r["frame_idx"] == str(first.frame_idx))
    inst = next(i for i in first.instances if i.track.name == row["track"])
    assert float(row["thorax.x"]) == inst.numpy()[2, 0]
    exported = sio.load_slp(str(slp), open_videos=False)
    assert sorted(s.frame_idx for s in exported.suggestions) == suggested
    assert sum(len(lf.instances) for lf in exported.labeled_frames) == 2274


def test_suggest_and_export_errors_are_one_line(sample_paths, tmp_path, capsys):
    import pytest

    from ..conftest import require_data

    cases = [
        (["suggest", str(sample_paths.project), "--method", "low-score", "--n", "3"], "predict"),
        (
            ["export", str(require_data("centered_pair_predictions.slp")), "--format", "csv"]
            + ["--user-only"],
            "no user-labelled instances",
        ),
        (
            ["export", str(sample_paths.project), "--format", "slp", "--predicted-only"],
            "no predicted instances",
        ),
        (["export", str(tmp_path / "none.slp"), "--format", "csv"], "does not exist"),
    ]
    for args, message in cases:
        assert main([*args, "-o", str(tmp_path / "out.x")]) == 2
        captured = capsys.readouterr()
        assert captured.err.startswith("error:") and message in captured.err
        assert len(captured.err.strip().splitlines()) == 1 and "Traceback" not in captured.err
    assert list(tmp_path.iterdir()) == []
    args = ["export", str(sample_paths.project), "--format", "slp", "-o"]
    assert main([*args, str(sample_paths.project)]) == 2
    assert "is the input file" in capsys.readouterr().err
    for bad in (["--method", "sharpest", "--n", "3"], ["--method", "random", "--n", "0"]):
        with pytest.raises(SystemExit) as info:
            main(["suggest", str(sample_paths.project), *bad, "-o", "x"])
        err = capsys.readouterr().err
        assert info.value.code == 2 and err.startswith("error:") and len(err.splitlines()) == 1
    assert "0 is too small: use 1 or more" in err


def _truth_as_predictions(sample_paths, path, stride: int = 1) -> None:
    """The sample's ground truth on every ``stride``-th frame as untracked predictions."""
    truth = sio.load_slp(str(sample_paths.ground_truth))
    video, skeleton = truth.videos[0], truth.skeletons[0]
    frames = [
        sio.LabeledFrame(
            video=video,
            frame_idx=lf.frame_idx,
            instances=[
                sio.PredictedInstance.from_numpy(u.numpy(), skeleton=skeleton, score=0.9)
                for u in lf.user_instances
            ],
        )
        for lf in truth.labeled_frames
        if lf.frame_idx % stride == 0
    ]
    sio.save_slp(sio.Labels(labeled_frames=frames, videos=[video], skeletons=[skeleton]), path)


@pytest.mark.parametrize("tracker,stride", [("simple", 1), ("flow", 1), ("simple", 15)])
def test_track_then_evaluate_identities(sample_paths, tmp_path, capsys, tracker, stride):
    source, out = tmp_path / "untracked.slp", tmp_path / "tracked.slp"
    _truth_as_predictions(sample_paths, source, stride)
    args = ["track", str(source), "--tracker", tracker, "--max-tracks", "3", "-o", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "into 3 tracks" in printed and "saved 3 tracks" in printed
    assert main(["evaluate", str(sample_paths.ground_truth), str(out), "--json"]) == 0
    identity = json.loads(capsys.readouterr().out)["identity"]
    assert identity["id_switches"] == 0 and identity["identity_correct_fraction"] == 1.0
    assert identity["tracks_pred"] == 3
    if stride == 1:  # the truth has every frame: skipped ones count as missed
        assert identity["idf1"] == pytest.approx(1.0)
    assert main(["evaluate", str(sample_paths.ground_truth), str(out)]) == 0
    assert "IDF1" in capsys.readouterr().out


def test_predict_with_a_tracker(sample_paths, tmp_path, capsys):
    from napari_sleap_train.io.project import load_project
    from napari_sleap_train.training.pipeline import pipeline_events

    models = tmp_path / "run"
    list(pipeline_events(load_project(sample_paths.project), tiny_config(1, 2), models))
    out = tmp_path / "pred.slp"
    args = ["predict", str(models), str(sample_paths.project), "--frames", "0:30"]
    args += ["--peak-threshold", "0.01", "--tracker", "simple", "--max-tracks", "3"]
    assert main([*args, "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Tracked" in printed
    labels = sio.load_slp(str(out))
    preds = [p for lf in labels.labeled_frames for p in lf.predicted_instances]
    assert preds
    names = {p.track.name for p in preds if p.track is not None}
    # The user-labelled tracks seed the tracker and max tracks holds.
    assert names and names <= {"animal_0", "animal_1", "animal_2"}
    assert main([*args, "--frames", "suggested", "-o", str(tmp_path / "s.slp")]) == 0
    assert "scattered" in capsys.readouterr().out


def test_predict_with_a_tracker_when_no_animal_is_found(sample_paths, tmp_path, capsys):
    from napari_sleap_train.io.project import load_project
    from napari_sleap_train.training.pipeline import pipeline_events

    models = tmp_path / "run"
    list(pipeline_events(load_project(sample_paths.project), tiny_config(1, 2), models))
    args = ["predict", str(models), str(sample_paths.project), "--frames", "0:10"]
    args += ["--peak-threshold", "0.99", "--tracker", "simple", "-o", str(tmp_path / "p.slp")]
    assert main(args) == 0  # not an error about tracking: there was nothing to track
    printed = capsys.readouterr().out
    assert "no animal was found, so nothing was tracked" in printed
    assert "predicted 10 frames, 0 instances" in printed


def test_evaluate_a_run_folder_on_its_held_out_frames(sample_paths, bottom_up_run, capsys):
    assert main(["evaluate", str(sample_paths.project), str(bottom_up_run), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["held_out"] is True
    assert metrics["n_frames"] == 2 and metrics["instances_gt"] == 6  # 10 % of 20 frames
    assert 0 <= metrics["oks_map"] <= 1 and "identity" in metrics
    assert main(["evaluate", str(sample_paths.project), str(bottom_up_run)]) == 0
    assert capsys.readouterr().out.startswith("Measured on the 2 labelled frames the run held")


def test_suggest_outliers_prints_why(tmp_path, capsys):
    from ..conftest import require_data

    source = require_data("centered_pair_predictions.slp")
    out = tmp_path / "outliers.slp"
    args = ["suggest", str(source), "--method", "outliers", "--n", "3", "-o", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    reasons = [line for line in text.splitlines() if line.startswith("  centered_pair")]
    assert len(reasons) == 3 and all("jumps" in r or "leaves its path" in r for r in reasons)
    assert "added 3 suggestions" in text
    assert len(sio.load_slp(str(out), open_videos=False).suggestions) == 3
