"""Train the models of a pipeline in turn, one model folder each, in one run folder."""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..choices import ModelKind, PipelineKind, StartFrom
from ..config import TrainingConfig, pipeline_for_counts
from ..data.checks import check_edges, check_single_animal, identity_classes, resolve_crop_size
from ..data.labelled import LabelledData, load_labelled_data
from ..errors import ModelFolderError
from ..io.project import Project
from ..models.folder import FINISHED, ModelFolder, ModelRecord, RunFolder
from . import distributed
from .checkpoints import check_writable
from .events import (
    AnyStop,
    Choice,
    EpochEnded,
    NextModelOffered,
    PreviewPredicted,
    StopToken,
    TrainingEvent,
    TrainingFinished,
    TrainingStarted,
)
from .trainer import train_events


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
    resume: dict[str, str | os.PathLike] | None = None,
    spent_seconds: float = 0.0,
    preview_frame: Callable[[], int | None] | None = None,
    source: str | None = None,
    preview_video: int = 0,
) -> Iterator[TrainingEvent]:
    """Train the models of the pipeline (default: all of ``config.models``, in order) under
    ``out_dir``, one model folder each, keeping the run's record (``run.json``) current.

    Everything that can be checked is checked before the first model trains: the output
    folder, the labelled frames (decoded once and shared), the crop size, and the model
    folders used as they are (``trained``), fine-tuned from (``init_weights``) or continued
    (``resume``: a model folder whose ``last.pt`` the model goes on from). A ``stop``
    request ends the current model (keeping its best checkpoint) and skips the ones after
    it. A ``next_model`` request ends the current model only; when another model follows,
    the run yields :class:`NextModelOffered` and waits for its answer (go on, or finish
    here). ``spent_seconds`` is training time already spent by an earlier part of the run
    (it comes off the time budget). With ``preview_frame`` (a callable giving the frame to
    show, read in this thread), every epoch that improves a model while all models exist
    is followed by a :class:`PreviewPredicted` on that frame (of video ``preview_video``)
    with the best checkpoints.
    ``source`` is the labels file the record names (default: the project's). With
    ``pipeline.ensemble_size`` above 1 the run is an ensemble (:func:`_ensemble_events`).
    """
    config.validate()
    if config.pipeline.ensemble_size > 1:
        yield from _ensemble_events(
            project,
            config,
            Path(out_dir),
            spent_seconds,
            dict(
                stop=stop,
                next_model=next_model,
                models=models,
                init_weights=init_weights,
                trained=trained,
                resume=resume,
                preview_frame=preview_frame,
                source=source,
                preview_video=preview_video,
            ),
        )
        return
    models = tuple(ModelKind(k) for k in (models or tuple(config.models)))
    out = Path(out_dir)
    check_writable(out, create=False)  # created once everything else is checked
    data = load_labelled_data(project, config.pipeline.anchor_part)
    crops = next((kind for kind in models if kind.crops), None)
    if crops is not None:
        resolve_crop_size(data, config.model(crops))  # refused now
    if any(kind.identities for kind in models):
        identity_classes(data)
    if ModelKind.SINGLE_INSTANCE in models:
        check_single_animal(data)
    if ModelKind.BOTTOM_UP in models:
        check_edges(data)
    init = {ModelKind(k): Path(v) for k, v in (init_weights or {}).items()}
    resumed = {ModelKind(k): Path(v) for k, v in (resume or {}).items()}
    used = {ModelKind(k): Path(v) for k, v in (trained or {}).items()}
    for folder in (*init.values(), *resumed.values(), *used.values()):
        _check_nodes(ModelFolder(folder), data.node_names)
    folders = {kind: ModelFolder(p) for kind, p in used.items()}
    folders.update({kind: ModelFolder(out / kind.value) for kind in models})
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter() - spent_seconds
    run = _Run(project, config, models, out, data, init, resumed, started)
    run.start_record(source or (str(project.path) if project.path is not None else None))
    preview = None
    if preview_frame is not None:
        preview = _Preview(project, config, folders, preview_video)
    try:
        yield from run.train(stop, next_model, preview, preview_frame)
    finally:
        if preview is not None:
            preview.close()


SEED_STEP = 1000
"""How far apart the random seeds of an ensemble's members are."""


