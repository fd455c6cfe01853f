"""magicgui forms built from the settings' declarations: label, help, range, step, choices.

A form shows a :class:`DockSettings`: the training configuration, the preset, what to do
after training and how each model starts. Each widget is bound to a dotted path in it
(``config.models.centroid.sigma``; ``*`` applies one widget to every model), and takes its
label, tooltip, range and step from the field's
:class:`~napari_sleap_train.config.settings.Setting`.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from magicgui import widgets
from qtpy.QtWidgets import QFormLayout, QLabel, QWidget

from ...choices import (
    Choice,
    FrameTarget,
    ModelKind,
    PipelineKind,
    PredictionMode,
    Preset,
    StartFrom,
    VideoScope,
)
from ...config import MODEL_CONFIGS, TrainingConfig
from ...config.settings import Setting, setting_of, value_type
from ...inference.frames import FrameSelection

WIDGET_MAX = 10**9
PREDICT_TARGETS = (
    FrameTarget.CURRENT,
    FrameTarget.RANDOM,
    FrameTarget.SUGGESTED,
    FrameTarget.LABELED,
    FrameTarget.RANGE,
    FrameTarget.ALL,
)


@dataclass
class AfterTraining:
    """What the dock predicts when training ends."""

    predict_on: FrameTarget | None = Setting(
        "Predict on after training",
        "Which frames the trained models predict when training ends.",
        none="nothing",
        options=PREDICT_TARGETS,
    ).field(FrameTarget.SUGGESTED)
    random_count: int = Setting(
        "Random frames", "How many random unlabelled frames to predict on.", lo=1, hi=100000
    ).field(20)
    first_frame: int = Setting("From frame", "First frame of the range to predict on.", lo=0).field(
        0
    )
    last_frame: int = Setting("To frame", "Last frame of the range to predict on.", lo=0).field(100)
    videos: VideoScope = Setting(
        "Videos", "Predict on the video being shown, or on every video of the project."
    ).field(VideoScope.CURRENT)
    existing: PredictionMode = Setting(
        "Existing predictions", "What happens to earlier predictions on the predicted frames."
    ).field(PredictionMode.REPLACE)

    def selection(self, current_frame: int) -> FrameSelection | None:
        """The frames to predict on (None: nothing)."""
        target = self.predict_on
        if target is None:
            return None
        if target is FrameTarget.CURRENT:
            return FrameSelection.of([current_frame])
        if target is FrameTarget.RANGE:
            return FrameSelection(target, start=self.first_frame, stop=self.last_frame + 1)
        return FrameSelection(target, count=self.random_count)


@dataclass
class ModelStart:
    """How one model of a run starts."""

    start: StartFrom = Setting(
        "Start from",
        "Train from scratch; use an earlier model as it is (no training); fine-tune: train "
        "anew (epochs, schedule and time limit from the start) beginning with an earlier "
        "model's best weights; resume: go on with an interrupted model from its last "
        "checkpoint (its epoch, schedule and time spent), into this run's folder.",
    ).field(StartFrom.SCRATCH)
    folder: Path | None = Setting(
        "Earlier model folder", "A model folder written by an earlier run.", none="none"
    ).field(None)

    def earlier(self) -> Path | None:
        """The earlier model folder this start uses, or None."""
        if self.start is StartFrom.SCRATCH or self.folder in (None, Path()):
            return None
        return self.folder


def _starts() -> dict[ModelKind, ModelStart]:
    return {kind: ModelStart() for kind in ModelKind}


@dataclass
class DockSettings:
    """Everything the training dock's forms show."""

    preset: Preset = Setting(
        "Preset",
        "Starting settings: 'fast CPU' reaches a usable model in minutes without a GPU (a "
        "time budget, a higher learning rate with cosine decay); 'SLEAP defaults' are SLEAP's "
        "baseline settings, best on a GPU. Choosing one resets every field.",
    ).field(Preset.SLEAP)
    pipeline: PipelineKind | None = Setting(
        "Training/Inference Pipeline Type",
        "auto: single animal when no labelled frame holds more than one animal, else "
        "top-down. single animal: one network finds the body parts of the one animal on "
        "the whole frame. top-down: a centroid network finds each animal, a "
        "centered-instance network its body parts in a crop around it (best when animals "
        "are apart and small in the frame). bottom-up: one network finds every body part "
        "and groups them along the skeleton's edges (animals in close contact; the "
        "skeleton needs edges). top-down-ID: top-down whose instance network also names "
        "each animal as one of the labelled tracks (animals that look different; every "
        "labelled instance needs its track). bottom-up-ID: one network finds every body "
        "part and a map per track, and groups the body parts by track (animals that look "
        "different and touch; no edges needed).",
        none="auto (from the labels)",
        options=(
            PipelineKind.SINGLE_INSTANCE,
            PipelineKind.TOP_DOWN,
            PipelineKind.BOTTOM_UP,
            PipelineKind.TOP_DOWN_ID,
            PipelineKind.BOTTOM_UP_ID,
        ),
    ).field(None)
    config: TrainingConfig = field(default_factory=TrainingConfig)
    after: AfterTraining = field(default_factory=AfterTraining)
    starts: dict[ModelKind, ModelStart] = field(default_factory=_starts)


