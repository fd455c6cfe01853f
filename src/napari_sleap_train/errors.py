"""Errors raised for bad input; each message says what to change.

Every error meant for the user derives from :class:`SleapTrainError`, so the command line
and both docks catch one class and show its message. Kept free of torch so they can be
caught without loading it.
"""

from __future__ import annotations


class SleapTrainError(Exception):
    """Something the user can fix; the message says what to change."""


class ConfigError(SleapTrainError, ValueError):
    """One or more settings are invalid; ``problems`` maps field paths to messages."""

    def __init__(self, problems: dict[str, str]):
        self.problems = problems
        super().__init__("\n".join(f"{k}: {v}" for k, v in problems.items()))


class DataError(SleapTrainError, ValueError):
    """The labels cannot make a training set."""


class TrainingError(SleapTrainError, RuntimeError):
    """Training cannot start or go on."""


class ModelFolderError(SleapTrainError, RuntimeError):
    """A model folder is missing, incomplete, unsafe or does not fit the data."""


class InferenceError(SleapTrainError, RuntimeError):
    """Prediction cannot run on this input."""


class ProjectError(SleapTrainError, RuntimeError):
    """A project could not be opened or saved."""


class JobError(ProjectError):
    """A training job package cannot be written or read."""


class VideoOpenError(SleapTrainError, RuntimeError):
    """A video could not be opened or decoded."""


class ExportError(SleapTrainError, ValueError):
    """Nothing (or not this) can be exported."""


class SuggestionError(SleapTrainError, ValueError):
    """Suggestions cannot be made as asked."""


class EvaluationError(SleapTrainError, ValueError):
    """Predictions cannot be compared with this ground truth."""


class SkeletonError(SleapTrainError, ValueError):
    """The skeleton as edited cannot be used."""


class TrackingError(SleapTrainError, ValueError):
    """Tracking cannot run on these predictions or with these settings."""


class WriteError(SleapTrainError, OSError):
    """A file could not be written where asked."""


class RuntimeMissingError(SleapTrainError, RuntimeError):
    """An optional runtime (ONNX Runtime, TensorRT) is not installed; ``extra`` names the
    package extra that brings it."""

    def __init__(self, what: str, extra: str, detail: str = ""):
        self.extra = extra
        super().__init__(
            f"{what} needs the [{extra}] extra{detail}: install it with "
            f'pip install "napari-sleap-train[{extra}]"'
        )


class ClusterError(SleapTrainError, RuntimeError):
    """A cluster to predict on could not be reached or started."""