def _ensemble_events(
    project: Project, config: TrainingConfig, out: Path, spent_seconds: float, kwargs: dict
) -> Iterator[TrainingEvent]:
    """An ensemble's members one after the other: member 1 is the run itself, the others
    runs of their own under ``members/``, each from another random start (split, order,
    augmentation and initial weights). Each member gets an equal share of the budget left
    when it starts (so time an early stop saves goes to the next). Only member 1 resumes."""
    from .events import RunNoted

    n = config.pipeline.ensemble_size
    started = time.perf_counter() - spent_seconds
    stop = kwargs["stop"]
    for k in range(1, n + 1):
        if stop is not None and stop.requested:
            break
        member = copy.deepcopy(config)
        member.pipeline.ensemble_size = 1
        total = config.pipeline.time_budget_minutes
        if total is not None:
            left = total - (time.perf_counter() - started) / 60
            member.pipeline.time_budget_minutes = max(left / (n - k + 1), 0.05)
        for section in member.models.values():
            section.optimization.seed += SEED_STEP * (k - 1)
        where = out if k == 1 else RunFolder(out).member(k).path
        yield RunNoted([f"Ensemble member {k} of {n}."])
        args = kwargs if k == 1 else {**kwargs, "resume": None}
        yield from pipeline_events(project, member, where, **args)
        if k == 1 and distributed.current().main and out.is_dir():
            config.save(out / "training_config.json")  # the run says it is an ensemble
            folder = RunFolder(out)
            record = folder.read_record()
            record.time_budget_minutes = config.pipeline.time_budget_minutes
            folder.write_record(record)


def auto_pipeline(project: Project) -> tuple[PipelineKind, str]:
    """The pipeline the labels call for, and why: single-instance when no labelled frame
    holds more than one animal, top-down otherwise."""
    counts = project.user_counts().values()
    frames = sum(f for f, _ in counts)
    return pipeline_for_counts(frames, sum(i for _, i in counts))


def _check_nodes(folder: ModelFolder, node_names: list[str]) -> None:
    info = folder.read_info()
    if info.node_names != node_names:
        raise ModelFolderError(
            f"{folder.path} was trained on another skeleton (nodes {info.node_names}); the "
            f"labels have {node_names}. Use a model of this skeleton, or train from scratch."
        )


