"""Bad input through the real command line, in a subprocess: a message that names what to
change, a non-zero exit, no traceback, and the user's files as they were."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sleap_io as sio

from .conftest import require_data, tiny_config

TIMEOUT = 300  # a freeze guard: each case takes seconds


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``napari-sleap-train ARGS`` in a child process."""
    command = [sys.executable, "-m", "napari_sleap_train.cli", *map(str, args)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        command, capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd, env=env
    )


def digest(folder: Path) -> dict[str, str]:
    """The content of every file under ``folder``, hashed."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def inputs(sample_paths, tmp_path_factory) -> Path:
    """The user's files: the sample, a truncated video and a project using it, bad configs."""
    root = tmp_path_factory.mktemp("inputs")
    for p in (sample_paths.video, sample_paths.project, sample_paths.ground_truth):
        shutil.copy2(p, root / p.name)
    video = require_data("centered_pair_low_quality.mp4")
    (root / "truncated.mp4").write_bytes(video.read_bytes()[:400_000])  # ~430 of 1100 frames
    (root / "empty.mp4").write_bytes(b"")
    (root / "text.mp4").write_text("this is not a video\n")
    labels = sio.load_slp(str(require_data("minimal_instance.slp")), open_videos=False)
    labels.labeled_frames[0].frame_idx = 1000  # past the end of the truncated copy
    labels.videos[0].replace_filename(str(root / "truncated.mp4"), open=False)
    sio.save_slp(labels, str(root / "truncated.slp"))
    predictions = sio.load_slp(str(require_data("centered_pair_predictions.slp")))
    predictions.videos[0].replace_filename(str(root / "moved_away.mp4"), open=False)
    sio.save_slp(predictions, str(root / "moved.slp"))  # its video is not there any more
    skeleton = sio.Skeleton(nodes=["a", "b"])
    video = sio.load_video(str(root / "sample.avi"))
    guess = sio.PredictedInstance.from_numpy(
        np.array([[10.0, 10.0], [20.0, 20.0]]),
        skeleton=skeleton,
        point_scores=np.ones(2),
        score=1.0,
    )
    other = sio.Labels(
        labeled_frames=[sio.LabeledFrame(video=video, frame_idx=13, instances=[guess])],
        videos=[video],
        skeletons=[skeleton],
    )
    sio.save_slp(other, str(root / "other_skeleton.slp"))
    no_edges = sio.load_slp(str(root / "sample.slp"))
    no_edges.skeletons[0].edges = []
    sio.save_slp(no_edges, str(root / "no_edges.slp"))
    for name, text in {
        "sigma_big.json": '{"centroid": {"sigma": "big"}}',
        "string.json": '"abc"',
        "epochs_fraction.json": '{"centroid": {"optimization": {"epochs": 2.5}}}',
        "list.json": "[]",
        "empty.json": "{}",
    }.items():
        (root / name).write_text(text)
    return root


@pytest.fixture(scope="module")
def models(inputs, tmp_path_factory) -> Path:
    """Tiny models trained once on the sample, and broken copies of their folders."""
    from napari_sleap_train.io.project import load_project
    from napari_sleap_train.training.pipeline import pipeline_events

    out = tmp_path_factory.mktemp("models") / "run"
    list(pipeline_events(load_project(inputs / "sample.slp"), tiny_config(1, 2), out))
    for name, info in {"info_empty": "{}", "info_types": None}.items():
        broken = out.parent / name
        shutil.copytree(out, broken)
        data = json.loads((broken / "centroid" / "model_info.json").read_text())
        data["n_maps"] = "one"
        text = info if info is not None else json.dumps(data)
        (broken / "centroid" / "model_info.json").write_text(text)
    half = out.parent / "half"
    shutil.copytree(out, half)
    shutil.rmtree(half / "centered_instance")
    return out


def expect_refusal(result, *words: str, code: int = 2) -> None:
    text = result.stdout + result.stderr
    assert result.returncode == code, text
    assert "Traceback" not in text, text
    for word in words:
        assert word in text, (word, text)


