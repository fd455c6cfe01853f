"""Events a training run emits, and the token that asks it to stop."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path


class StopToken:
    """A thread-safe request to stop training; the run ends at its next batch."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def request(self) -> None:
        """Ask the run to stop (it keeps its best model)."""
        self._event.set()

    def clear(self) -> None:
        """Withdraw the request (to reuse the token for the next model)."""
        self._event.clear()

    @property
    def requested(self) -> bool:
        return self._event.is_set()


class AnyStop:
    """Stops when any of several tokens asks."""

    def __init__(self, *tokens: StopToken | None):
        self.tokens = [t for t in tokens if t is not None]

    @property
    def requested(self) -> bool:
        return any(t.requested for t in self.tokens)


@dataclass(frozen=True)
class TrainingStarted:
    """Setup is done; the first batch is next."""

    model: str
    device: str
    n_train: int
    n_val: int
    batch_size: int
    batches_per_epoch: int
    epochs: int
    input_shape: tuple[int, ...]
    model_dir: Path
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BatchEnded:
    """One optimisation step."""

    model: str
    epoch: int
    batch: int
    loss: float
    elapsed: float


@dataclass(frozen=True)
class EpochEnded:
    """One epoch with its validation."""

    model: str
    epoch: int
    train_loss: float
    val_loss: float
    learning_rate: float
    is_best: bool
    epochs_without_improvement: int
    elapsed: float
    metrics: dict[str, float] = field(default_factory=dict)  # e.g. val_identity_accuracy


@dataclass(frozen=True)
class TrainingFinished:
    """The run ended; ``reason`` is completed, early stopped, stopped by user or time limit."""

    model: str
    reason: str
    best_val_loss: float
    best_epoch: int
    epochs: int
    elapsed: float
    model_dir: Path


class Choice:
    """A question the run waits on in its own thread, answered from another (the GUI)."""

    def __init__(self) -> None:
        self._answered = threading.Event()
        self.value: bool = False

    def answer(self, value: bool) -> None:
        self.value = value
        self._answered.set()

    def wait(self, stop: StopToken | None = None, poll: float = 0.1) -> bool:
        """Block until answered; a ``stop`` request answers no."""
        while not self._answered.wait(poll):
            if stop is not None and stop.requested:
                return False
        return self.value


@dataclass(frozen=True)
class NextModelOffered:
    """The user stopped ``model``; the run waits for ``choice``: train ``next_model`` or not."""

    model: str
    next_model: str
    choice: Choice


@dataclass(frozen=True)
class PreviewPredicted:
    """Predictions on one frame with the best models so far, made after an epoch.

    Training waits (up to a second) until the receiver sets ``shown``, so a GUI redraws
    the layer without the training thread competing for the interpreter.
    """

    model: str
    epoch: int
    frame_idx: int
    prediction: object  # inference.topdown.FramePrediction
    shown: threading.Event = field(default_factory=threading.Event, compare=False)


@dataclass(frozen=True)
class RunNoted:
    """Something the run tells the user between models (e.g. what the pseudo-labels
    held)."""

    notes: list[str]


TrainingEvent = (
    TrainingStarted
    | BatchEnded
    | EpochEnded
    | TrainingFinished
    | NextModelOffered
    | PreviewPredicted
    | RunNoted
)
