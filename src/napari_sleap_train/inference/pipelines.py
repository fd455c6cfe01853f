"""The predictor of a run's model folders, chosen by the models they hold."""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..choices import ModelKind
from ..models.folder import ModelFolder
from .bottomup import BottomUpIdPredictor, BottomUpPredictor
from .predictor import Predictor, existing_run
from .single import SingleInstancePredictor
from .topdown import TopDownPredictor


def predictor_for(
    folders: Mapping[ModelKind | str, ModelFolder | str | os.PathLike], **kwargs
) -> Predictor:
    """The predictor of model folders keyed by model kind: single-instance, bottom-up or
    bottom-up-ID when there is such a model, else top-down."""
    folders = {ModelKind(k): v for k, v in folders.items()}
    if ModelKind.BOTTOM_UP_ID in folders:
        return BottomUpIdPredictor(folders[ModelKind.BOTTOM_UP_ID], **kwargs)
    if ModelKind.BOTTOM_UP in folders:
        return BottomUpPredictor(folders[ModelKind.BOTTOM_UP], **kwargs)
    if ModelKind.SINGLE_INSTANCE in folders:
        return SingleInstancePredictor(folders[ModelKind.SINGLE_INSTANCE], **kwargs)
    return TopDownPredictor.from_folders(folders, **kwargs)


def predictor_from_run(models_dir: str | os.PathLike, **kwargs) -> Predictor:
    """The predictor of a folder written by ``train`` (any pipeline)."""
    run = existing_run(models_dir)
    return predictor_for(run.models(run.pipeline_models()), **kwargs)
