"""Training job packages and data-parallel training through torchrun (two CPU processes)."""

from __future__ import annotations

import csv
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import sleap_io as sio

from napari_sleap_train.choices import FrameTarget
from napari_sleap_train.cli import main
from napari_sleap_train.config import TrainingConfig
from napari_sleap_train.errors import DataError
from napari_sleap_train.io.jobs import JobError, export_job, open_job
from napari_sleap_train.io.project import Project, load_project

from ..conftest import tiny_config


@pytest.fixture(scope="module")
def job(sample_paths, tmp_path_factory):
    out = tmp_path_factory.mktemp("job") / "sample_job.zip"
    config = tiny_config(epochs=4, batches=3)
    export_job(load_project(sample_paths.project), config, out)
    return out


def test_job_holds_embedded_frames_config_and_command(job, sample_paths, tmp_path):
    with zipfile.ZipFile(job) as zf:
        assert set(zf.namelist()) == {"labels.pkg.slp", "training_config.json", "README.txt"}
        readme = zf.read("README.txt").decode()
    assert "torchrun --nproc_per_node=N -m napari_sleap_train train sample_job.zip" in readme
    project, config = open_job(job, tmp_path)
    assert config == tiny_config(epochs=4, batches=3)
    original = load_project(sample_paths.project)
    assert len(project.user_frames()) == len(original.user_frames()) == 20
    assert not project.labels.suggestions and not any(
        lf.predicted_instances for lf in project.labels.labeled_frames
    )
    # The images travel inside the file: equal to the video's frames, no video needed.
    video = project.videos[0]
    assert str(video.filename).endswith("labels.pkg.slp")
    lf = project.user_frames()[0]
    np.testing.assert_array_equal(
        np.asarray(video[lf.frame_idx]).squeeze(),
        np.asarray(original.videos[0][lf.frame_idx]).squeeze(),
    )


def test_bad_jobs_are_clear_errors(sample_paths, tmp_path):
    with pytest.raises(JobError, match="does not exist"):
        open_job(tmp_path / "none.zip")
    (tmp_path / "bad.zip").write_text("not a zip")
    with pytest.raises(JobError, match="not a zip file"):
        open_job(tmp_path / "bad.zip")
    with zipfile.ZipFile(tmp_path / "half.zip", "w") as zf:
        zf.writestr("training_config.json", "{}")
    with pytest.raises(JobError, match="missing labels.pkg.slp"):
        open_job(tmp_path / "half.zip")
    project = load_project(sample_paths.project)
    with pytest.raises(JobError, match=r"\.zip"):
        export_job(project, TrainingConfig(), tmp_path / "job.tar")
    empty = Project(sio.Labels(videos=project.labels.videos, skeletons=project.labels.skeletons))
    with pytest.raises(DataError, match="label some frames"):
        export_job(empty, TrainingConfig(), tmp_path / "empty.zip")
    assert not (tmp_path / "empty.zip").exists()


def test_cli_export_job(sample_paths, tmp_path, capsys):
    out = tmp_path / "job.zip"
    assert main(["export-job", str(sample_paths.project), "-o", str(out), "--epochs", "3"]) == 0
    assert "torchrun --nproc_per_node=N" in capsys.readouterr().out
    _, config = open_job(out, tmp_path / "x")
    assert config.model("centroid").optimization.epochs == 3


def _log(folder):
    with open(folder / "training_log.csv") as f:
        return list(csv.DictReader(f))


def test_torchrun_two_cpu_processes_train_the_job(job, tmp_path, make_napari_viewer, qtbot):
    out = tmp_path / "models"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["-m", "napari_sleap_train", "train", str(job), "--out", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    # Only rank 0 reports and writes: each line once, each epoch logged once.
    assert res.stdout.count("[centroid] completed after 4 epochs") == 1
    assert "Data-parallel training: 2 processes" in res.stdout
    for kind in ("centroid", "centered_instance"):
        rows = _log(out / kind)
        assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
        assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
        assert (out / kind / "best.pt").exists() and (out / kind / "last.pt").exists()
        assert not list((out / kind).glob(".*"))  # no temporary files left behind

    # The models trained elsewhere predict in the dock.
    viewer = make_napari_viewer()
    project, _ = open_job(job, tmp_path / "unpacked")
    viewer.open(str(tmp_path / "unpacked" / "labels.pkg.slp"), plugin="napari-sleap-train")
    _, dock = viewer.window.add_plugin_dock_widget("napari-sleap-train", "Run Training…")
    dock.runs.add_run(out)
    dock.runs.runs.setCurrentRow(dock.runs.runs.count() - 1)
    dock.settings.form.widgets["predict_on"].value = FrameTarget.LABELED
    dock.settings.form.widgets["peak_threshold"].value = 0.01
    dock.runs.predict_button.click()
    qtbot.waitUntil(
        lambda: not dock.runner.busy and "Predicted" in dock.runner.status.text(), timeout=60000
    )
    layer = next(layer for layer in viewer.layers if layer.name.endswith(" predictions"))
    assert len(layer.data) > 0
    labelled = {lf.frame_idx for lf in project.user_frames()}
    assert set(np.rint(layer.data[:, 0]).astype(int)) <= labelled


def test_dock_exports_a_job(make_napari_viewer, sample_paths, tmp_path, qtbot):
    viewer = make_napari_viewer()
    viewer.open(str(sample_paths.project), plugin="napari-sleap-train")
    _, dock = viewer.window.add_plugin_dock_widget("napari-sleap-train", "Run Training…")
    dock.settings.form.widgets["centroid.epochs"].value = 7
    worker = dock.export_job(tmp_path / "from_dock.zip")
    qtbot.waitUntil(lambda: "Training job written" in dock.runner.status.text(), timeout=30000)
    assert worker is not None
    project, config = open_job(tmp_path / "from_dock.zip", tmp_path / "x")
    assert config.model("centroid").optimization.epochs == 7
    assert len(project.user_frames()) == 20


def test_id_jobs_keep_the_tracks_and_torchrun_trains_bottom_up_id(sample_paths, tmp_path):
    from napari_sleap_train.data.checks import identity_classes
    from napari_sleap_train.data.labelled import load_labelled_data
    from napari_sleap_train.models.folder import ModelFolder

    config = tiny_config(epochs=2, batches=2).for_pipeline("bottom-up-id")
    config.model("bottom_up_id").input_scaling = 0.5
    job = tmp_path / "id_job.zip"
    export_job(load_project(sample_paths.project), config, job)
    project, unpacked = open_job(job, tmp_path / "unpacked")
    assert unpacked == config
    names, _ = identity_classes(load_labelled_data(project))
    assert names == ["animal_0", "animal_1", "animal_2"]

    out = tmp_path / "models"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["-m", "napari_sleap_train", "train", str(job), "--out", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Data-parallel training: 2 processes" in res.stdout
    rows = _log(out / "bottom_up_id")
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert all(0 <= float(r["val_identity_accuracy"]) <= 1 for r in rows)
    assert ModelFolder(out / "bottom_up_id").read_info().class_names == names
