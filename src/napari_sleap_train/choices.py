"""The typed choices of the engine, the command line and the docks.

Each is a string enum: its value is what configuration files and the command line
write, its :attr:`~Choice.label` what the docks show.
"""

from __future__ import annotations

from enum import Enum


class Choice(str, Enum):
    """A string enum whose ``str()`` is its value and that has a label to show."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    @property
    def label(self) -> str:
        """Plain words for the docks (the value where no label is declared)."""
        return _LABELS.get((type(self), self.value), str(self.value))

    @classmethod
    def parse(cls, text: str | Choice) -> Choice:
        """The member with this value (or label); ``ValueError`` names the choices."""
        if isinstance(text, cls):
            return text
        for member in cls:
            if text in (member.value, member.label):
                return member
        raise ValueError(f"{text!r} is unknown; use {cls.spelled()}.")

    @classmethod
    def spelled(cls) -> str:
        """The values in words: ``a, b or c``."""
        values = [str(m.value) for m in cls]
        return ", ".join(values[:-1]) + f" or {values[-1]}" if len(values) > 1 else values[0]


class PipelineKind(Choice):
    """SLEAP's pipeline types."""

    SINGLE_INSTANCE = "single-instance"
    TOP_DOWN = "top-down"
    BOTTOM_UP = "bottom-up"
    TOP_DOWN_ID = "top-down-id"
    BOTTOM_UP_ID = "bottom-up-id"

    @property
    def identities(self) -> bool:
        """Whether the pipeline names each animal as one of the labelled tracks."""
        return self in (PipelineKind.TOP_DOWN_ID, PipelineKind.BOTTOM_UP_ID)


class ModelKind(Choice):
    """The models a pipeline trains, in the order it trains them."""

    CENTROID = "centroid"
    CENTERED_INSTANCE = "centered_instance"
    CENTERED_INSTANCE_ID = "centered_instance_id"
    SINGLE_INSTANCE = "single_instance"
    BOTTOM_UP = "bottom_up"
    BOTTOM_UP_ID = "bottom_up_id"

    @property
    def crops(self) -> bool:
        """Whether the model sees crops centred on each animal (top-down's second model)."""
        return self in (ModelKind.CENTERED_INSTANCE, ModelKind.CENTERED_INSTANCE_ID)

    @property
    def full_frame(self) -> bool:
        """Whether the model is a pipeline's only model, on whole (scaled) frames."""
        return self in (ModelKind.SINGLE_INSTANCE, ModelKind.BOTTOM_UP, ModelKind.BOTTOM_UP_ID)

    @property
    def identities(self) -> bool:
        """Whether the model names each animal as one of the labelled tracks."""
        return self in (ModelKind.CENTERED_INSTANCE_ID, ModelKind.BOTTOM_UP_ID)


class Schedule(Choice):
    """How the learning rate changes during training."""

    PLATEAU = "plateau"
    COSINE = "cosine"


class Preset(Choice):
    """Named starting configurations."""

    FAST_CPU = "fast-cpu"
    SLEAP = "sleap"


class Precision(Choice):
    """Numeric precision of training and prediction."""

    AUTO = "auto"
    FP32 = "fp32"
    BF16 = "bf16"
    FP16 = "fp16"
    AMP = "amp"


class StartFrom(Choice):
    """How a model of a run starts."""

    SCRATCH = "scratch"
    USE_TRAINED = "use-trained"
    FINE_TUNE = "fine-tune"
    RESUME = "resume"


class FrameTarget(Choice):
    """Which frames to predict on."""

    CURRENT = "current"
    RANDOM = "random"
    SUGGESTED = "suggested"
    LABELED = "labeled"
    RANGE = "range"
    ALL = "all"
    LIST = "list"


class PredictionMode(Choice):
    """What becomes of earlier predictions on the frames predicted again."""

    REPLACE = "replace"
    KEEP = "keep"
    CLEAR_ALL = "clear_all"


class VideoScope(Choice):
    """Which of a project's videos to predict on."""

    CURRENT = "current"
    ALL = "all"


class CameraView(Choice):
    """How the camera sees the animals, which sets how far training rotates the images."""

    AUTO = "auto"
    ABOVE = "above"
    SIDE = "side"


