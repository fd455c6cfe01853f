"""The training dock's settings: SLEAP's tabs, their validation, presets and saved files.

The last used configuration persists between sessions (the same JSON as Save
configuration), so a whole configuration survives, not only the fields of one form.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

from napari.utils.notifications import show_error
from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (
    QFileDialog,
    QLabel,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...choices import FrameTarget, ModelKind, PipelineKind, Preset, StartFrom
from ...config import MODEL_CONFIGS, FullFrameModelConfig, TrainingConfig, default_preset, preset
from ...errors import SleapTrainError
from ..last_config import load_last_config, save_last_config
from .forms import DockSettings, FieldSpec, SettingsForm

PIPELINE_TAB = "pipeline"
PIPELINE_FIELDS = [
    FieldSpec("pipeline", "pipeline"),
    FieldSpec("preset", "preset"),
    FieldSpec("time_budget", "config.pipeline.time_budget_minutes"),
    FieldSpec("camera_view", "config.pipeline.camera_view"),
    FieldSpec("adapt_to_video", "config.pipeline.adapt_to_video"),
    FieldSpec("adaptation_share", "config.pipeline.adaptation_share"),
    FieldSpec("pseudo_label_frames", "config.pipeline.pseudo_label_frames"),
    FieldSpec("learn_from_unlabelled", "config.pipeline.learn_from_unlabelled"),
    FieldSpec("unlabelled_pairs", "config.pipeline.unlabelled_pairs"),
    FieldSpec("unlabelled_weight", "config.pipeline.unlabelled_weight"),
    FieldSpec("ensemble_size", "config.pipeline.ensemble_size"),
    FieldSpec("anchor_part", "config.pipeline.anchor_part"),
    FieldSpec("centroid_sigma", "config.models.centroid.sigma", "Sigma for centroids"),
    FieldSpec("node_sigma", "config.models.centered_instance.sigma", "Sigma for nodes"),
    FieldSpec("crop_size", "config.models.centered_instance.crop_size"),
    FieldSpec("id_node_sigma", "config.models.centered_instance_id.sigma", "Sigma for nodes"),
    FieldSpec("id_crop_size", "config.models.centered_instance_id.crop_size"),
    FieldSpec("single_sigma", "config.models.single_instance.sigma", "Sigma for nodes"),
    FieldSpec("bottom_up_sigma", "config.models.bottom_up.sigma", "Sigma for nodes"),
    FieldSpec("edge_sigma", "config.models.bottom_up.paf_sigma"),
    FieldSpec("batch_size", "config.models.*.optimization.batch_size"),
    FieldSpec("predict_on", "after.predict_on"),
    FieldSpec("random_count", "after.random_count"),
    FieldSpec("first_frame", "after.first_frame"),
    FieldSpec("last_frame", "after.last_frame"),
    FieldSpec("videos", "after.videos"),
    FieldSpec("peak_threshold", "config.pipeline.peak_threshold"),
    FieldSpec("existing", "after.existing"),
    FieldSpec("tracker", "config.tracking.method", section="Tracker (cross-frame identity) method"),
    FieldSpec("max_tracks", "config.tracking.max_tracks"),
    FieldSpec("similarity", "config.tracking.similarity"),
    FieldSpec("size_cue", "config.tracking.size_cue"),
    FieldSpec("match", "config.tracking.matching"),
    FieldSpec("track_window", "config.tracking.window"),
    FieldSpec("robust_quantile", "config.tracking.robust_quantile"),
    FieldSpec("min_similarity", "config.tracking.min_similarity"),
    FieldSpec("connect_breaks", "config.tracking.connect_breaks"),
    FieldSpec("target_instances", "config.tracking.target_instances"),
    FieldSpec("smoothing", "config.tracking.smoothing", section="Smoothing over time"),
    FieldSpec("max_gap", "config.tracking.max_gap"),
    FieldSpec("smoothing_window", "config.tracking.smoothing_window"),
]
MODEL_FIELDS = (
    "backbone.max_stride",
    "backbone.filters",
    "backbone.filters_rate",
    "backbone.output_stride",
    "input_scaling",
    "sigma",
    "optimization.epochs",
    "optimization.batches_per_epoch",
    "optimization.learning_rate",
    "optimization.schedule",
    "optimization.time_limit_minutes",
    "optimization.early_stopping_patience",
    "optimization.early_stopping_min_delta",
    "optimization.validation_fraction",
    "augmentation.rotation",
    "augmentation.rotation_deg",
    "augmentation.scale",
    "augmentation.scale_min",
    "augmentation.scale_max",
    "augmentation.hflip",
    "augmentation.gaussian_noise",
    "augmentation.contrast",
    "augmentation.brightness",
)
BOTTOM_UP_FIELDS = (
    "paf_loss_weight",
    "max_edge_length_ratio",
    "dist_penalty_weight",
    "min_line_score",
    "min_instance_peaks",
)
ID_FIELDS = ("class_loss_weight", "class_units", "class_layers")
BOTTOM_UP_ID_FIELDS = ("class_loss_weight", "min_instance_peaks")
MODELS = tuple(MODEL_CONFIGS)  # a tab each; the pipeline's models are shown


def model_fields(kind: ModelKind) -> list[FieldSpec]:
    """The fields of a model's tab."""
    k = kind.value
    fields = list(MODEL_FIELDS)
    if issubclass(MODEL_CONFIGS[kind], FullFrameModelConfig):
        fields.insert(fields.index("input_scaling") + 1, "training_crop")
    if kind is ModelKind.BOTTOM_UP:
        fields += BOTTOM_UP_FIELDS
    if kind is ModelKind.CENTERED_INSTANCE_ID:
        fields += ID_FIELDS
    if kind is ModelKind.BOTTOM_UP_ID:
        fields += BOTTOM_UP_ID_FIELDS
    return [
        FieldSpec(f"{k}.start", f"starts.{k}.start"),
        FieldSpec(f"{k}.previous", f"starts.{k}.folder"),
        *(FieldSpec(f"{k}.{p.rpartition('.')[2]}", f"config.models.{k}.{p}") for p in fields),
    ]


