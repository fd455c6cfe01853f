"""The predictor of a run's model folders, chosen by the models they hold; and the predictor
of a run or an exported run in the runtime asked for."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..choices import ModelKind
from ..models.export import exported_run, is_export, read_export
from ..models.folder import ModelFolder
from .bottomup import BottomUpIdPredictor, BottomUpPredictor
from .ensemble import EnsemblePredictor, ensemble_members
from .predictor import Predictor, existing_run
from .runtimes import RUNTIMES
from .single import SingleInstancePredictor
from .topdown import TopDownPredictor


def predictor_for(
    folders: Mapping[ModelKind | str, ModelFolder | str | os.PathLike],
    ensemble: bool = True,
    **kwargs,
) -> Predictor:
    """The predictor of model folders keyed by model kind: single-instance, bottom-up or
    bottom-up-ID when there is such a model, else top-down. When the folders are one run's
    and the run is an ensemble, all its members predict together (:mod:`.ensemble`) unless
    ``ensemble`` is False."""
    folders = {ModelKind(k): v for k, v in folders.items()}
    first = _predictor_of(folders, **kwargs)
    members = ensemble_members(folders) if ensemble else []
    if not members:
        return first
    return EnsemblePredictor([first, *(_predictor_of(m, **kwargs) for m in members)])


def _predictor_of(folders: dict[ModelKind, ModelFolder | str | os.PathLike], **kwargs):
    if ModelKind.BOTTOM_UP_ID in folders:
        return BottomUpIdPredictor(folders[ModelKind.BOTTOM_UP_ID], **kwargs)
    if ModelKind.BOTTOM_UP in folders:
        return BottomUpPredictor(folders[ModelKind.BOTTOM_UP], **kwargs)
    if ModelKind.SINGLE_INSTANCE in folders:
        return SingleInstancePredictor(folders[ModelKind.SINGLE_INSTANCE], **kwargs)
    return TopDownPredictor.from_folders(folders, **kwargs)


def predictor_from_run(models_dir: str | os.PathLike, ensemble: bool = True, **kwargs) -> Predictor:
    """The predictor of a folder written by ``train`` (any pipeline; all the members of an
    ensemble unless ``ensemble`` is False)."""
    run = existing_run(models_dir)
    return predictor_for(run.models(run.pipeline_models()), ensemble, **kwargs)


def load_predictor(path: str | os.PathLike, runtime: str = "auto", **kwargs) -> Predictor:
    """The predictor of a run folder (written by ``train``) or an exported run (written by
    ``export-model``), its networks run by ``runtime``.

    ``auto``: an exported run in its format's runtime (ONNX Runtime, on CUDA when the device
    is CUDA and ONNX Runtime has it; TensorRT; TorchScript), a run folder in PyTorch.
    ``torch``: PyTorch (a run folder, or TorchScript). ``onnx`` or ``tensorrt`` on a run
    folder first exports it to ``<run>/exported/<runtime>/`` (kept while newer than the
    weights). Other keyword arguments go to the predictor (``device``, ``precision``,
    ``peak_threshold``, ``max_instances``).
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}, not {runtime!r}")
    path = Path(path)
    if not is_export(path):
        run = existing_run(path)
        if runtime in ("auto", "torch"):
            return predictor_from_run(run.path, **kwargs)
        path = exported_run(run.path, runtime)
    manifest = read_export(path)
    if runtime == "auto" and manifest.format == "tensorrt":
        runtime = "tensorrt"
    return predictor_for(manifest.folders(runtime), **kwargs)