class TrackerMethod(Choice):
    """How instances are linked across frames (SLEAP's tracker methods)."""

    NONE = "none"
    SIMPLE = "simple"
    FLOW = "flow"


class Similarity(Choice):
    """How alike an instance is to a track's earlier instances."""

    INSTANCE = "instance"
    CENTROID = "centroid"
    IOU = "iou"
    OKS = "oks"


class Matching(Choice):
    """How instances are assigned to tracks on a frame."""

    HUNGARIAN = "hungarian"
    GREEDY = "greedy"


class Smoothing(Choice):
    """How tracked predictions are smoothed over time."""

    NONE = "none"
    KALMAN = "kalman"
    MEDIAN = "median"
    SAVGOL = "savgol"


class Candidates(Choice):
    """Which earlier instances a new instance is compared with."""

    AUTO = "auto"
    WINDOW = "window"
    QUEUES = "queues"


_LABEL_LIST: tuple[tuple[Choice, str], ...] = (
    (CameraView.AUTO, "auto (from the labels)"),
    (CameraView.ABOVE, "from above (animals turn freely)"),
    (CameraView.SIDE, "from the side (animals upright)"),
    (PipelineKind.SINGLE_INSTANCE, "single animal"),
    (PipelineKind.TOP_DOWN, "top-down"),
    (PipelineKind.BOTTOM_UP, "bottom-up"),
    (PipelineKind.TOP_DOWN_ID, "top-down-ID"),
    (PipelineKind.BOTTOM_UP_ID, "bottom-up-ID"),
    (VideoScope.CURRENT, "current video"),
    (VideoScope.ALL, "all videos"),
    (TrackerMethod.NONE, "none (no identities)"),
    (TrackerMethod.SIMPLE, "simple"),
    (TrackerMethod.FLOW, "flow (optical-flow shift)"),
    (Similarity.INSTANCE, "instance (SLEAP's, pixels)"),
    (Similarity.CENTROID, "centroid distance"),
    (Similarity.IOU, "bounding-box IoU"),
    (Similarity.OKS, "OKS (scaled to the animal)"),
    (Smoothing.NONE, "none (raw predictions)"),
    (Smoothing.KALMAN, "Kalman smoother (sets jumps aside)"),
    (Smoothing.MEDIAN, "running median (movement)"),
    (Smoothing.SAVGOL, "Savitzky-Golay (movement)"),
    (Candidates.AUTO, "auto (per-track queues when max tracks is set)"),
    (Candidates.WINDOW, "last frames of the window"),
    (Candidates.QUEUES, "per-track queues"),
    (ModelKind.CENTROID, "Centroid Model"),
    (ModelKind.CENTERED_INSTANCE, "Centered Instance Model"),
    (ModelKind.CENTERED_INSTANCE_ID, "Centered Instance ID Model"),
    (ModelKind.SINGLE_INSTANCE, "Single Instance Model"),
    (ModelKind.BOTTOM_UP, "Bottom-Up Model"),
    (ModelKind.BOTTOM_UP_ID, "Bottom-Up ID Model"),
    (Preset.FAST_CPU, "fast CPU"),
    (Preset.SLEAP, "SLEAP defaults (GPU)"),
    (StartFrom.SCRATCH, "train from scratch"),
    (StartFrom.USE_TRAINED, "use trained model"),
    (StartFrom.FINE_TUNE, "fine-tune from an earlier model's best weights"),
    (StartFrom.RESUME, "resume an interrupted model from its last checkpoint"),
    (FrameTarget.CURRENT, "current frame"),
    (FrameTarget.RANDOM, "random frames"),
    (FrameTarget.SUGGESTED, "suggested frames"),
    (FrameTarget.LABELED, "user-labelled frames"),
    (FrameTarget.RANGE, "frame range"),
    (FrameTarget.ALL, "entire video"),
    (FrameTarget.LIST, "listed frames"),
    (PredictionMode.REPLACE, "replace"),
    (PredictionMode.KEEP, "keep both"),
    (PredictionMode.CLEAR_ALL, "clear all"),
)
_LABELS: dict[tuple[type, str], str] = {(type(c), c.value): text for c, text in _LABEL_LIST}
"""Labels keyed by (choice type, value): members of two choices with one value, such as
``CameraView.AUTO`` and ``Candidates.AUTO``, are equal as strings and would share a key."""