def identity_note(counts: dict[str, int], missing: list[int]) -> str:
    """What an ID model would learn from the shown labels: instances per track, the frames
    lacking tracks."""
    from ...data.checks import MIN_TRACK_INSTANCES

    names = ", ".join(f"{name} ({n})" for name, n in counts.items()) or "none"
    lines = [f"Classes: {len(counts)} tracks; labelled instances per track: {names}."]
    if len(counts) < 2:
        lines.append("An ID model needs two or more tracks among the labelled instances.")
    few = [name for name, n in counts.items() if n < MIN_TRACK_INSTANCES]
    if few:
        lines.append(f"Few labelled instances (under {MIN_TRACK_INSTANCES}): {', '.join(few)}.")
    if missing:
        where = ", ".join(str(f) for f in missing[:10]) + (" …" if len(missing) > 10 else "")
        lines.append(
            f"Labelled instances without a track in {len(missing)} frames ({where}): give "
            "each its track (Tracks dock) before Run."
        )
    return "\n".join(lines)


class SettingsPanel(QWidget):
    """The tabs of settings, with invalid values outlined and explained under them.

    ``changed`` is emitted after every edit; :meth:`problems` says what is invalid.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        tabs = {PIPELINE_TAB: PIPELINE_FIELDS, **{k.value: model_fields(k) for k in MODELS}}
        self.form = SettingsForm(tabs)
        self.tabs = QTabWidget()
        self.pages: dict[str, QVBoxLayout] = {}
        titles = {PIPELINE_TAB: "Training Pipeline", **{k.value: k.label for k in MODELS}}
        for key, fields in self.form.tabs.items():
            page = QWidget()
            layout = QVBoxLayout(page)
            layout.setContentsMargins(2, 2, 2, 2)
            layout.addWidget(fields)
            layout.addStretch()
            self.pages[key] = layout
            scroll = QScrollArea()  # the dock may be shorter than a tab
            scroll.setWidgetResizable(True)
            scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
            scroll.setWidget(page)
            self.tabs.addTab(scroll, titles[key])
        self.buttons = QVBoxLayout()
        self.pages[PIPELINE_TAB].insertLayout(1, self.buttons)
        for text, slot in (
            ("Save configuration…", self._save_dialog),
            ("Load configuration…", self._load_dialog),
            ("Reset to defaults", self.reset_defaults),
        ):
            self.add_button(text, slot)
        self._problems: dict[str, str] = {}
        self._other_models: dict[ModelKind, object] = {}  # edits of models not shown now
        self.auto_kind: Callable[[], tuple[PipelineKind, str]] = lambda: (
            PipelineKind.TOP_DOWN,
            "no labels yet",
        )
        self.track_counts: Callable[[], tuple[dict[str, int], list[int]]] = lambda: ({}, [])
        self.video_length: Callable[[], int | None] = lambda: None
        self.pipeline_label = QLabel()
        self.pipeline_label.setWordWrap(True)
        self.pages[PIPELINE_TAB].insertWidget(0, self.pipeline_label)
        self.auto_label = QLabel()  # what "Choose settings from the data" chose, and why
        self.auto_label.setWordWrap(True)
        self.pages[PIPELINE_TAB].insertWidget(3, self.auto_label)  # below the buttons
        self.problem_label = QLabel()
        self.problem_label.setStyleSheet("color: #ff6060")
        self.problem_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        layout.addWidget(self.problem_label)

        settings = DockSettings(preset=default_preset(), config=preset(default_preset()))
        last = load_last_config()
        if last is not None:
            settings.config = last
        self.form.show(settings)
        self.form.on_change(self._edited)
        self.form.on_change(self._preset_chosen, "preset")
        self.form.on_change(self._pipeline_chosen, "pipeline")
        self._edited()

    # ----- layout ----------------------------------------------------------------------
    def add_button(self, text: str, slot) -> QPushButton:
        """A button in the pipeline tab, under its fields."""
        button = QPushButton(text)
        button.clicked.connect(slot)
        self.buttons.addWidget(button)
        return button

    def add_to_page(self, key: str, widget: QWidget, top: bool = False) -> None:
        """Put a widget on a tab (``pipeline`` or a model kind), at its top or bottom."""
        layout = self.pages[key]
        layout.insertWidget(0 if top else layout.count() - 1, widget)

    def current_model(self) -> ModelKind | None:
        """The model whose tab is shown, or None on the pipeline tab."""
        page = self.tabs.currentWidget().widget()
        for key, layout in self.pages.items():
            if layout.parentWidget() is page:
                return None if key == PIPELINE_TAB else ModelKind(key)
        return None

    # ----- values ----------------------------------------------------------------------
    def settings(self) -> DockSettings:
        return self.form.read()

    def config(self) -> TrainingConfig:
        """The configuration the forms show (may be invalid: see :meth:`problems`)."""
        return self.form.read().config

    def show_config(self, config: TrainingConfig) -> None:
        settings = self.form.read()
        settings.config = config
        self.form.show(settings)
        self._edited()

    def pipeline(self) -> tuple[PipelineKind, str]:
        """The pipeline the dock trains, and why (the user's choice, or auto's reason)."""
        chosen = self.form.widgets["pipeline"].value
        if chosen is not None:
            return PipelineKind(chosen), "chosen"
        kind, why = self.auto_kind()
        return kind, f"auto: {why}"

    def labels_changed(self) -> None:
        """The labels changed: with auto, follow the pipeline they call for."""
        self._pipeline_chosen()

    def _pipeline_chosen(self, *_) -> None:
        """Show the models of the pipeline chosen (or called for by the labels)."""
        kind, _ = self.pipeline()
        config = self.config()
        if PipelineKind(config.pipeline.kind) is not kind:
            # each model keeps what was set in its tab while another pipeline was shown
            self._other_models.update(copy.deepcopy(config.models))
            switched = config.for_pipeline(kind)
            for model in switched.models:
                if model in self._other_models:
                    switched.models[model] = copy.deepcopy(self._other_models[model])
            self.show_config(switched)
        else:
            self._show_pipeline(config)

    def set_nodes(self, node_names: list[str]) -> None:
        """Offer the skeleton's nodes as anchor parts."""
        self.form.set_choices("anchor_part", node_names)

    def problems(self) -> dict[str, str]:
        """What is invalid in the forms now (found at the last edit)."""
        return self._problems

    def _show_pipeline(self, config: TrainingConfig) -> None:
        """Show the tabs of the pipeline's models and say which pipeline it is."""
        for key, layout in self.pages.items():
            page = layout.parentWidget()
            index = next(
                i for i in range(self.tabs.count()) if self.tabs.widget(i).widget() is page
            )
            visible = key == PIPELINE_TAB or ModelKind(key) in config.models
            self.tabs.setTabVisible(index, visible)
        kind, why = self.pipeline()
        text = f"Pipeline: {kind.label} ({why}); trains " + ", ".join(
            k.label for k in config.models
        )
        if kind.identities:
            text += "\n" + identity_note(*self.track_counts())
        self.pipeline_label.setText(text)

    def _edited(self) -> None:
        """Outline invalid fields and say what to change; remember a valid configuration."""
        config = self.config()
        self._show_pipeline(config)
        problems = config.problems()
        for widget in self.form.widgets.values():
            widget.native.setStyleSheet("")
        lines = []
        for path, message in problems.items():
            f = self.form.field_for(path)
            if f is not None:
                f.widget.native.setStyleSheet("border: 1px solid #ff4040")
                lines.append(f"{f.widget.label}: {message}")
            else:
                lines.append(f"{path}: {message}")
        run = run_problems(self.form.read(), config, self.video_length())
        for name, message in run.items():
            widget = self.form.widgets[name]
            widget.native.setStyleSheet("border: 1px solid #ff4040")
            lines.append(f"{widget.label}: {message}")
        self._problems = {**problems, **run}
        self.problem_label.setText("\n".join(lines))
        if not problems:
            save_last_config(config)
        self.changed.emit()

    # ----- presets and files -----------------------------------------------------------
    def reset_defaults(self) -> None:
        """Show the engine's defaults for this machine in every field."""
        name = default_preset()
        self._other_models.clear()
        settings = self.form.read()
        settings.preset, settings.config = name, preset(name).for_pipeline(self.pipeline()[0])
        self.form.show(settings)
        self._edited()

    def _preset_chosen(self, *_) -> None:
        self._other_models.clear()
        kind, _ = self.pipeline()
        self.show_config(preset(Preset(self.form.widgets["preset"].value)).for_pipeline(kind))

    def save_config(self, path: str | Path) -> Path:
        return self.config().save(path)

    def load_config(self, path: str | Path) -> None:
        """Show a saved configuration; its pipeline becomes the chosen one."""
        config = TrainingConfig.load(path)
        self._other_models.clear()
        settings = self.form.read()
        settings.config, settings.pipeline = config, PipelineKind(config.pipeline.kind)
        self.form.show(settings)
        self._edited()

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save configuration", "", "JSON (*.json)")
        if path:
            try:
                self.save_config(path)
            except SleapTrainError as exc:
                show_error(str(exc))

    def _load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load configuration", "", "JSON (*.json)")
        if path:
            try:
                self.load_config(path)
            except SleapTrainError as exc:
                show_error(f"Could not load {path}: {exc}")