@dataclass(frozen=True)
class FieldSpec:
    """A form field: its widget's name, its path in :class:`DockSettings`, a label override."""

    name: str
    path: str
    label: str = ""
    section: str = ""  # a heading shown above this field


def _step(obj: Any, part: str) -> Any:
    return obj[part] if isinstance(obj, dict) else getattr(obj, part)


def template_settings() -> DockSettings:
    """Settings holding a part for every model, so every model's fields can be declared."""
    config = TrainingConfig()
    config.models = {kind: cls() for kind, cls in MODEL_CONFIGS.items()}
    return DockSettings(config=config)


def has_path(obj: Any, path: str) -> bool:
    """Whether a dotted path exists in ``obj`` (a model's field needs that model)."""
    try:
        get_path(obj, path)
    except (KeyError, AttributeError, StopIteration):
        return False
    return True


def get_path(obj: Any, path: str) -> Any:
    """The value at a dotted path (``*``: the first item of a mapping)."""
    for part in path.split("."):
        obj = next(iter(obj.values())) if part == "*" else _step(obj, part)
    return obj


def set_path(obj: Any, path: str, value: Any) -> None:
    """Set the value at a dotted path (``*``: in every item of a mapping)."""
    head, _, last = path.rpartition(".")
    owners = [obj]
    for part in head.split(".") if head else ():
        nxt = []
        for owner in owners:
            nxt.extend(owner.values() if part == "*" else [_step(owner, part)])
        owners = nxt
    for owner in owners:
        setattr(owner, last, value)


def declaration(template: Any, path: str) -> tuple[Setting, type, bool]:
    """The declaration, value type and nullability of the field at ``path``."""
    head, _, last = path.rpartition(".")
    owner = get_path(template, head) if head else template
    f = next(f for f in dataclasses.fields(owner) if f.name == last)
    kind, nullable = value_type(type(owner), last)
    return setting_of(f), kind, nullable


def _label(decl: Setting, override: str, none_is_zero: bool) -> str:
    """The label, with its unit and what 0 means where 0 stands for None."""
    notes = [decl.unit] if decl.unit in ("px", "min") else []
    if none_is_zero or decl.zero:
        notes.append(f"0 = {decl.zero or decl.none}")
    text = override or decl.label
    return f"{text} ({', '.join(notes)})" if notes else text


class FormField:
    """One widget bound to one setting; converts between widget and setting values."""

    def __init__(self, spec: FieldSpec, template: DockSettings):
        self.spec = spec
        self.decl, self.kind, self.nullable = declaration(template, spec.path)
        self.widget = self._make()
        label = _label(self.decl, spec.label, self._none_is_zero)
        self.widget.label = label
        if isinstance(self.widget, widgets.CheckBox):
            self.widget.text = label  # a check box shows its own text, not the label column
        self.widget.tooltip = self.decl.help
        self.label_widget: QLabel | None = None  # set by form_page

    def set_visible(self, visible: bool) -> None:
        """Show or hide the field and its label."""
        self.widget.native.setVisible(visible)
        if self.label_widget is not None:
            self.label_widget.setVisible(visible)

    @property
    def _none_is_zero(self) -> bool:
        return self.nullable and self.kind in (int, float)

    def _make(self) -> widgets.ValueWidget:
        decl, kind = self.decl, self.kind
        if kind is bool:
            return widgets.CheckBox()
        if isinstance(kind, type) and issubclass(kind, Choice):
            members = decl.options or tuple(kind)
            choices = [(m.label, m) for m in members]
            return widgets.ComboBox(
                choices=[(decl.none, None), *choices] if self.nullable else choices
            )
        if decl.options:
            return widgets.ComboBox(choices=list(decl.options))
        if kind is Path:
            return widgets.FileEdit(mode="d")
        if kind is str:
            return (
                widgets.ComboBox(choices=[(decl.none, None)])
                if self.nullable
                else widgets.LineEdit()
            )
        lo = 0 if self._none_is_zero or decl.lo is None else decl.lo
        hi = WIDGET_MAX if decl.hi is None else decl.hi
        make = widgets.SpinBox if kind is int else widgets.FloatSpinBox
        return make(min=lo, max=hi, step=decl.step or 1)

    def show(self, value: Any) -> None:
        """Put a setting's value in the widget."""
        if value is None and self._none_is_zero:
            value = 0
        elif value is None and self.kind is Path:
            value = ""
        elif isinstance(self.widget, widgets.ComboBox) and value not in self.widget.choices:
            value = self.widget.choices[0]
        self.widget.value = value

    def read(self) -> Any:
        """The widget's value as a setting's value."""
        value = self.widget.value
        if self._none_is_zero:
            return self.kind(value) or None
        if self.kind is Path:
            return None if str(value) in ("", ".") else Path(value)
        return value


