"""magicgui forms for the training configuration, one per tab, with plain-words tooltips.

Each field is bound to a dotted path in :class:`~napari_sleap_train.config.TrainingConfig`;
:class:`ConfigForm` writes widget values into a config and reads them back.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from magicgui import widgets

from ..choices import Schedule
from ..config import TrainingConfig, default_config, default_preset

PRESET_NAMES = {"fast-cpu": "fast CPU", "sleap": "SLEAP defaults (GPU)"}

MODEL_TABS = {"centroid": "Centroid Model", "centered_instance": "Centered Instance Model"}
NO_ANCHOR = "(none: centre of the visible nodes)"
PREDICT_CHOICES = (
    "nothing",
    "current frame",
    "random frames",
    "suggested frames",
    "user-labelled frames",
    "frame range",
    "entire video",
)
EXISTING_CHOICES = ("replace", "keep both", "clear all")
START_CHOICES = ("train from scratch", "use trained model", "resume training")


@dataclass(frozen=True)
class Field:
    """A form field bound to a config path (``None`` for settings outside the config)."""

    name: str
    path: str | None
    label: str
    tooltip: str
    make: Callable[[], widgets.ValueWidget]


def _spin(lo: int, hi: int, step: int = 1) -> Callable[[], widgets.ValueWidget]:
    return lambda: widgets.SpinBox(min=lo, max=hi, step=step)


def _float(lo: float, hi: float, step: float) -> Callable[[], widgets.ValueWidget]:
    return lambda: widgets.FloatSpinBox(min=lo, max=hi, step=step)


def _text() -> widgets.ValueWidget:
    return widgets.LineEdit()


def _combo(choices) -> Callable[[], widgets.ValueWidget]:
    return lambda: widgets.ComboBox(choices=list(choices))


def pipeline_fields() -> list[Field]:
    """Fields of the Training Pipeline tab."""
    return [
        Field(
            "preset",
            None,
            "Preset",
            "Starting settings: 'fast CPU' reaches a usable model in minutes without a GPU "
            "(a time budget, a higher learning rate with cosine decay); 'SLEAP defaults' are "
            "SLEAP's baseline settings, best on a GPU. Choosing one resets every field.",
            _combo(PRESET_NAMES.values()),
        ),
        Field(
            "time_budget",
            "pipeline.time_budget_minutes",
            "Time budget (min, 0 = none)",
            "Train both models for at most this many minutes in total; the centroid model "
            "gets about a third, the instance model the rest. Best checkpoints are kept.",
            _float(0, 100000, 1),
        ),
        Field(
            "anchor_part",
            "pipeline.anchor_part",
            "Anchor part",
            "The body part that marks where an animal is. None uses the centre of its "
            "visible nodes; a part that is always visible and central (e.g. thorax) is best.",
            _combo([NO_ANCHOR]),
        ),
        Field(
            "centroid_sigma",
            "models.centroid.sigma",
            "Sigma for centroids",
            "Spread (px) of the blob the centroid model learns to draw on each animal. "
            "Larger is easier to learn, smaller separates close animals better.",
            _float(0.5, 50, 0.5),
        ),
        Field(
            "node_sigma",
            "models.centered_instance.sigma",
            "Sigma for nodes",
            "Spread (px) of the blob drawn on each body part.",
            _float(0.5, 50, 0.5),
        ),
        Field(
            "crop_size",
            "models.centered_instance.crop_size",
            "Crop size (0 = auto)",
            "Side (px) of the square cut around each animal for the instance model. 0 picks "
            "it from the largest labelled animal plus room for rotation.",
            _spin(0, 4096, 16),
        ),
        Field(
            "batch_size",
            None,
            "Batch size",
            "Samples per training step for both models. Lower it if memory runs out.",
            _spin(1, 512),
        ),
        Field(
            "predict_on",
            None,
            "Predict on after training",
            "Which frames the trained models predict when training ends.",
            _combo(PREDICT_CHOICES),
        ),
        Field(
            "random_count",
            None,
            "Random frames",
            "How many random unlabelled frames to predict on.",
            _spin(1, 100000),
        ),
        Field(
            "frame_range",
            None,
            "Frame range",
            "First and last frame to predict on, e.g. 0-100.",
            _text,
        ),
        Field(
            "peak_threshold",
            "pipeline.peak_threshold",
            "Peak threshold",
            "Lowest confidence (0-1) at which an animal or a body part counts as found.",
            _float(0.01, 0.99, 0.05),
        ),
        Field(
            "existing",
            None,
            "Existing predictions",
            "What happens to earlier predictions on the predicted frames.",
            _combo(EXISTING_CHOICES),
        ),
    ]


def model_fields(kind: str) -> list[Field]:
    """Fields of a model tab (``centroid`` or ``centered_instance``)."""
    p, m = kind, f"models.{kind}"
    return [
        Field(
            f"{p}.start",
            None,
            "Start from",
            "Train from scratch, use an earlier model as it is (skip training), or go on "
            "training an earlier model.",
            _combo(START_CHOICES),
        ),
        Field(
            f"{p}.previous",
            None,
            "Earlier model folder",
            "A model folder written by an earlier run.",
            lambda: widgets.FileEdit(mode="d"),
        ),
        Field(
            f"{p}.max_stride",
            f"{m}.backbone.max_stride",
            "Max stride",
            "How far the network shrinks the image (a power of two). Larger sees more "
            "context (a larger receptive field) but needs inputs a multiple of it.",
            _combo([8, 16, 32, 64]),
        ),
        Field(
            f"{p}.filters",
            f"{m}.backbone.filters",
            "Filters",
            "Feature channels of the first layer; more learn more but run slower.",
            _spin(1, 256),
        ),
        Field(
            f"{p}.filters_rate",
            f"{m}.backbone.filters_rate",
            "Filters rate",
            "Factor by which the channels grow at each down-sampling step.",
            _float(1.0, 4.0, 0.5),
        ),
        Field(
            f"{p}.output_stride",
            f"{m}.backbone.output_stride",
            "Output stride",
            "Resolution of the predicted maps relative to the input (1 = full).",
            _combo([1, 2, 4, 8, 16]),
        ),
        Field(
            f"{p}.input_scaling",
            f"{m}.input_scaling",
            "Input scaling",
            "Images are resized by this factor before the network sees them (1 = full "
            "resolution). Lower is faster and sees more context.",
            _float(0.05, 1.0, 0.05),
        ),
        Field(
            f"{p}.sigma",
            f"{m}.sigma",
            "Sigma",
            "Spread (px) of the target blobs.",
            _float(0.5, 50, 0.5),
        ),
        Field(
            f"{p}.epochs",
            f"{m}.optimization.epochs",
            "Epochs",
            "Most passes of training; early stopping usually ends sooner.",
            _spin(1, 10000),
        ),
        Field(
            f"{p}.batches_per_epoch",
            f"{m}.optimization.batches_per_epoch",
            "Batches per epoch",
            "Training steps between two validations.",
            _spin(1, 100000),
        ),
        Field(
            f"{p}.learning_rate",
            f"{m}.optimization.learning_rate",
            "Learning rate",
            "Step size of the optimiser (Adam); the peak rate with the cosine schedule.",
            lambda: widgets.FloatSpinBox(min=1e-7, max=1.0, step=1e-5),
        ),
        Field(
            f"{p}.schedule",
            f"{m}.optimization.schedule",
            "Learning rate schedule",
            "plateau: halve the rate when validation stalls (SLEAP). cosine: warm up, then "
            "decay smoothly to the end of the time limit or the last epoch (fast CPU).",
            _combo([s.value for s in Schedule]),
        ),
        Field(
            f"{p}.time_limit",
            f"{m}.optimization.time_limit_minutes",
            "Time limit (min, 0 = none)",
            "Stop training this model after this many minutes, keeping its best checkpoint.",
            _float(0, 10000, 0.5),
        ),
        Field(
            f"{p}.patience",
            f"{m}.optimization.early_stopping_patience",
            "Early stopping patience",
            "Epochs without improvement before training stops.",
            _spin(1, 1000),
        ),
        Field(
            f"{p}.min_delta",
            f"{m}.optimization.early_stopping_min_delta",
            "Early stopping min delta",
            "Smallest drop of the validation loss that counts as an improvement.",
            lambda: widgets.FloatSpinBox(min=0.0, max=1.0, step=1e-8),
        ),
        Field(
            f"{p}.validation_fraction",
            f"{m}.optimization.validation_fraction",
            "Validation fraction",
            "Share of labelled frames held out to measure progress.",
            _float(0.0, 0.9, 0.05),
        ),
        Field(
            f"{p}.rotation",
            f"{m}.augmentation.rotation",
            "Rotate",
            "Randomly rotate training images (and labels).",
            widgets.CheckBox,
        ),
        Field(
            f"{p}.rotation_deg",
            f"{m}.augmentation.rotation_deg",
            "Rotation ±°",
            "Largest random rotation in degrees.",
            _float(0, 180, 5),
        ),
        Field(
            f"{p}.scale",
            f"{m}.augmentation.scale",
            "Scale",
            "Randomly resize training images.",
            widgets.CheckBox,
        ),
        Field(
            f"{p}.scale_min",
            f"{m}.augmentation.scale_min",
            "Scale min",
            "Smallest random scale factor.",
            _float(0.1, 2, 0.05),
        ),
        Field(
            f"{p}.scale_max",
            f"{m}.augmentation.scale_max",
            "Scale max",
            "Largest random scale factor.",
            _float(0.1, 4, 0.05),
        ),
        Field(
            f"{p}.hflip",
            f"{m}.augmentation.hflip",
            "Flip left/right",
            "Randomly mirror images, swapping left and right body parts.",
            widgets.CheckBox,
        ),
        Field(
            f"{p}.gaussian_noise",
            f"{m}.augmentation.gaussian_noise",
            "Noise",
            "Add random Gaussian noise to training images.",
            widgets.CheckBox,
        ),
        Field(
            f"{p}.contrast",
            f"{m}.augmentation.contrast",
            "Contrast",
            "Randomly change image contrast.",
            widgets.CheckBox,
        ),
        Field(
            f"{p}.brightness",
            f"{m}.augmentation.brightness",
            "Brightness",
            "Randomly change image brightness.",
            widgets.CheckBox,
        ),
    ]


def get_path(obj: Any, path: str) -> Any:
    """Value at a dotted attribute path."""
    for part in path.split("."):
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    return obj


def set_path(obj: Any, path: str, value: Any) -> None:
    """Set the value at a dotted attribute path."""
    *head, last = path.split(".")
    obj = get_path(obj, ".".join(head)) if head else obj
    setattr(obj, last, value)


class ConfigForm:
    """All tabs' widgets, bound to a :class:`TrainingConfig` and a few run settings."""

    def __init__(self, node_names: list[str]):
        self.fields: dict[str, Field] = {}
        self.widgets: dict[str, widgets.ValueWidget] = {}
        self.tabs: dict[str, widgets.Container] = {}
        groups = {"pipeline": pipeline_fields(), **{k: model_fields(k) for k in MODEL_TABS}}
        for tab, fields in groups.items():
            items = []
            for f in fields:
                w = f.make()
                w.label = f.label
                if isinstance(w, widgets.CheckBox):
                    w.text = f.label  # a check box shows its own text, not the label column
                w.tooltip = f.tooltip
                self.fields[f.name] = f
                self.widgets[f.name] = w
                items.append(w)
            self.tabs[tab] = widgets.Container(widgets=items, labels=True)
        self.set_nodes(node_names)
        self._base = TrainingConfig()
        self.widgets["preset"].value = PRESET_NAMES[default_preset()]
        self.set_config(default_config())
        self.widgets["predict_on"].value = "suggested frames"
        self.widgets["random_count"].value = 20
        self.widgets["frame_range"].value = "0-100"

    def set_nodes(self, node_names: list[str]) -> None:
        """Offer the skeleton's nodes as anchor parts."""
        combo = self.widgets["anchor_part"]
        current = combo.value
        combo.choices = [NO_ANCHOR, *node_names]
        combo.value = current if current in combo.choices else NO_ANCHOR

    def set_config(self, config: TrainingConfig) -> None:
        """Show ``config`` in the widgets (settings without a field are kept as they are)."""
        self._base = copy.deepcopy(config)
        for name, f in self.fields.items():
            if f.path is None:
                continue
            value = get_path(config, f.path)
            if name == "anchor_part":
                value = value if value in self.widgets[name].choices else NO_ANCHOR
            elif name == "crop_size" or name.endswith("time_limit") or name == "time_budget":
                value = value or 0
            self.widgets[name].value = value
        self.widgets["batch_size"].value = config.model("centroid").optimization.batch_size

    def config(self) -> TrainingConfig:
        """A new config from the widgets' values (may be invalid: check ``problems()``)."""
        config = copy.deepcopy(self._base)
        for name, f in self.fields.items():
            if f.path is None:
                continue
            value = self.widgets[name].value
            if name == "anchor_part":
                value = None if value == NO_ANCHOR else value
            elif name == "crop_size":
                value = int(value) or None
            elif name.endswith(".time_limit") or name == "time_budget":
                value = float(value) or None
            set_path(config, f.path, value)
        for section in config.models.values():
            section.optimization.batch_size = int(self.widgets["batch_size"].value)
        return config

    def field_for_problem(self, path: str) -> str | None:
        """The form field that shows a config path named in a validation problem."""
        for name, f in self.fields.items():
            if f.path == path:
                return name
        if path.endswith("optimization.batch_size"):
            return "batch_size"
        return None

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever any field changes."""
        for w in self.widgets.values():
            w.changed.connect(lambda *_: callback())

    def start_mode(self, kind: str) -> tuple[str, str | None]:
        """How a model starts (scratch / use trained / resume) and its earlier folder."""
        mode = self.widgets[f"{kind}.start"].value
        folder = self.widgets[f"{kind}.previous"].value
        folder = str(folder) if mode != START_CHOICES[0] and str(folder) not in ("", ".") else None
        return mode, folder


def settings_file() -> Path:
    """Where the last-used settings persist between napari sessions."""
    root = os.environ.get("NAPARI_SLEAP_TRAIN_SETTINGS")
    if root:
        return Path(root)
    base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    return base / "napari-sleap-train" / "last_config.json"


def load_last_config() -> TrainingConfig | None:
    """The settings of the last session, or None when there are none (or they are unusable)."""
    path = settings_file()
    try:
        return TrainingConfig.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def save_last_config(config: TrainingConfig) -> None:
    """Remember ``config`` for the next session (best effort)."""
    path = settings_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        config.save(path)
    except OSError:
        pass