def run_problems(
    settings: DockSettings, config: TrainingConfig, video_length: int | None
) -> dict[str, str]:
    """What would make Run fail that the forms can tell now, by field name: a model folder
    to start from that does not hold a model, a frame range that is empty or runs past
    the video's end."""
    out = {}
    for kind in config.models:
        start = settings.starts[kind]
        if start.start is StartFrom.SCRATCH:
            continue
        folder = start.earlier()
        needs = "last.pt" if start.start is StartFrom.RESUME else "best.pt"
        if folder is None:
            out[f"{kind.value}.previous"] = f"choose the model folder to {start.start.label}."
        elif not folder.is_dir():
            out[f"{kind.value}.previous"] = f"{folder} does not exist; choose a model folder."
        elif not (folder / needs).exists():
            out[f"{kind.value}.previous"] = (
                f"{folder} holds no trained model ({needs}); choose a model folder written "
                "by an earlier run."
            )
    after = settings.after
    if after.predict_on is FrameTarget.RANGE:
        if after.first_frame > after.last_frame:
            out["first_frame"] = (
                f"frame {after.first_frame} comes after frame {after.last_frame}; swap them."
            )
        elif video_length is not None and after.last_frame >= video_length:
            out["last_frame"] = (
                f"the video has {video_length} frames (0 to {video_length - 1}); lower it."
            )
    return out
