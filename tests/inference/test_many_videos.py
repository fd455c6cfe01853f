"""Predicting many videos: one output per video, a summary, videos already predicted
skipped, a video failing half-way named while the others finish, and the same on a local
two-worker Dask cluster."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
import sleap_io as sio

from napari_sleap_train.cli import main
from napari_sleap_train.io.video import LazyVideo

FRAMES = "0:6"


@pytest.fixture(scope="module")
def inputs(sample_paths, tmp_path_factory):
    """The sample's video twice (under two names) and a project whose image-folder video
    has an unreadable image half-way."""
    root = tmp_path_factory.mktemp("many")
    first = root / "first.mp4"
    shutil.copy(sample_paths.video, first)
    second = root / "videos" / "second.mp4"
    second.parent.mkdir()
    shutil.copy(sample_paths.video, second)
    images = root / "images"
    images.mkdir()
    video = LazyVideo(str(sample_paths.video))
    for f in range(6):
        cv2.imwrite(str(images / f"img{f:03d}.png"), np.asarray(video.frame(f))[..., 0])
    (images / "img003.png").write_bytes(b"not an image")
    broken = root / "broken.slp"
    sio.save_slp(sio.Labels(videos=[sio.load_video(str(images))]), str(broken))
    return first, second.parent, broken


def _summary(folder) -> dict:
    return json.loads((folder / "summary.json").read_text())


def _points(path) -> np.ndarray:
    labels = sio.load_slp(str(path))
    return np.stack([lf.instances[0].numpy() for lf in sorted(labels, key=lambda x: x.frame_idx)])


def test_many_videos_one_output_each_a_summary_and_a_failure_named(
    bottom_up_run, inputs, sample_paths, tmp_path, capsys
):
    first, folder, broken = inputs
    out = tmp_path / "out"
    args = ["predict", str(bottom_up_run), str(first), str(folder), str(broken), "-o", str(out)]
    code = main([*args, "--frames", FRAMES, "--workers", "2", "--device", "cpu"])
    printed = capsys.readouterr().out
    assert code == 1, printed  # one video failed
    summary = _summary(out)
    status = {row["video"]: row["status"] for row in summary["videos"]}
    assert status == {"first.mp4": "predicted", "second.mp4": "predicted", "images": "failed"}
    failed = next(r for r in summary["videos"] if r["status"] == "failed")
    assert "img003.png" in failed["error"] and "failed: images" in printed
    assert summary["predicted"] == 2 and summary["frames"] == 12
    assert not list(out.glob("images*"))  # nothing half-written for the failed video
    # the same poses as predicting the one video on its own, decoded in this process
    one = tmp_path / "one.slp"
    assert (
        main(
            [
                "predict",
                str(bottom_up_run),
                str(first),
                "-o",
                str(one),
                "--frames",
                FRAMES,
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    expected = _points(one)
    for name in ("first.mp4", "second.mp4"):
        np.testing.assert_allclose(_points(out / f"{name}.predictions.slp"), expected, atol=1e-4)

    # again: the videos already predicted are skipped, only the failed one is tried
    before = (out / "first.mp4.predictions.slp").stat().st_mtime_ns
    assert main([*args, "--frames", FRAMES, "--workers", "1", "--device", "cpu"]) == 1
    assert "2 skipped" in capsys.readouterr().out
    assert (out / "first.mp4.predictions.slp").stat().st_mtime_ns == before
    assert _summary(out)["skipped"] == 2


def test_a_local_dask_cluster_predicts_each_video_on_a_worker(bottom_up_run, inputs, tmp_path):
    first, folder, _ = inputs
    out = tmp_path / "cluster"
    code = main(
        [
            "predict",
            str(bottom_up_run),
            str(first),
            str(folder),
            "-o",
            str(out),
            "--frames",
            FRAMES,
            "--cluster",
            "local:2",
            "--device",
            "cpu",
            "--tracker",
            "simple",
        ]
    )
    assert code == 0
    summary = _summary(out)
    assert summary["predicted"] == 2 and summary["failed"] == 0
    labels = sio.load_slp(str(out / "second.mp4.predictions.slp"))
    assert len(labels.labeled_frames) == 6 and labels.tracks  # predicted and tracked


def test_an_unreachable_cluster_says_so_and_writes_nothing(
    bottom_up_run, inputs, tmp_path, capsys, monkeypatch
):
    from napari_sleap_train.inference import cluster

    monkeypatch.setattr(cluster, "CONNECT_SECONDS", 2)
    out = tmp_path / "nowhere"
    code = main(
        [
            "predict",
            str(bottom_up_run),
            str(inputs[0]),
            "-o",
            str(out),
            "--cluster",
            "tcp://127.0.0.1:9",
        ]
    )
    assert code == 2
    assert "Could not reach the cluster" in capsys.readouterr().err
    assert not out.exists()


def test_several_inputs_need_an_output_folder(bottom_up_run, inputs, tmp_path, capsys):
    first, folder, _ = inputs
    code = main(
        ["predict", str(bottom_up_run), str(first), str(folder), "-o", str(tmp_path / "x.slp")]
    )
    assert code == 2 and "give a folder instead" in capsys.readouterr().err


def test_a_scheduler_cluster_without_its_settings_names_the_file_to_set():
    pytest.importorskip("dask_jobqueue")
    from napari_sleap_train.errors import ClusterError
    from napari_sleap_train.inference.cluster import connect

    with pytest.raises(ClusterError, match="jobqueue.yaml"):
        connect("slurm:1")
