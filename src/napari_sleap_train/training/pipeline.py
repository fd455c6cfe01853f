"""Train the models of a pipeline in turn, one model folder each, in one run folder."""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..choices import ModelKind, StartFrom
from ..config import TrainingConfig
from ..data.datasets import LabelledData, load_labelled_data
from ..models.folder import ModelFolder, RunFolder
from ..project import Project
from .events import (
    AnyStop,
    Choice,
    EpochEnded,
    NextModelOffered,
    PreviewPredicted,
    StopToken,
    TrainingEvent,
    TrainingFinished,
)
from .trainer import check_writable, train_events


def pipeline_events(
    project: Project,
    config: TrainingConfig,
    out_dir: str | os.PathLike,
    *,
    stop: StopToken | None = None,
    next_model: StopToken | None = None,
    models: tuple[ModelKind | str, ...] | None = None,
    init_weights: dict[str, str | os.PathLike] | None = None,
    trained: dict[str, str | os.PathLike] | None = None,
    preview_frame: Callable[[], int | None] | None = None,
) -> Iterator[TrainingEvent]:
    """Train the models of the pipeline (default: all of ``config.models``, in order) under
    ``out_dir``, one model folder each.

    The labelled frames are decoded once and shared. A ``stop`` request ends the current
    model (keeping its best checkpoint) and skips the ones after it. A ``next_model`` request
    ends the current model only; when another model follows, the run yields
    :class:`NextModelOffered` and waits for its answer (go on, or finish here).

    ``trained`` names model folders used as they are (models not trained in this run). With
    ``preview_frame`` (a callable giving the frame to show, read in this thread), every
    epoch that improves a model while both models exist is followed by a
    :class:`PreviewPredicted` on that frame with the best checkpoints so far.
    """
    config.validate()
    started = time.perf_counter()
    models = tuple(ModelKind(k) for k in (models or tuple(config.models)))
    out = Path(out_dir)
    check_writable(out)
    data = load_labelled_data(project, config.pipeline.anchor_part)
    init_weights = {ModelKind(k): v for k, v in (init_weights or {}).items()}
    folders = {ModelKind(kind): ModelFolder(Path(p)) for kind, p in (trained or {}).items()}
    folders.update({kind: ModelFolder(out / kind.value) for kind in models})
    preview = _Preview(project, config, folders) if preview_frame is not None else None
    budget = _Budget(config, models, started)
    try:
        yield from _train_in_turn(
            models, budget, out, data, stop, next_model, init_weights, preview, preview_frame
        )
    finally:
        if preview is not None:
            preview.close()


def _train_in_turn(
    models: tuple[ModelKind, ...],
    budget: _Budget,
    out: Path,
    data: LabelledData,
    stop: StopToken | None,
    next_model: StopToken | None,
    init_weights: dict[ModelKind, str | os.PathLike],
    preview: _Preview | None,
    frame_of: Callable[[], int | None] | None,
) -> Iterator[TrainingEvent]:
    """The models one after the other, with previews and the offer after a user's Stop."""
    for i, kind in enumerate(models):
        if stop is not None and stop.requested:
            return
        finished = None
        for event in train_events(
            kind,
            None,
            budget.config_for(kind),
            out / kind.value,
            stop=AnyStop(stop, next_model),
            data=data,
            init_weights=init_weights.get(kind),
        ):
            yield event
            if isinstance(event, TrainingFinished):
                finished = event
            if preview is not None and isinstance(event, EpochEnded) and event.is_best:
                frame = frame_of()
                pred = preview.predict(frame) if frame is not None else None
                if pred is not None:
                    preview_event = PreviewPredicted(kind, event.epoch, frame, pred)
                    yield preview_event
                    preview_event.shown.wait(timeout=1.0)
        user_stopped = finished is not None and finished.reason == "stopped by user"
        if next_model is not None and next_model.requested:
            next_model.clear()
            if user_stopped and i + 1 < len(models) and not (stop and stop.requested):
                choice = Choice()
                yield NextModelOffered(kind, models[i + 1], choice)
                if not choice.wait(stop):
                    return


class _Budget:
    """Splits ``pipeline.time_budget_minutes`` between the models trained in this run.

    The centroid model gets its share of the total; the centered-instance model gets what
    is left when it starts, so time the first model saves by stopping early is not lost.
    A model's own time limit still applies when it is shorter.
    """

    def __init__(self, config: TrainingConfig, models: tuple[ModelKind, ...], started: float):
        self.config, self.models, self.started = config, models, started

    def config_for(self, kind: ModelKind) -> TrainingConfig:
        total = self.config.pipeline.time_budget_minutes
        if total is None:
            return self.config
        left = total - (time.perf_counter() - self.started) / 60
        share = self.config.pipeline.centroid_time_share
        minutes = total * share if kind != self.models[-1] else left
        config = copy.deepcopy(self.config)
        opt = config.model(kind).optimization
        own = opt.time_limit_minutes
        opt.time_limit_minutes = max(min(minutes, own) if own else minutes, 0.05)
        return config


class _Preview:
    """Predicts one frame with the best checkpoints of every model, once all exist."""

    def __init__(
        self, project: Project, config: TrainingConfig, folders: dict[ModelKind, ModelFolder]
    ):
        self.project, self.config, self.folders = project, config, folders
        self.video = None

    def predict(self, frame: int):
        from ..errors import InferenceError, ModelFolderError
        from ..inference.topdown import TopDownPredictor
        from ..video import LazyVideo

        if not all(k in self.folders and self.folders[k].best.exists() for k in self.config.models):
            return None
        try:
            if self.video is None:
                self.video = LazyVideo(self.project.videos[0])
            predictor = TopDownPredictor.from_folders(
                self.folders,
                device=self.config.device,
                peak_threshold=self.config.pipeline.peak_threshold,
                max_instances=self.config.pipeline.max_instances,
            )
            pred = predictor.predict_batch(self.video.frame(frame)[None])[0]
        except (InferenceError, ModelFolderError, OSError, IndexError):
            return None
        pred.frame_idx = frame
        return pred

    def close(self) -> None:
        if self.video is not None:
            self.video.close()


@dataclass(frozen=True)
class RunPlan:
    """Which models a run trains, fine-tunes or takes as they are, and where they live."""

    run: RunFolder
    train: tuple[ModelKind, ...]
    init_weights: dict[ModelKind, Path]
    trained: dict[ModelKind, Path]

    @property
    def folders(self) -> dict[ModelKind, ModelFolder]:
        """The model folder of every model of the run, in pipeline order."""
        kinds = sorted({*self.train, *self.trained}, key=list(ModelKind).index)
        return {
            k: ModelFolder(self.trained[k]) if k in self.trained else self.run.model(k)
            for k in kinds
        }


def plan_run(
    run: RunFolder,
    kinds: tuple[ModelKind, ...],
    starts: dict[ModelKind, tuple[StartFrom, Path | None]],
) -> RunPlan:
    """The plan of a run from how each model starts (scratch, an earlier model as it is,
    or fine-tuned from an earlier model's best weights)."""
    train, init, trained = [], {}, {}
    for kind in kinds:
        start, folder = starts.get(kind, (StartFrom.SCRATCH, None))
        if start is StartFrom.USE_TRAINED and folder is not None:
            trained[kind] = Path(folder)
            continue
        train.append(kind)
        if start is StartFrom.FINE_TUNE and folder is not None:
            init[kind] = Path(folder)
    return RunPlan(run, tuple(train), init, trained)
