"""Checkpoints: the output folder proven writable, a run resumed from its last state, and
a model started from another folder's best weights."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import TrainingError
from ..models import ConfmapModel
from ..models.folder import ModelFolder, ModelInfo


def check_writable(folder: Path, create: bool = True) -> None:
    """Prove that ``folder`` can be written (creating it, unless ``create`` is False: then
    the nearest folder above it that exists must take files), before any training starts."""
    target = Path(folder)
    try:
        if create:
            target.mkdir(parents=True, exist_ok=True)
        while not target.exists():
            target = target.parent
        probe = target / f".write_test.{os.getpid()}"  # one per process (torchrun)
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise TrainingError(
            f"Cannot write to the output folder {folder} ({exc.strerror or exc}). "
            "Choose a folder you can write to."
        ) from exc


def resume_state(source: ModelFolder, model, optimizer, scheduler) -> dict:
    """Load the state to resume from into the model, optimiser and schedule."""
    if not source.last.exists():
        raise TrainingError(
            f"Nothing to resume in {source.path}: {source.last.name} is missing (the run "
            "stopped before its first epoch ended). Train this model from scratch."
        )
    state = source.load_state(source.last)
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
    except (KeyError, RuntimeError, ValueError) as exc:
        raise TrainingError(
            f"Cannot resume {source.path}: it was trained with other settings ({exc}). "
            "Resume with the configuration it was started with, or train from scratch."
        ) from exc
    return state


def load_matching_weights(model: ConfmapModel, folder: ModelFolder, info: ModelInfo) -> None:
    """Load ``folder``'s best weights into ``model``; refuse another architecture or tracks."""
    other = folder.read_info()
    if (other.backbone, other.n_maps) != (info.backbone, info.n_maps):
        raise TrainingError(
            f"Cannot start from {folder.path}: it was trained with another architecture or "
            f"skeleton (backbone={other.backbone}, n_maps={other.n_maps}). Use the same "
            "settings, or train from scratch."
        )
    head = (other.class_names, other.class_units, other.class_layers)
    if head != (info.class_names, info.class_units, info.class_layers):
        raise TrainingError(
            f"Cannot start from {folder.path}: it names the tracks {other.class_names or 'none'}"
            f", these labels {info.class_names or 'none'}. Train from scratch when the tracks "
            "change."
        )
    model.load_state_dict(folder.load_state(folder.best))