CASES = {
    # name: (arguments, words the message must hold); {i} inputs, {m} models, {o} outputs
    "missing video": ("predict {m} {i}/missing.mp4 --frames 0:2 -o {o}/p.slp", ["missing.mp4"]),
    "empty video": ("predict {m} {i}/empty.mp4 -o {o}/p.slp", ["empty.mp4", "not a video"]),
    "text as video": ("predict {m} {i}/text.mp4 -o {o}/p.slp", ["text.mp4", "not a video"]),
    "truncated video, train": (
        "train {i}/truncated.slp --out {o}/run --epochs 1",
        ["Frame 1000", "truncated", "complete copy"],
    ),
    "truncated video, predict": (
        "predict {m} {i}/truncated.mp4 --frames 1000 -o {o}/p.slp",
        ["Frame 1000 is outside the video"],
    ),
    "config: a word for a number": (
        "train {i}/sample.slp --out {o}/run --config {i}/sigma_big.json",
        ["models.centroid.sigma", "'big' is not a number"],
    ),
    "config: a string": (
        "train {i}/sample.slp --out {o}/run --config {i}/string.json",
        ["must hold a set of settings"],
    ),
    "config: a fraction of an epoch": (
        "train {i}/sample.slp --out {o}/run --config {i}/epochs_fraction.json",
        ["models.centroid.optimization.epochs", "2.5 is not a whole number"],
    ),
    "config: a list": (
        "export-job {i}/sample.slp -o {o}/job.zip --config {i}/list.json",
        ["must hold a set of settings"],
    ),
    "predict: batch size 0": (
        "predict {m} {i}/sample.slp --batch-size 0 -o {o}/p.slp",
        ["--batch-size", "use 1 or more"],
    ),
    "predict: no instances": (
        "predict {m} {i}/sample.slp --max-instances 0 -o {o}/p.slp",
        ["--max-instances", "use 1 or more"],
    ),
    "predict: threshold above 1": (
        "predict {m} {i}/sample.slp --peak-threshold 2 -o {o}/p.slp",
        ["--peak-threshold", "outside (0, 1)"],
    ),
    "model info: empty": (
        "predict {m}/../info_empty {i}/sample.slp -o {o}/p.slp",
        ["model_info.json lacks 'kind'", "Train again"],
    ),
    "model info: wrong types": (
        "predict {m}/../info_types {i}/sample.slp -o {o}/p.slp",
        ["model_info.json holds a value of the wrong kind"],
    ),
    "model folder without its second model": (
        "predict {m}/../half {i}/sample.slp -o {o}/p.slp",
        ["no trained centered_instance model", "--resume"],
    ),
    "evaluate: other skeletons": (
        "evaluate {i}/sample_ground_truth.slp {i}/other_skeleton.slp",
        ["No node of the predictions' skeleton"],
    ),
    "evaluate: no user labels": (
        "evaluate {i}/moved.slp {i}/moved.slp",
        ["no user-labelled instances", "--truth-from-predictions"],
    ),
    "export into a missing folder": (
        "export {i}/sample.slp --format slp -o {o}/none/x.slp",
        ["none/x.slp", "does not exist"],
    ),
    "suggest into an unwritable folder": (
        "suggest {i}/sample.slp --method random --n 2 -o /proc/napari-sleap-train.slp",
        ["Cannot write /proc/napari-sleap-train.slp"],
    ),
    "export-job into a missing folder": (
        "export-job {i}/sample.slp -o {o}/none/job.zip",
        ["none/job.zip", "does not exist"],
    ),
    "predict into a missing folder": (
        "predict {m} {i}/sample.slp -o {o}/none/p.slp",
        ["none/p.slp", "does not exist"],
    ),
    "track: max tracks 0": (
        "track {i}/moved.slp --max-tracks 0 -o {o}/t.slp",
        ["--max-tracks", "use 1 or more"],
    ),
    "track: window 0": (
        "track {i}/moved.slp --track-window 0 -o {o}/t.slp",
        ["--track-window", "use 1 or more"],
    ),
    "track: no predictions": (
        "track {i}/sample.slp -o {o}/t.slp",
        ["no predicted instances to track", "predict first"],
    ),
    "track: scattered frames": (
        "track {i}/moved.slp --frames 1,5,9 -o {o}/t.slp",
        ["--frames", "range A:B", "consecutive"],
    ),
    "track: flow without the video": (
        "track {i}/moved.slp --tracker flow -o {o}/t.slp",
        ["moved_away.mp4"],
    ),
    "predict: max tracks 0": (
        "predict {m} {i}/sample.slp --tracker simple --max-tracks 0 -o {o}/p.slp",
        ["--max-tracks", "use 1 or more"],
    ),
    "crop smaller than the animals": (
        "train {i}/sample.slp --out {o}/run --crop-size 32 --epochs 1",
        ["Crop size 32 px is smaller than the animals", "auto crop size"],
    ),
    "bottom-up with a skeleton without edges": (
        "train {i}/no_edges.slp --out {o}/run --pipeline bottom-up --epochs 1",
        ["part affinity fields need edges", "Add edges", "top-down"],
    ),
    "single instance on frames with several animals": (
        "train {i}/sample.slp --out {o}/run --pipeline single-instance --epochs 1",
        ["single-instance pipeline finds one animal", "video 0 frame", "top-down"],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_refused_with_a_message(name, inputs, models, tmp_path):
    args, words = CASES[name]
    before = digest(inputs)
    command = args.format(i=inputs, m=models, o=tmp_path).split()
    result = cli(*command)
    expect_refusal(result, *words)
    assert ".tmp-" not in result.stderr  # the message names the target, not a temporary
    assert digest(inputs) == before
    assert not (tmp_path / "run").exists()  # refused before any training began
    if name.startswith("predict"):
        assert "predicted" not in result.stdout  # refused before predicting


def test_evaluate_needs_no_videos_and_a_bare_video_is_predicted_whole(inputs, models, tmp_path):
    result = cli("evaluate", inputs / "moved.slp", inputs / "moved.slp", "--truth-from-predictions")
    assert result.returncode == 0 and "OKS mAP" in result.stdout, result.stderr
    video = tmp_path / "clip.avi"  # the first 12 frames of the sample as a bare video
    import cv2

    from napari_sleap_train.io.video import LazyVideo

    frames = LazyVideo(inputs / "sample.avi")
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"FFV1"), 30, (384, 384), False)
    for f in range(12):
        writer.write(frames.frame(f)[..., 0])
    writer.release()
    result = cli("predict", models, video, "-o", tmp_path / "p.slp", "--peak-threshold", "0.01")
    assert result.returncode == 0, result.stderr
    assert "frames: every frame (there are no suggestions)" in result.stdout
    predicted = sio.load_slp(str(tmp_path / "p.slp"), open_videos=False)
    assert sorted(lf.frame_idx for lf in predicted.labeled_frames) == list(range(12))