class _Run:
    """The models of one run, one after the other, with its record kept current."""

    def __init__(
        self,
        project: Project,
        config: TrainingConfig,
        models: tuple[ModelKind, ...],
        out: Path,
        data: LabelledData,
        init: dict[ModelKind, Path],
        resumed: dict[ModelKind, Path],
        started: float,
    ):
        self.config, self.models, self.data = config, models, data
        self.init, self.resumed = init, resumed
        self.folder = RunFolder(out)
        self.project, self.started = project, started
        first = config
        if config.pipeline.adapt_to_video and config.pipeline.time_budget_minutes:
            first = copy.deepcopy(config)
            first.pipeline.time_budget_minutes *= 1 - config.pipeline.adaptation_share
        self.budget = _Budget(first, models, started)
        self.record = self.folder.read_record()

    def start_record(self, labels: str | None) -> None:
        """Write the run's settings and its record before the first model trains."""
        record = self.record
        record.labels = labels or record.labels
        record.time_budget_minutes = self.config.pipeline.time_budget_minutes
        for kind in self.models:
            record.models.setdefault(kind.value, ModelRecord()).status = "pending"
        if distributed.current().main:
            self.config.save(self.folder.path / "training_config.json")
        self._save()

    def _save(self) -> None:
        if distributed.current().main:
            self.folder.write_record(self.record)

    def _note(self, event: TrainingEvent) -> None:
        if isinstance(event, TrainingStarted):
            self.record.models[event.model.value].status = "training"
            self._save()
        elif isinstance(event, EpochEnded):
            entry = self.record.models[event.model.value]
            entry.epochs, entry.seconds = event.epoch + 1, round(event.elapsed, 3)
            self._save()
        elif isinstance(event, TrainingFinished):
            entry = self.record.models[event.model.value]
            entry.status = "finished" if event.reason in FINISHED else "stopped"
            entry.reason, entry.epochs = event.reason, event.epochs
            entry.seconds = round(event.elapsed, 3)
            self._save()

    def train(
        self,
        stop: StopToken | None,
        next_model: StopToken | None,
        preview: _Preview | None,
        frame_of: Callable[[], int | None] | None,
    ) -> Iterator[TrainingEvent]:
        """Train the models in turn, with previews and the offer after a user's Stop."""
        models = self.models
        for i, kind in enumerate(models):
            if stop is not None and stop.requested:
                return
            finished = None
            for event in train_events(
                kind,
                None,
                self.budget.config_for(kind),
                self.folder.model(kind).path,
                stop=AnyStop(stop, next_model),
                data=self.data,
                init_weights=self.init.get(kind),
                resume_from=self.resumed.get(kind),
                unlabelled=self._unlabelled(kind),
            ):
                self._note(event)
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
            last = i + 1 == len(models)
            if last and self.config.pipeline.adapt_to_video and not (stop and stop.requested):
                yield from self._adapt(stop)
            if next_model is not None and next_model.requested:
                next_model.clear()
                if user_stopped and i + 1 < len(models) and not (stop and stop.requested):
                    choice = Choice()
                    yield NextModelOffered(kind, models[i + 1], choice)
                    if not choice.wait(stop):
                        return

    def _unlabelled(self, kind: ModelKind):
        """What makes model ``kind``'s loss on unlabelled frames, when the run learns from
        them (a centered-instance model finds the animals with this run's centroid model)."""
        pipeline = self.config.pipeline
        if not pipeline.learn_from_unlabelled:
            return None
        from .unlabelled import unlabelled_loss

        centroid = self.folder.model(ModelKind.CENTROID)

        def make(train, section):
            return unlabelled_loss(
                kind,
                self.project,
                self.data,
                train,
                section,
                pipeline.unlabelled_pairs,
                pipeline.unlabelled_weight,
                centroid,
                self.config.device,
            )

        return make

    def _adapt(self, stop: StopToken | None) -> Iterator[TrainingEvent]:
        """The second round: pseudo-labels from the whole video, then training again."""
        from .adaptation import adaptation_events

        config = copy.deepcopy(self.config)
        for event in adaptation_events(
            self.project, config, self.data, self.folder.path, self.models, self.started, stop
        ):
            self._note(event)
            yield event


class _Budget:
    """Splits ``pipeline.time_budget_minutes`` between the models trained in this run.

    The centroid model gets its share of the total; the centered-instance model gets what
    is left when it starts, so time the first model saves by stopping early is not lost.
    A model's own time limit still applies when it is shorter.
    """

    def __init__(
        self,
        config: TrainingConfig,
        models: tuple[ModelKind, ...],
        started: float,
        clock: Callable[[], float] = time.perf_counter,
    ):
        self.config, self.models, self.started, self.clock = config, models, started, clock

    def config_for(self, kind: ModelKind) -> TrainingConfig:
        total = self.config.pipeline.time_budget_minutes
        if total is None:
            return self.config
        left = total - (self.clock() - self.started) / 60
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
        self,
        project: Project,
        config: TrainingConfig,
        folders: dict[ModelKind, ModelFolder],
        video_index: int = 0,
    ):
        self.project, self.config, self.folders = project, config, folders
        self.video_index = video_index
        self.video = None

    def predict(self, frame: int):
        from ..errors import InferenceError, ModelFolderError
        from ..inference.pipelines import predictor_for
        from ..io.video import LazyVideo

        if not all(k in self.folders and self.folders[k].best.exists() for k in self.config.models):
            return None
        try:
            if self.video is None:
                self.video = LazyVideo(self.project.videos[self.video_index])
            predictor = predictor_for(
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
    resume: dict[ModelKind, Path]

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
    """The plan of a run from how each model starts: from scratch, an earlier model as it
    is, fine-tuned from an earlier model's best weights, or an interrupted model resumed
    from its last checkpoint."""
    train, init, trained, resume = [], {}, {}, {}
    for kind in kinds:
        start, folder = starts.get(kind, (StartFrom.SCRATCH, None))
        if start is StartFrom.USE_TRAINED and folder is not None:
            trained[kind] = Path(folder)
            continue
        train.append(kind)
        if start is StartFrom.FINE_TUNE and folder is not None:
            init[kind] = Path(folder)
        elif start is StartFrom.RESUME and folder is not None:
            resume[kind] = Path(folder)
    return RunPlan(run, tuple(train), init, trained, resume)
