"""Errors the engine raises for bad input; each message says what to change.

Kept free of torch so the command line and the GUI can catch them without loading it.
"""


class DataError(ValueError):
    """The labels cannot make a training set."""


class TrainingError(RuntimeError):
    """Training cannot start or go on."""


class ModelFolderError(RuntimeError):
    """A model folder is missing, incomplete, unsafe or does not fit the data."""


class InferenceError(RuntimeError):
    """Prediction cannot run on this input."""
