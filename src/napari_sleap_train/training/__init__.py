"""Training loop, events, stop token and model folders (imports torch)."""

from ..errors import ModelFolderError, TrainingError
from .events import (
    BatchEnded,
    Choice,
    EpochEnded,
    NextModelOffered,
    PreviewPredicted,
    StopToken,
    TrainingEvent,
    TrainingFinished,
    TrainingStarted,
)
from .model_folder import load_model, read_info
from .trainer import MODEL_KINDS, resolve_device, train_events, train_model

__all__ = [
    "MODEL_KINDS",
    "BatchEnded",
    "Choice",
    "EpochEnded",
    "NextModelOffered",
    "PreviewPredicted",
    "ModelFolderError",
    "StopToken",
    "TrainingError",
    "TrainingEvent",
    "TrainingFinished",
    "TrainingStarted",
    "load_model",
    "read_info",
    "resolve_device",
    "train_events",
    "train_model",
]