def test_an_empty_config_means_this_machines_defaults(inputs, tmp_path):
    from napari_sleap_train.config import default_config
    from napari_sleap_train.io.jobs import open_job

    result = cli(
        "export-job",
        inputs / "sample.slp",
        "-o",
        tmp_path / "job.zip",
        "--config",
        inputs / "empty.json",
    )
    assert result.returncode == 0, result.stderr
    assert "leaves 101 settings out; they take this machine's defaults" in result.stdout
    _, config = open_job(tmp_path / "job.zip", tmp_path / "unpacked")
    assert config == default_config()


def test_an_interrupted_run_says_how_to_go_on_and_resumes(inputs, tmp_path):
    config = tiny_config(epochs=3, batches=30)
    config.save(tmp_path / "config.json")
    run = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "napari_sleap_train.cli",
        "train",
        str(inputs / "sample.slp"),
        "--out",
        str(run),
        "--config",
        str(tmp_path / "config.json"),
    ]
    child = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    for line in child.stdout:  # the first epoch of the centroid model ended
        if "[centroid] epoch 1:" in line:
            child.send_signal(signal.SIGINT)
            break
    out, err = child.communicate(timeout=TIMEOUT)
    assert child.returncode == 130, err
    assert "Traceback" not in out + err
    assert f"Train it with: napari-sleap-train train {inputs / 'sample.slp'} --resume {run}" in err
    record = json.loads((run / "run.json").read_text())
    assert record["models"]["centroid"]["status"] == "stopped"
    assert record["models"]["centered_instance"]["status"] == "pending"

    refused = cli("predict", run, inputs / "sample.slp", "-o", tmp_path / "p.slp")
    expect_refusal(refused, "no trained centered_instance model", "--resume")

    alone = tmp_path / "alone"  # the missing model alone, next to the finished one
    shutil.copytree(run / "centroid", alone / "centroid")
    result = cli(
        "train",
        inputs / "sample.slp",
        "--only",
        "centered-instance",
        "--centroid",
        alone / "centroid",
        "--config",
        tmp_path / "config.json",
    )
    assert result.returncode == 0, result.stderr
    assert (alone / "centered_instance" / "best.pt").exists()

    resumed = cli("train", inputs / "sample.slp", "--resume", run)
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming at epoch" in resumed.stdout
    log = (run / "centroid" / "training_log.csv").read_text().splitlines()[1:]
    epochs = [int(float(line.split(",")[0])) for line in log]
    assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) > 1  # went on, not anew
    record = json.loads((run / "run.json").read_text())
    assert {m["status"] for m in record["models"].values()} == {"finished"}
    assert cli("predict", run, inputs / "sample.slp", "-o", tmp_path / "p.slp").returncode == 0
    again = cli("train", inputs / "sample.slp", "--resume", run)
    assert again.returncode == 0 and "nothing to resume" in again.stdout, again.stderr


def test_a_job_leaves_no_temporary_folder(inputs, tmp_path):
    job = tmp_path / "job.zip"
    config = tiny_config(epochs=1, batches=1)
    config.save(tmp_path / "c.json")
    assert (
        cli(
            "export-job", inputs / "sample.slp", "-o", job, "--config", tmp_path / "c.json"
        ).returncode
        == 0
    )
    temp = tmp_path / "tmp"
    temp.mkdir()
    env_tmp = {**os.environ, "TMPDIR": str(temp)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "napari_sleap_train.cli",
            "train",
            str(job),
            "--out",
            str(tmp_path / "models"),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env_tmp,
    )
    assert result.returncode == 0, result.stderr
    assert not [p for p in temp.iterdir() if p.name.startswith("napari-sleap-train-job-")]
