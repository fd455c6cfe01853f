"""A trained run measured on the project's labels: its models predict the labelled frames
they held out for validation (else every labelled frame), and the predictions are compared
with the user's instances (pose metrics, and identities where the labels have tracks)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import EvaluationError
from ..evaluation import evaluate_frames, format_report
from ..evaluation.identity import identity_frame, identity_metrics
from ..io.project import Project, video_name
from ..io.video import LazyVideo
from .pipelines import predictor_for
from .predictor import existing_run


@dataclass
class RunEvaluation:
    """The figures of one run on the project's labelled frames.

    Attributes
    ----------
    metrics
        :func:`~napari_sleap_train.evaluation.evaluate_frames`'s metrics, with ``identity`` when the
        labelled instances have tracks.
    n_frames
        Labelled frames measured.
    held_out
        Whether they are frames the run's models held out for validation (else every
        labelled frame, the training frames among them).
    """

    metrics: dict[str, Any]
    n_frames: int
    held_out: bool

    def report(self) -> str:
        """The figures in words, saying which frames they come from."""
        if self.held_out:
            where = f"the {self.n_frames} labelled frames the run held out for validation"
        else:
            where = (
                f"all {self.n_frames} labelled frames: the run recorded no held-out frame "
                "that is still labelled, so frames it trained on flatter these figures"
            )
        return f"Measured on {where}.\n{format_report(self.metrics)}"


def labelled_frames(project: Project) -> dict[int, list[int]]:
    """The frames of each video (by index) that hold user-labelled instances."""
    index = {id(v): i for i, v in enumerate(project.videos)}
    found: dict[int, list[int]] = {}
    for lf in project.user_frames():
        if id(lf.video) in index:
            found.setdefault(index[id(lf.video)], []).append(int(lf.frame_idx))
    return dict(sorted(found.items()))


def held_out_frames(project: Project, held: list[list[tuple[int, str, int]]]) -> dict:
    """The labelled frames every model of a run held out (``held``: each model's recorded
    validation frames), per video index; a frame of a video that moved or changed name
    does not count."""
    labelled = {(v, f) for v, frames in labelled_frames(project).items() for f in frames}
    names = [video_name(v) for v in project.videos]
    common: set[tuple[int, int]] | None = None
    for frames in held:
        mine = {(v, f) for v, name, f in frames if v < len(names) and names[v] == name} & labelled
        common = mine if common is None else common & mine
    out: dict[int, list[int]] = {}
    for v, f in sorted(common or ()):
        out.setdefault(v, []).append(f)
    return out


def evaluate_run(
    project: Project,
    models_dir: str | os.PathLike,
    *,
    peak_threshold: float | None = None,
) -> RunEvaluation:
    """Predict the project's held-out labelled frames with the run in ``models_dir`` and
    compare the predictions with the labels.

    Raises
    ------
    EvaluationError
        When the project has no labelled frame.
    InferenceError, ModelFolderError
        When the run cannot predict this project (another skeleton, missing models).
    """
    run = existing_run(models_dir)
    folders = run.models(run.pipeline_models())
    predictor = predictor_for(folders, peak_threshold=peak_threshold)
    predictor.check_skeleton(project.node_names)
    held = [folder.read_info().validation_frames for folder in folders.values()]
    todo = held_out_frames(project, held)
    held_out = bool(todo)
    if not held_out:
        todo = labelled_frames(project)
    if not todo:
        raise EvaluationError(
            "The project has no labelled frame to measure the run on: label some frames "
            "(frames the run did not train on measure it best)."
        )
    truth = {(id(lf.video), int(lf.frame_idx)): lf.user_instances for lf in project.user_frames()}
    triples, id_frames = [], []
    tracked = False
    for v, frames in todo.items():
        video = project.videos[v]
        lazy = LazyVideo(video)
        try:
            for pred in predictor.predict_video(lazy, frames):
                instances = truth[id(video), pred.frame_idx]
                gt = np.stack([np.asarray(i.numpy(), dtype=np.float64)[:, :2] for i in instances])
                gt_tracks = [i.track.name if i.track is not None else None for i in instances]
                tracked = tracked or any(t is not None for t in gt_tracks)
                said = pred.identities or [None] * pred.n_instances
                triples.append((gt, pred.points, pred.scores))
                id_frames.append(identity_frame(gt, pred.points, pred.scores, gt_tracks, said))
        finally:
            lazy.close()
    metrics = evaluate_frames(triples, predictor.node_names)
    if tracked:
        metrics["identity"] = identity_metrics(id_frames)
    return RunEvaluation(metrics, len(triples), held_out)
