"""Real (tiny) training runs on the built-in sample project."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
import sleap_io as sio
import torch

from napari_sleap_train.data.labelled import load_labelled_data
from napari_sleap_train.errors import DataError, ModelFolderError, TrainingError
from napari_sleap_train.io.project import Project, load_project
from napari_sleap_train.models.folder import ModelFolder, build_model
from napari_sleap_train.training import (
    BatchEnded,
    EpochEnded,
    StopToken,
    TrainingFinished,
    TrainingStarted,
    train_events,
    train_model,
)

from ..conftest import tiny_config


@pytest.fixture(scope="module")
def project(sample_paths) -> Project:
    return load_project(sample_paths.project)


@pytest.fixture(scope="module")
def data(project):
    return load_labelled_data(project)


def run(kind, data, cfg, folder, **kwargs):
    events = list(train_events(kind, None, cfg, folder, data=data, **kwargs))
    return events, events[-1]


def test_events_in_order_and_model_folder_complete(data, tmp_path):
    events, done = run("centroid", data, tiny_config(), tmp_path / "c")
    assert isinstance(events[0], TrainingStarted)
    assert isinstance(done, TrainingFinished) and done.reason == "completed"
    batches = [e for e in events if isinstance(e, BatchEnded)]
    epochs = [e for e in events if isinstance(e, EpochEnded)]
    assert len(batches) == 8 and len(epochs) == 2
    assert [e.epoch for e in epochs] == [0, 1]
    files = {p.name for p in (tmp_path / "c").iterdir()}
    assert {
        "training_config.json",
        "model_info.json",
        "best.pt",
        "last.pt",
        "training_log.csv",
    } <= files
    assert [r["epoch"] for r in ModelFolder(tmp_path / "c").read_log()] == [1, 2]
    assert not [f for f in files if f.startswith(".")]


@pytest.mark.parametrize("kind", ["centroid", "centered_instance"])
def test_loss_falls_on_the_sample(data, tmp_path, kind):
    # 64 steps: with 32, how far the centroid loss falls depends on the seed (0.67-0.97).
    cfg = tiny_config(epochs=8, batches=8, lr=3e-3)
    events, done = run(kind, data, cfg, tmp_path / kind)
    val = [e.val_loss for e in events if isinstance(e, EpochEnded)]
    train = [e.loss for e in events if isinstance(e, BatchEnded)]
    # The instance model first learns to output empty maps; its fall is slower.
    assert val[-1] < val[0] * (0.8 if kind == "centroid" else 0.995), val
    assert np.mean(train[-4:]) < np.mean(train[:4]), train


def test_early_stopping_fires_on_a_plateau(data, tmp_path):
    cfg = tiny_config(epochs=50, batches=2, lr=1e-12)
    opt = cfg.model("centroid").optimization
    opt.early_stopping_patience, opt.early_stopping_min_delta = 2, 1.0
    events, done = run("centroid", data, cfg, tmp_path / "c")
    assert done.reason == "early stopped"
    assert done.epochs == 3 and done.best_epoch == 1


def test_stop_is_honoured_quickly_and_keeps_a_loadable_model(data, tmp_path):
    cfg = tiny_config(epochs=1000, batches=1000)
    stop = StopToken()
    result: dict = {}

    def worker():
        for event in train_events(
            "centered_instance", None, cfg, tmp_path / "i", data=data, stop=stop
        ):
            if isinstance(event, BatchEnded) and event.batch == 2 and "asked" not in result:
                result["asked"] = time.perf_counter()
                stop.request()
            if isinstance(event, TrainingFinished):
                result["done"] = time.perf_counter()
                result["event"] = event

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert result["event"].reason == "stopped by user"
    assert result["done"] - result["asked"] < 30  # a freeze guard: it stops within a batch
    model, info = ModelFolder(tmp_path / "i").load_model()
    assert info.kind == "centered_instance"


def test_reloaded_checkpoint_is_the_trained_best_model(data, tmp_path):
    cfg = tiny_config(epochs=1, batches=2)  # one epoch: the best model is the last one
    events, done = run("centroid", data, cfg, tmp_path / "c")
    folder = ModelFolder(tmp_path / "c")
    model, info = folder.load_model()
    assert done.best_epoch == info.best_epoch == 1
    # last.pt holds the weights the training loop ended with, saved in the same epoch
    trained = torch.load(folder.last, weights_only=True)["model"]
    loaded = model.state_dict()
    assert set(trained) == set(loaded)
    assert all(torch.equal(trained[k].cpu(), loaded[k].cpu()) for k in trained)
    fresh = build_model(info).eval()  # and the weights make the outputs, not the defaults
    x = torch.rand(2, 1, *info.input_hw)
    with torch.no_grad():
        assert not torch.equal(model(x), fresh(x))
        fresh.load_state_dict(trained)
        assert torch.equal(model(x), fresh(x))


def test_training_is_seeded_and_reproducible(data, tmp_path):
    cfg = tiny_config(epochs=1, batches=3)
    a = [e.loss for e in run("centroid", data, cfg, tmp_path / "a")[0] if isinstance(e, BatchEnded)]
    b = [e.loss for e in run("centroid", data, cfg, tmp_path / "b")[0] if isinstance(e, BatchEnded)]
    assert a == b


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_a_pickled_object_in_best_pt_is_refused(data, tmp_path):
    run("centroid", data, tiny_config(epochs=1, batches=1), tmp_path / "c")
    with open(ModelFolder(tmp_path / "c").best, "wb") as fh:
        pickle.dump({"weights": _Evil()}, fh)
    with pytest.raises(ModelFolderError, match="could not be loaded safely"):
        ModelFolder(tmp_path / "c").load_model()


def test_resume_continues_and_fine_tune_starts_from_weights(data, tmp_path):
    cfg = tiny_config(epochs=2, batches=2)
    run("centroid", data, cfg, tmp_path / "c")
    cfg.model("centroid").optimization.epochs = 3
    events, done = run("centroid", data, cfg, tmp_path / "c", resume=True)
    epochs = [e.epoch for e in events if isinstance(e, EpochEnded)]
    assert epochs == [2] and done.epochs == 3
    assert [r["epoch"] for r in ModelFolder(tmp_path / "c").read_log()] == [1, 2, 3]
    events, _ = run(
        "centroid",
        data,
        tiny_config(epochs=1, batches=1),
        tmp_path / "ft",
        init_weights=tmp_path / "c",
    )
    assert any("Starting from" in n for n in events[0].notes)


def test_fine_tune_from_another_architecture_is_refused(data, tmp_path):
    run("centroid", data, tiny_config(epochs=1, batches=1), tmp_path / "c")
    cfg = tiny_config(epochs=1, batches=1)
    cfg.model("centroid").backbone.filters = 4
    with pytest.raises(TrainingError, match="another architecture"):
        run("centroid", data, cfg, tmp_path / "x", init_weights=tmp_path / "c")


def _strip(project: Project, keep_visible: bool) -> Project:
    labels = sio.load_slp(str(project.path))
    for lf in labels.labeled_frames:
        if keep_visible:
            lf.instances = []
        else:
            for inst in lf.instances:
                inst.points["visible"] = False
    return Project(labels=labels, path=project.path)


def test_no_labelled_instances_is_a_clear_error(project):
    with pytest.raises(DataError, match="no user-labelled instances"):
        load_labelled_data(_strip(project, keep_visible=True))


def test_every_node_invisible_is_a_clear_error(project):
    with pytest.raises(DataError, match="invisible"):
        load_labelled_data(_strip(project, keep_visible=False))


def test_crop_smaller_than_the_animals_names_the_auto_value(data, tmp_path):
    cfg = tiny_config(epochs=1, batches=1)
    cfg.model("centered_instance").crop_size = 16
    with pytest.raises(DataError, match=r"smaller than the animals.*auto crop size \(\d+ px"):
        run("centered_instance", data, cfg, tmp_path / "i")


def test_batch_larger_than_the_data_is_clamped_with_a_note(data, tmp_path):
    cfg = tiny_config(epochs=1, batches=1)
    cfg.model("centroid").optimization.batch_size = 500
    events, done = run("centroid", data, cfg, tmp_path / "c")
    assert events[0].batch_size == events[0].n_train < 500
    assert any("larger than the training set" in n for n in events[0].notes)


def test_unwritable_output_fails_before_training(data, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(TrainingError, match="Cannot write to the output folder"):
        next(train_events("centroid", None, tiny_config(), blocker / "models", data=data))


def test_out_of_memory_becomes_a_hint(sample_paths, tmp_path):
    """A real allocation failure under an address-space limit, in a child process."""
    script = textwrap.dedent(f"""
        import resource, sys
        from napari_sleap_train.config import TrainingConfig
        from napari_sleap_train.errors import TrainingError
        from napari_sleap_train.project import load_project
        from napari_sleap_train.training import train_model
        cfg = TrainingConfig(device="cpu")
        cfg.model("centroid").input_scaling = 1.0
        cfg.model("centroid").optimization.batch_size = 20
        cfg.model("centroid").backbone.filters = 64
        project = load_project({str(sample_paths.project)!r})
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        import psutil
        used = psutil.Process().memory_info().vms
        resource.setrlimit(resource.RLIMIT_AS, (used + 2 * 1024**3, hard))
        try:
            train_model("centroid", project, cfg, {str(tmp_path / "c")!r})
        except TrainingError as exc:
            print(exc)
            sys.exit(3)
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "Out of memory" in proc.stdout and "Lower Batch Size" in proc.stdout


def test_train_model_runs_to_the_end_with_a_callback(project, tmp_path):
    seen = []
    done = train_model(
        "centroid", project, tiny_config(epochs=1, batches=2), tmp_path / "c", callback=seen.append
    )
    assert done.reason == "completed" and isinstance(seen[-1], TrainingFinished)
