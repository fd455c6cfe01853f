"""Train both models of the top-down pipeline into one folder each."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from ..config import TrainingConfig
from ..data.datasets import load_labelled_data
from ..project import Project
from .events import AnyStop, StopToken, TrainingEvent
from .trainer import MODEL_KINDS, check_writable, train_events


def pipeline_events(
    project: Project,
    config: TrainingConfig,
    out_dir: str | os.PathLike,
    *,
    stop: StopToken | None = None,
    next_model: StopToken | None = None,
    models: tuple[str, ...] = MODEL_KINDS,
    init_weights: dict[str, str | os.PathLike] | None = None,
) -> Iterator[TrainingEvent]:
    """Train the centroid model, then the centered-instance model, under ``out_dir``.

    The labelled frames are decoded once and shared. A ``stop`` request ends the current
    model (keeping its best checkpoint) and skips the ones after it; a ``next_model`` request
    ends the current model only.
    """
    config.validate()
    out = Path(out_dir)
    check_writable(out)
    data = load_labelled_data(project, config.pipeline.anchor_part)
    init_weights = init_weights or {}
    for kind in models:
        if stop is not None and stop.requested:
            return
        yield from train_events(
            kind,
            None,
            config,
            out / kind,
            stop=AnyStop(stop, next_model),
            data=data,
            init_weights=init_weights.get(kind),
        )
        if next_model is not None:
            next_model.clear()
