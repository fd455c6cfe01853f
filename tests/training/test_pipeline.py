"""Both models in turn: time budget, the offer after a user's Stop, live previews, presets."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from napari_sleap_train.config import (
    ConfigError,
    TrainingConfig,
    default_config,
    default_preset,
    preset,
)
from napari_sleap_train.inference.results import TemporaryPredictions
from napari_sleap_train.inference.topdown import FramePrediction
from napari_sleap_train.io.project import load_project
from napari_sleap_train.models.folder import ModelFolder
from napari_sleap_train.training import (
    BatchEnded,
    EpochEnded,
    NextModelOffered,
    PreviewPredicted,
    StopToken,
    TrainingFinished,
    TrainingStarted,
)
from napari_sleap_train.training.pipeline import pipeline_events
from napari_sleap_train.training.schedule import cosine_lr

from ..conftest import tiny_config


@pytest.fixture(scope="module")
def project(sample_paths):
    return load_project(sample_paths.project)


def test_presets():
    sleap, fast = preset("sleap"), preset("fast-cpu")
    assert sleap == TrainingConfig()
    assert fast.pipeline.time_budget_minutes == 10
    assert fast.model("centroid").optimization.schedule == "cosine"
    assert fast.model("centered_instance").optimization.learning_rate == 1e-3
    assert fast.model("centroid").backbone == sleap.model("centroid").backbone  # same networks
    assert default_config() == (sleap if torch.cuda.is_available() else fast)
    with pytest.raises(ConfigError, match="unknown"):
        preset("turbo")
    bad = TrainingConfig()
    bad.pipeline.time_budget_minutes = -1
    bad.model("centroid").optimization.schedule = "linear"
    assert set(bad.problems()) == {
        "pipeline.time_budget_minutes",
        "models.centroid.optimization.schedule",
    }


@pytest.mark.parametrize("gpu", [False, True])
def test_the_machine_picks_its_preset(monkeypatch, gpu):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    mps = getattr(torch.backends, "mps", None)
    if mps is not None:
        monkeypatch.setattr(mps, "is_available", lambda: False)
    assert default_preset() == ("sleap" if gpu else "fast-cpu")
    assert default_config() == preset("sleap" if gpu else "fast-cpu")


def test_cosine_schedule_warms_up_then_decays():
    assert cosine_lr(1e-3, 0) == pytest.approx(1e-4)
    assert cosine_lr(1e-3, 0.03) == pytest.approx(1e-3)
    values = [cosine_lr(1e-3, p) for p in np.linspace(0.03, 1, 50)]
    assert all(a >= b for a, b in zip(values, values[1:]))
    assert cosine_lr(1e-3, 1.0) == pytest.approx(2e-5) and cosine_lr(1e-3, 5) == values[-1]


def test_cosine_run_lowers_the_rate_every_epoch(project, tmp_path):
    cfg = tiny_config(epochs=4, batches=3)
    cfg.model("centroid").optimization.schedule = "cosine"
    list(pipeline_events(project, cfg, tmp_path, models=("centroid",)))
    rates = [row["learning_rate"] for row in ModelFolder(tmp_path / "centroid").read_log()]
    assert len(rates) == 4 and all(a > b for a, b in zip(rates, rates[1:]))


def test_time_budget_is_split_between_the_models(project, tmp_path):
    cfg = tiny_config(epochs=10000, batches=5)
    cfg.pipeline.time_budget_minutes = 0.3
    for section in cfg.models.values():
        section.optimization.early_stopping_patience = 10000
    started = {}
    for event in pipeline_events(project, cfg, tmp_path):
        if isinstance(event, TrainingFinished):
            started[event.model] = event
    centroid, instance = started["centroid"], started["centered_instance"]
    assert centroid.reason == instance.reason == "time limit"
    total = centroid.elapsed + instance.elapsed
    print(f"centroid {centroid.elapsed:.1f} s, instance {instance.elapsed:.1f} s of 18 s")
    assert total < 0.3 * 60 + 60  # a freeze guard; the split itself is tested below


def test_the_budget_gives_the_centroid_its_share_and_the_instance_the_rest():
    from napari_sleap_train.training.pipeline import _Budget

    cfg = tiny_config()
    cfg.pipeline.time_budget_minutes = 10.0
    now = [100.0]
    budget = _Budget(cfg, tuple(cfg.models), started=100.0, clock=lambda: now[0])

    def limit(kind):
        return budget.config_for(kind).model(kind).optimization.time_limit_minutes

    assert limit("centroid") == pytest.approx(3.5)  # 35 % of the budget
    now[0] += 2 * 60  # the centroid model stopped early, after 2 minutes
    assert limit("centered_instance") == pytest.approx(8.0)  # it gets what is left
    cfg.model("centered_instance").optimization.time_limit_minutes = 5.0
    assert limit("centered_instance") == pytest.approx(5.0)  # its own, shorter limit holds
    now[0] += 20 * 60
    assert limit("centered_instance") == pytest.approx(0.05)  # spent: a last moment
    assert cfg.model("centroid").optimization.time_limit_minutes is None  # not changed


def test_stop_offers_the_next_model(project, tmp_path):
    cfg = tiny_config(epochs=1000, batches=1000)
    stop, next_model = StopToken(), StopToken()
    events = pipeline_events(project, cfg, tmp_path, stop=stop, next_model=next_model)
    offers, models = [], []
    for event in events:
        if isinstance(event, TrainingStarted):
            models.append(event.model)
        if isinstance(event, BatchEnded) and event.batch == 1:
            next_model.request()
        if isinstance(event, NextModelOffered):
            offers.append(event)
            event.choice.answer(True)
    assert models == ["centroid", "centered_instance"]
    assert [(o.model, o.next_model) for o in offers] == [("centroid", "centered_instance")]


def test_declining_the_offer_ends_the_run_and_stop_answers_no(project, tmp_path):
    cfg = tiny_config(epochs=1000, batches=1000)
    next_model = StopToken()
    models = []
    for event in pipeline_events(project, cfg, tmp_path / "a", next_model=next_model):
        if isinstance(event, TrainingStarted):
            models.append(event.model)
        if isinstance(event, BatchEnded) and event.batch == 1:
            next_model.request()
        if isinstance(event, NextModelOffered):
            event.choice.answer(False)
    assert models == ["centroid"]
    # Unanswered, the run waits; a stop request (closing the viewer) ends the wait.
    stop, next_model = StopToken(), StopToken()
    seen = []
    for event in pipeline_events(project, cfg, tmp_path / "b", stop=stop, next_model=next_model):
        seen.append(type(event))
        if isinstance(event, BatchEnded) and event.batch == 1:
            next_model.request()
        if isinstance(event, NextModelOffered):
            threading.Timer(0.3, stop.request).start()
    assert seen[-1] is NextModelOffered


def test_previews_after_improving_epochs_of_the_second_model(project, tmp_path):
    cfg = tiny_config(epochs=3, batches=2)
    cfg.pipeline.peak_threshold = 0.01
    previews, best = [], 0
    for event in pipeline_events(project, cfg, tmp_path, preview_frame=lambda: 14):
        if isinstance(event, EpochEnded) and event.is_best:
            best += event.model == "centered_instance"
        if isinstance(event, PreviewPredicted):
            previews.append(event)
            event.shown.set()
    assert previews and len(previews) == best
    assert {p.model for p in previews} == {"centered_instance"}
    assert all(p.frame_idx == 14 and p.prediction.points.shape[1:] == (8, 2) for p in previews)


def test_temporary_predictions_are_undone(project):
    video, n = project.videos[0], len(project.node_names)
    frames_before = {lf.frame_idx: len(lf.instances) for lf in project.labels.labeled_frames}
    temp = TemporaryPredictions(project, video)
    pts = np.full((1, n, 2), 40.0)
    for frame in (13, 14, 14):
        temp.show(FramePrediction(frame, pts, np.ones((1, n)), np.ones(1)))
    by_frame = {lf.frame_idx: lf for lf in project.labels.labeled_frames}
    assert len(by_frame[14].predicted_instances) == 1
    assert len(by_frame[13].predicted_instances) == 1 and len(by_frame[13].user_instances) == 3
    temp.restore()
    after = {lf.frame_idx: len(lf.instances) for lf in project.labels.labeled_frames}
    assert after == frames_before


def test_cli_total_time_and_preset(sample_paths, tmp_path, capsys):
    from napari_sleap_train.cli import main

    args = ["train", str(sample_paths.project), "--out", str(tmp_path), "--total-time", "0.2"]
    assert main([*args, "--preset", "sleap", "--batches-per-epoch", "20"]) == 0
    out = capsys.readouterr().out
    assert "[centroid] time limit" in out and "[centered_instance] time limit" in out
    saved = TrainingConfig.load(tmp_path / "centered_instance" / "training_config.json")
    assert saved.pipeline.time_budget_minutes == 0.2
    assert saved.model("centroid").optimization.schedule == "plateau"  # the sleap preset
    assert saved.model("centered_instance").optimization.time_limit_minutes < 0.2


def test_a_plan_says_which_models_train_resume_or_stay(tmp_path):
    from napari_sleap_train.choices import ModelKind, StartFrom
    from napari_sleap_train.models.folder import RunFolder
    from napari_sleap_train.training.pipeline import plan_run

    run = RunFolder(tmp_path / "run")
    kinds = (ModelKind.CENTROID, ModelKind.CENTERED_INSTANCE)
    plan = plan_run(run, kinds, {ModelKind.CENTROID: (StartFrom.USE_TRAINED, tmp_path / "c")})
    assert plan.train == (ModelKind.CENTERED_INSTANCE,) and plan.trained == {
        ModelKind.CENTROID: tmp_path / "c"
    }
    plan = plan_run(
        run,
        kinds,
        {
            ModelKind.CENTROID: (StartFrom.RESUME, tmp_path / "c"),
            ModelKind.CENTERED_INSTANCE: (StartFrom.FINE_TUNE, tmp_path / "i"),
        },
    )
    assert plan.train == kinds and plan.resume == {ModelKind.CENTROID: tmp_path / "c"}
    assert plan.init_weights == {ModelKind.CENTERED_INSTANCE: tmp_path / "i"}
    assert (
        list(plan.folders) == list(kinds) and plan.folders[kinds[0]].path == run.path / "centroid"
    )
