"""Training loop, events, stop token and the pipeline of models (imports torch)."""

from ..errors import TrainingError
from .events import (
    BatchEnded,
    Choice,
    EpochEnded,
    NextModelOffered,
    PreviewPredicted,
    RunNoted,
    StopToken,
    TrainingEvent,
    TrainingFinished,
    TrainingStarted,
)
from .trainer import train_events, train_model

__all__ = [
    "BatchEnded",
    "Choice",
    "EpochEnded",
    "NextModelOffered",
    "PreviewPredicted",
    "RunNoted",
    "StopToken",
    "TrainingError",
    "TrainingEvent",
    "TrainingFinished",
    "TrainingStarted",
    "train_events",
    "train_model",
]