def form_page(fields: list[FormField]) -> QWidget:
    """A page of labelled fields; a field whose label leaves it too little room goes on the
    line below its label, so a narrow dock shows every field whole."""
    page = QWidget()
    layout = QFormLayout(page)
    layout.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
    layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    for f in fields:
        if f.spec.section:
            heading = QLabel(f"<b>{f.spec.section}</b>")
            heading.setContentsMargins(0, 8, 0, 0)
            layout.addRow(heading)
        if isinstance(f.widget, widgets.CheckBox):
            layout.addRow(f.widget.native)
        else:
            label = QLabel(f.widget.label)
            label.setToolTip(f.decl.help)
            f.label_widget = label
            layout.addRow(label, f.widget.native)
    return page


class SettingsForm:
    """The widgets of a :class:`DockSettings`, one page per tab."""

    def __init__(self, tabs: dict[str, list[FieldSpec]]):
        template = template_settings()
        self.fields: dict[str, FormField] = {}
        self.tabs: dict[str, QWidget] = {}
        for tab, specs in tabs.items():
            for spec in specs:
                self.fields[spec.name] = FormField(spec, template)
            self.tabs[tab] = form_page([self.fields[spec.name] for spec in specs])
        self.widgets = {name: f.widget for name, f in self.fields.items()}
        self._base = template
        self.showing = False  # while show() fills the widgets, their changes are not edits
        for f in self.fields.values():  # a setting shown in two tabs: both show an edit
            twins = [g for g in self.fields.values() if g is not f and g.spec.path == f.spec.path]
            if twins:
                f.widget.changed.connect(lambda *_, f=f, twins=twins: self._mirror(f, twins))

    def _mirror(self, edited: FormField, twins: list[FormField]) -> None:
        if self.showing:
            return
        self.showing = True
        try:
            for twin in twins:
                twin.show(edited.read())
        finally:
            self.showing = False

    def show(self, settings: DockSettings) -> None:
        """Show ``settings`` (settings without a field are kept as they are); the fields of
        models the pipeline lacks are hidden."""
        self._base = copy.deepcopy(settings)
        self.showing = True
        try:
            for f in self.fields.values():
                present = has_path(settings, f.spec.path)
                f.set_visible(present)
                if present:
                    f.show(get_path(settings, f.spec.path))
        finally:
            self.showing = False

    def read(self) -> DockSettings:
        """New settings from the widgets' values (may be invalid: check the config)."""
        settings = copy.deepcopy(self._base)
        for f in self.fields.values():
            if has_path(settings, f.spec.path):
                set_path(settings, f.spec.path, f.read())
        return settings

    def field_for(self, config_path: str) -> FormField | None:
        """The field that shows a configuration path named in a validation problem."""
        path = f"config.{config_path}"
        for f in self.fields.values():
            pattern = f.spec.path.split(".")
            parts = path.split(".")
            if len(pattern) == len(parts) and all(a in ("*", b) for a, b in zip(pattern, parts)):
                return f
        return None

    def set_choices(self, name: str, values: list[str]) -> None:
        """Offer ``values`` in an optional text field (the anchor part's nodes)."""
        f = self.fields[name]
        current = f.widget.value
        f.widget.choices = [(f.decl.none, None), *((v, v) for v in values)]
        f.widget.value = current if current in f.widget.choices else None

    def on_change(self, callback: Callable[[], None], *names: str) -> None:
        """Call ``callback`` whenever the user changes a field (``names``: one of those
        fields only); changes made by :meth:`show` do not count."""

        def changed(*_) -> None:
            if not self.showing:
                callback()

        for name in names or self.widgets:
            self.widgets[name].changed.connect(changed)
