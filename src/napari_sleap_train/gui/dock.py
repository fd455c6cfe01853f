"""The "Run Training…" dock: SLEAP's training dialog as a napari dock widget.

It turns layers into a project, forms into a config and engine events into plots and
layers; training and prediction run in napari thread workers.
"""

from __future__ import annotations

import datetime as _dt
import gc
import math
from pathlib import Path

import numpy as np
from napari.qt.threading import thread_worker
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..config import TrainingConfig, default_config, preset
from ..data.geometry import auto_crop_size, instance_anchors, instance_bbox_sides
from ..errors import SleapTrainError
from ..models.receptive_field import receptive_field_px
from .forms import (
    MODEL_TABS,
    PRESET_NAMES,
    START_CHOICES,
    ConfigForm,
    load_last_config,
    save_last_config,
)
from .layers import all_instances, frame_instances, labels_layer, project_from_viewer
from .monitor import TrainingMonitor

RF_LAYER = "receptive field"
CROP_LAYER = "crop boxes"
KNOWN_ERRORS = SleapTrainError
HINTS = {
    "Out of memory": "Lower Batch Size or Input Scaling.",
}


def _warm_up_torch() -> None:
    """Run one optimiser step here, so its one-off imports do not stall the GUI later.

    The first ``Adam.step`` of a process imports parts of torch while holding the GIL;
    done inside the training worker it froze the viewer for ~0.2 s.
    """
    import torch

    param = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([param])
    (param * 2).sum().backward()
    opt.step()
    # The objects of napari, Qt and torch live for the whole session: move them out of the
    # garbage collector's reach, so its full passes (0.5 s and more here) stay short.
    gc.collect()
    gc.freeze()


def square(center_xy: tuple[float, float], side: float, frame: int) -> np.ndarray:
    """Corners of an axis-aligned square as napari ``(frame, y, x)`` rows."""
    x, y = center_xy
    h = side / 2
    return np.array(
        [
            [frame, y - h, x - h],
            [frame, y - h, x + h],
            [frame, y + h, x + h],
            [frame, y + h, x - h],
        ],
        float,
    )


class TrainingDock(QWidget):
    """Settings tabs, previews, Run/Stop/Cancel, training monitor and earlier runs."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.worker = None
        self.stop_all = None
        self.stop_model = None
        self.run_dir: Path | None = None
        self.models: dict[str, Path] = {}
        self.last_problems: dict[str, str] = {}
        self._updating = False
        self._last_frame: int | None = None
        self._instances_cache = None

        self.form = ConfigForm(self._node_names())
        last = load_last_config()
        if last is not None:
            self.form.set_config(last)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._pipeline_tab(), "Training Pipeline")
        self.rf_labels: dict[str, QLabel] = {}
        for kind, title in MODEL_TABS.items():
            page = QWidget()
            lay = QVBoxLayout(page)
            label = QLabel()
            self.rf_labels[kind] = label
            lay.addWidget(label)
            lay.addWidget(self.form.tabs[kind].native)
            lay.addStretch()
            self.tabs.addTab(page, title)
        self.tabs.currentChanged.connect(lambda *_: self.update_previews())

        self.problems = QLabel()
        self.problems.setStyleSheet("color: #ff6060")
        self.problems.setWordWrap(True)
        self.device_label = QLabel(self._device_text())
        self.device_label.setWordWrap(True)
        self.status = QLabel("Ready.")
        self._status_log: list[str] = []
        self.status.setWordWrap(True)

        self.run_button = QPushButton("Run")
        self.stop_button = QPushButton("Stop")
        self.cancel_button = QPushButton("Cancel")
        self.stop_button.setToolTip(
            "End the current model now and keep its best checkpoint; you then choose to go "
            "on to the next model or to predict with what is trained."
        )
        self.cancel_button.setToolTip("End training now; models trained so far are kept.")
        self.run_button.clicked.connect(self.run)
        self.stop_button.clicked.connect(self.stop)
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        for b in (self.run_button, self.stop_button, self.cancel_button):
            buttons.addWidget(b)
        self.offer = QWidget()
        offer = QHBoxLayout(self.offer)
        offer.setContentsMargins(0, 0, 0, 0)
        self.offer_label = QLabel()
        self.offer_label.setWordWrap(True)
        self.go_on_button = QPushButton("Train next model")
        self.finish_button = QPushButton("Predict now")
        self.go_on_button.clicked.connect(lambda: self._answer_offer(True))
        self.finish_button.clicked.connect(lambda: self._answer_offer(False))
        for w in (self.offer_label, self.go_on_button, self.finish_button):
            offer.addWidget(w)
        self.offer.hide()
        self._choice = None
        self._preview_frame: int | None = None
        self._previews = None

        self.monitor = TrainingMonitor()
        self.runs = QListWidget()
        self.runs.setToolTip("Earlier runs; select one and press Predict to use it.")
        self.predict_button = QPushButton("Predict with selected run")
        self.predict_button.clicked.connect(self.predict_selected)
        self.add_run_button = QPushButton("Add model folder…")
        self.add_run_button.clicked.connect(self._add_run_dialog)
        run_buttons = QHBoxLayout()
        run_buttons.addWidget(self.predict_button)
        run_buttons.addWidget(self.add_run_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.problems)
        layout.addWidget(self.device_label)
        layout.addLayout(buttons)
        layout.addWidget(self.offer)
        layout.addWidget(self.status)
        layout.addWidget(self.monitor)
        layout.addWidget(QLabel("Runs:"))
        layout.addWidget(self.runs)
        layout.addLayout(run_buttons)

        self.form.on_change(self._settings_changed)
        self.form.widgets["preset"].changed.connect(self._preset_chosen)
        self.viewer.dims.events.current_step.connect(self._frame_changed)
        self.viewer.layers.events.inserted.connect(self._layers_changed)
        self.viewer.layers.events.removed.connect(self._layers_changed)
        self._live = _LiveWork()
        self.destroyed.connect(self._live.shutdown)
        self._set_running(False)
        self._refresh_runs()
        self._watch_labels()
        self._settings_changed()

    def _say(self, text: str) -> None:
        """Show a status line (the last 50 are kept for the record)."""
        self.status.setText(text)
        self._status_log = [*self._status_log[-49:], text]

    # ----- layout pieces -------------------------------------------------------------
    def _pipeline_tab(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.addWidget(self.form.tabs["pipeline"].native)
        self.crop_label = QLabel()
        self.crop_label.setWordWrap(True)
        lay.addWidget(self.crop_label)
        self.count_label = QLabel()
        lay.addWidget(self.count_label)
        self.sizes = QListWidget()
        self.sizes.setMaximumHeight(90)
        self.sizes.setToolTip("Largest labelled instances: click one to jump to its frame.")
        self.sizes.itemClicked.connect(self._jump_to_instance)
        lay.addWidget(QLabel("Largest labelled instances (click to view):"))
        lay.addWidget(self.sizes)
        row = QHBoxLayout()
        for text, slot in (
            ("View Training Image Inputs…", self.view_training_inputs),
            ("Save configuration…", self._save_config_dialog),
            ("Load configuration…", self._load_config_dialog),
            ("Reset to defaults", self.reset_defaults),
            ("Export training job…", self._export_job_dialog),
        ):
            button = QPushButton(text)
            button.clicked.connect(slot)
            row.addWidget(button)
        lay.addLayout(row)
        lay.addStretch()
        return page

    def _device_text(self) -> str:
        import torch

        _warm_up_torch()

        if torch.cuda.is_available():
            return f"Training on the GPU: {torch.cuda.get_device_name(0)}."
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "Training on the Apple GPU (MPS)."
        return (
            "Training on the CPU (no GPU found): the fast CPU preset trains both models "
            "within its time budget; the time per epoch is measured once training starts."
        )

    # ----- project & settings ------------------------------------------------------------
    def _node_names(self) -> list[str]:
        layer = labels_layer(self.viewer)
        if layer is None:
            return []
        kp = layer.features["keypoint"]
        return [str(c) for c in kp.cat.categories] if hasattr(kp, "cat") else sorted(set(kp))

    def _layers_changed(self, *_) -> None:
        if self._updating:
            return
        self._instances_cache = None
        self._watch_labels()
        self.form.set_nodes(self._node_names())
        self._validate()

    def config(self) -> TrainingConfig:
        """The configuration the forms show."""
        return self.form.config()

    def _settings_changed(self) -> None:
        if self._validate():
            save_last_config(self.config())
        self.update_previews()

    def _validate(self) -> bool:
        """Flag invalid settings next to their fields; Run is enabled only without any."""
        config = self.config()
        problems = config.problems()
        self.last_problems = problems
        for widget in self.form.widgets.values():
            widget.native.setStyleSheet("")
        lines = []
        for path, message in problems.items():
            name = self.form.field_for_problem(path)
            if name:
                self.form.widgets[name].native.setStyleSheet("border: 1px solid #ff4040")
                lines.append(f"{self.form.fields[name].label}: {message}")
            else:
                lines.append(f"{path}: {message}")
        self.problems.setText("\n".join(lines))
        self.run_button.setEnabled(not problems and self.worker is None)
        return not problems

    def reset_defaults(self) -> None:
        """Show the engine's defaults for this machine in every field."""
        from ..config import default_preset

        self.form.widgets["preset"].value = PRESET_NAMES[default_preset()]
        self.form.set_config(default_config())

    def _preset_chosen(self, *_) -> None:
        name = next(k for k, v in PRESET_NAMES.items() if v == self.form.widgets["preset"].value)
        self.form.set_config(preset(name))

    def save_config(self, path: str | Path) -> Path:
        return self.config().save(path)

    def load_config(self, path: str | Path) -> None:
        self.form.set_config(TrainingConfig.load(path))

    def _save_config_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save configuration", "", "JSON (*.json)")
        if path:
            self.save_config(path)

    def _load_config_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load configuration", "", "JSON (*.json)")
        if path:
            try:
                self.load_config(path)
            except SleapTrainError as exc:
                show_error(f"Could not load {path}: {exc}")

    def export_job(self, path: str | Path):
        """Write a training job (.zip) in a worker; returns the worker."""
        from ..jobs import export_job, job_commands

        try:
            config = self.config().validate()
            project = project_from_viewer(self.viewer)
        except KNOWN_ERRORS as exc:
            show_error(str(exc))
            return None
        worker = thread_worker(export_job, start_thread=False)(project, config, path)

        def done(out: Path) -> None:
            self._say(f"Training job written to {out}. Run it with: {job_commands(out.name)}")
            show_info(f"Training job written to {out}.")

        worker.returned.connect(done)
        worker.errored.connect(lambda exc: show_error(f"Could not export the job: {exc}"))
        self._say(f"Exporting the training job to {path} …")
        worker.start()
        return worker

    def _export_job_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export training job", "training_job.zip", "Training job (*.zip)"
        )
        if path:
            self.export_job(path)

    # ----- previews ----------------------------------------------------------------------
    def current_frame(self) -> int:
        return int(self.viewer.dims.current_step[0]) if self.viewer.dims.ndim else 0

    def _frame_changed(self, *_) -> None:
        self._preview_frame = self.current_frame()
        if self.current_frame() != self._last_frame:
            self.update_previews()

    def _watch_labels(self) -> None:
        """Follow edits of the user-labels layer (counts, crop size, previews)."""
        layer = labels_layer(self.viewer)
        if layer is not None and layer is not getattr(self, "_watched", None):
            self._watched = layer
            layer.events.data.connect(self._labels_edited)

    def _labels_edited(self, event=None) -> None:
        action = getattr(event, "action", None)
        if action is not None and str(action).lower().endswith("ing"):
            return  # the "…ing" event before a change; redraw after it
        self._instances_cache = None
        self.update_previews()

    def training_counts(self) -> tuple[int, int]:
        """Labelled frames and instances the next run trains on (those with a visible node)."""
        frames, pts = self._instances()
        if not len(pts):
            return 0, 0
        ok = np.isfinite(pts).all(-1).any(-1)
        return len(set(frames[ok].tolist())), int(ok.sum())

    def _instances(self):
        if self._instances_cache is None:
            self._instances_cache = all_instances(labels_layer(self.viewer))
        return self._instances_cache

    def auto_crop(self, config: TrainingConfig) -> int | None:
        """The auto crop size for the labelled instances (None without labels)."""
        _, pts = self._instances()
        if not len(pts) or not np.isfinite(pts).any():
            return None
        aug = config.model("centered_instance").augmentation
        report = auto_crop_size(
            pts,
            config.model("centered_instance").backbone.max_stride,
            rotation_deg=aug.rotation_deg if aug.rotation else 0.0,
            scale_max=aug.scale_max if aug.scale else 1.0,
        )
        return report.size

    def receptive_field(self, kind: str, config: TrainingConfig) -> float:
        """Receptive field of a model in original-frame pixels."""
        section = config.model(kind)
        b = section.backbone
        try:
            rf = receptive_field_px(b.max_stride, b.convs_per_block)
        except ValueError:
            return float("nan")
        return rf / section.input_scaling

    def update_previews(self) -> None:
        """Redraw the receptive-field square and the crop boxes on the current frame."""
        if self._updating or not hasattr(self, "crop_label"):
            return
        if labels_layer(self.viewer) is None:
            return
        self._updating = True
        try:
            self._draw_previews()
        finally:
            self._updating = False

    def _draw_previews(self) -> None:
        config = self.config()
        frame = self._last_frame = self.current_frame()
        auto = self.auto_crop(config)
        crop = config.model("centered_instance").crop_size or auto
        self.crop_label.setText(
            f"Crop size: {crop} px"
            + (
                " (auto)"
                if config.model("centered_instance").crop_size is None
                else f" (auto would be {auto} px)"
            )
            if crop
            else "Crop size: auto (label an animal to compute it)."
        )
        for kind, label in self.rf_labels.items():
            rf = self.receptive_field(kind, config)
            label.setText(
                f"Receptive field: {rf:.0f} px on the original frame"
                if math.isfinite(rf)
                else "Receptive field: -"
            )
        insts = frame_instances(labels_layer(self.viewer), frame)
        anchor_idx = None
        nodes = self._node_names()
        if config.pipeline.anchor_part in nodes:
            anchor_idx = nodes.index(config.pipeline.anchor_part)
        anchors = instance_anchors(insts, anchor_idx) if insts.size else np.zeros((0, 2))
        anchors = anchors[np.isfinite(anchors).all(1)]
        kind = "centered_instance" if self.tabs.currentIndex() == 2 else "centroid"
        rf = self.receptive_field(kind, config)
        centre = tuple(anchors[0]) if len(anchors) else tuple(self.viewer.camera.center[-1:-3:-1])
        rf_shapes = [square(centre, rf, frame)] if math.isfinite(rf) else []
        self._set_shapes(
            RF_LAYER, rf_shapes, edge_color="#3070ff", face_color="#3070ff40", edge_width=2
        )
        boxes = [square(tuple(a), crop, frame) for a in anchors] if crop else []
        self._set_shapes(
            CROP_LAYER, boxes, edge_color="red", face_color="transparent", edge_width=2
        )
        self._update_sizes(crop)
        n_frames, n_instances = self.training_counts()
        self.count_label.setText(
            f"The next run trains on {n_frames} labelled frames, {n_instances} instances."
        )

    def _set_shapes(self, name: str, shapes: list[np.ndarray], **style) -> None:
        if name in self.viewer.layers:
            layer = self.viewer.layers[name]
            layer.data = []
            if shapes:
                layer.add_rectangles(shapes, **style)
            return
        active = self.viewer.layers.selection.active
        self.viewer.add_shapes(shapes or None, shape_type="rectangle", name=name, ndim=3, **style)
        if active is not None:
            self.viewer.layers.selection.active = active

    def _update_sizes(self, crop: int | None) -> None:
        frames, pts = self._instances()
        sides = instance_bbox_sides(pts) if len(pts) else np.zeros(0)
        self.sizes.clear()
        if not len(sides):
            return
        order = np.argsort(-np.nan_to_num(sides, nan=-1))[:5]
        med = float(np.nanmedian(sides))
        for i in order:
            bar = "█" * int(round(10 * sides[i] / max(np.nanmax(sides), 1)))
            item = QListWidgetItem(
                f"frame {frames[i]}: {sides[i]:.0f} px {bar}"
                f"{'  (crop ' + str(crop) + ' px)' if crop else ''}"
                f"{'  ← unusually large' if sides[i] > 2 * med else ''}"
            )
            item.setData(Qt.ItemDataRole.UserRole, int(frames[i]))
            self.sizes.addItem(item)

    def _jump_to_instance(self, item: QListWidgetItem) -> None:
        self.viewer.dims.set_current_step(0, int(item.data(Qt.ItemDataRole.UserRole)))

    def view_training_inputs(self, n: int = 6) -> list:
        """Add augmented training samples and their target maps as layers."""
        import torch

        from ..data.datasets import (
            CentroidData,
            InstanceData,
            load_labelled_data,
            resolve_crop_size,
        )

        try:
            config = self.config().validate()
            project = project_from_viewer(self.viewer)
            data = load_labelled_data(project, config.pipeline.anchor_part)
        except KNOWN_ERRORS as exc:
            show_error(str(exc))
            return []
        gen = torch.Generator().manual_seed(0)
        rows = list(range(data.n_frames))
        crop, _ = resolve_crop_size(data, config.model("centered_instance"))
        added = []
        for ds in (
            CentroidData(data, rows, config.model("centroid")),
            InstanceData(data, rows, config.model("centered_instance"), crop),
        ):
            idx = torch.randint(len(ds), (min(n, len(ds)),), generator=gen)
            x, y = ds.batch(idx, gen, augment=True)
            title = MODEL_TABS[ds.kind]
            for name in (f"{title} inputs", f"{title} targets"):
                if name in self.viewer.layers:
                    self.viewer.layers.remove(name)
            img = x.permute(0, 2, 3, 1).numpy() if x.shape[1] == 3 else x[:, 0].numpy()
            added.append(
                self.viewer.add_image(
                    img, name=f"{title} inputs", rgb=x.shape[1] == 3, contrast_limits=[0, 1]
                )
            )
            added.append(
                self.viewer.add_image(
                    y.max(1).values.numpy(),
                    name=f"{title} targets",
                    colormap="magma",
                    blending="additive",
                    opacity=0.6,
                    contrast_limits=[0, 1],
                    scale=(1, ds.output_stride, ds.output_stride),
                    translate=(0, 0, 0),
                )
            )
        return added

    # ----- run -----------------------------------------------------------------------
    def _runs_root(self, project) -> Path:
        if project.path is not None:
            return Path(project.path).parent / "models"
        return Path.home() / "napari-sleap-train" / "models"

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running and not self.last_problems)
        self.stop_button.setEnabled(running)
        self.cancel_button.setEnabled(running)
        self.predict_button.setEnabled(not running)

    def run(self) -> None:
        """Train the models the tabs ask for in a worker, then predict."""
        from ..training import StopToken
        from ..training.pipeline import pipeline_events

        if self.worker is not None:
            return
        try:
            config = self.config().validate()
            project = project_from_viewer(self.viewer)
        except KNOWN_ERRORS as exc:
            show_error(str(exc))
            return
        save_last_config(config)
        stamp = _dt.datetime.now().strftime("%Y%m%d_%H%M%S")
        self.run_dir = self._runs_root(project) / f"run_{stamp}"
        models, init, trained, self.models = [], {}, {}, {}
        for kind in MODEL_TABS:
            mode, folder = self.form.start_mode(kind)
            if mode == START_CHOICES[1] and folder:
                self.models[kind] = trained[kind] = Path(folder)
            else:
                models.append(kind)
                self.models[kind] = self.run_dir / kind
                if mode == START_CHOICES[2] and folder:
                    init[kind] = folder
        self.project = project
        self.stop_all, self.stop_model = StopToken(), StopToken()
        self._preview_frame = self.current_frame()
        self._previews = None
        self._redraw_predictions()  # create the layer now: adding one later stalls the viewer
        self.monitor.set_budget(config.pipeline.time_budget_minutes)

        def events():
            yield from pipeline_events(
                project,
                config,
                self.run_dir,
                stop=self.stop_all,
                next_model=self.stop_model,
                models=tuple(models),
                init_weights=init,
                trained=trained,
                preview_frame=lambda: self._preview_frame,
            )

        self.worker = thread_worker(events, start_thread=False)()
        self._live.track(self.worker, self.stop_all, self.stop_model)
        self.worker.yielded.connect(self._on_event)
        self.worker.errored.connect(self._on_error)
        self.worker.finished.connect(self._on_training_done)
        self._set_running(True)
        self._say(f"Training into {self.run_dir} …")
        self.worker.start()

    def stop(self) -> None:
        """End the current model now (its best checkpoint is kept), then offer what next."""
        if self.stop_model is not None:
            self.stop_model.request()
            self._say("Stopping after this batch; the best checkpoint is kept …")

    def cancel(self) -> None:
        """End training now; nothing is predicted."""
        if self.stop_all is not None:
            self.stop_all.request()
            self._cancelled = True
        self._answer_offer(False)

    def _offer_next(self, event) -> None:
        self._choice = event.choice
        self.offer_label.setText(
            f"{MODEL_TABS[event.model]} stopped; its best checkpoint is saved. Train the "
            f"{MODEL_TABS[event.next_model]} next, or stop here and predict?"
        )
        self.go_on_button.setText(f"Train {MODEL_TABS[event.next_model]}")
        can_predict = all(self._has_model(k) for k in MODEL_TABS)
        self.finish_button.setText("Predict now" if can_predict else "Finish here")
        self.offer.show()

    def _answer_offer(self, go_on: bool) -> None:
        """Answer the question shown after Stop: train the next model, or finish here."""
        choice, self._choice = self._choice, None
        self.offer.hide()
        if choice is not None:
            choice.answer(go_on)

    def _has_model(self, kind: str) -> bool:
        folder = self.models.get(kind)
        return folder is not None and (folder / "best.pt").exists()

    def _on_event(self, event) -> None:
        from ..training import (
            BatchEnded,
            EpochEnded,
            NextModelOffered,
            PreviewPredicted,
            TrainingFinished,
            TrainingStarted,
        )

        if isinstance(event, TrainingStarted):
            self._started = event
            self._estimated = False
            section = self.config().model(event.model)
            self.monitor.start(
                MODEL_TABS[event.model],
                event.epochs,
                event.batches_per_epoch,
                section.optimization.early_stopping_patience,
            )
            for note in event.notes:
                show_info(note)
        elif isinstance(event, BatchEnded):
            self.monitor.batch(event.epoch, event.batch, event.loss)
            if not self._estimated and event.batch >= min(4, self._started.batches_per_epoch - 1):
                self._estimated = True
                self._say(self._estimate(event))
        elif isinstance(event, PreviewPredicted):
            self._show_preview(event)
        elif isinstance(event, NextModelOffered):
            self._offer_next(event)
        elif isinstance(event, EpochEnded):
            self.monitor.epoch(
                event.epoch,
                event.train_loss,
                event.val_loss,
                event.is_best,
                event.epochs_without_improvement,
            )
        elif isinstance(event, TrainingFinished):
            self._say(
                f"{MODEL_TABS[event.model]}: {event.reason} after "
                f"{event.epochs} epochs; best val loss "
                f"{event.best_val_loss:.3g} (epoch {event.best_epoch})."
            )

    def _estimate(self, event) -> str:
        """Time per epoch and for the whole model, from the steps measured so far."""
        started = self._started
        per_batch = event.elapsed / (event.batch + 1)
        per_epoch = per_batch * started.batches_per_epoch
        section = self.config().model(event.model)
        total = per_epoch * started.epochs
        limit = section.optimization.time_limit_minutes
        cap = f", capped at {limit:g} min by the time limit" if limit else ""
        where = "CPU" if started.device == "cpu" else started.device
        return (
            f"{MODEL_TABS[event.model]} on the {where}: about {per_epoch:.0f} s per epoch "
            f"(measured on the first batches); at most {_minutes(total)} for "
            f"{started.epochs} epochs{cap}, less when early stopping ends it."
        )

    def _show_preview(self, event) -> None:
        """Refresh the predictions on the previewed frame with the best models so far."""
        from ..inference.results import TemporaryPredictions

        if self._previews is None:
            self._previews = TemporaryPredictions(self.project, self.project.videos[0])
        self._previews.show(event.prediction)
        try:
            self._redraw_predictions()
        finally:
            event.shown.set()

    def _end_previews(self) -> None:
        """Undo the live previews, so only real predictions stay in the project."""
        if self._previews is not None:
            self._previews.restore()
            self._previews = None
            self._redraw_predictions()

    def _redraw_predictions(self) -> None:
        from .layers import show_predictions

        self._updating = True
        try:
            show_predictions(self.viewer, self.project)
        finally:
            self._updating = False

    def _on_error(self, exc: Exception) -> None:
        message = str(exc)
        hint = next((h for k, h in HINTS.items() if k in message), "")
        if isinstance(exc, KNOWN_ERRORS):
            show_error(message + (f" {hint}" if hint and hint not in message else ""))
        else:
            show_error(f"Training failed: {type(exc).__name__}: {exc}")
        self._say(f"Failed: {message}")
        self._failed = True

    def _on_training_done(self) -> None:
        self.worker = None
        self._answer_offer(False)
        self._end_previews()
        self._set_running(False)
        self._refresh_runs()
        failed = getattr(self, "_failed", False)
        cancelled = getattr(self, "_cancelled", False)
        self._failed = self._cancelled = False
        if failed or cancelled:
            if cancelled:
                self._say("Cancelled; models trained so far are kept.")
            return
        if self.form.widgets["predict_on"].value == "nothing":
            return
        missing = [MODEL_TABS[k] for k in MODEL_TABS if not self._has_model(k)]
        if missing:
            self._say(
                f"Not predicting: no {' or '.join(missing)} was trained. Run again, or pick "
                "a trained model in its tab (Start from: use trained model)."
            )
            return
        self.predict(self.models)

    # ----- predict ------------------------------------------------------------------
    def frame_spec(self) -> str | list[int]:
        """The frames the Pipeline tab asks to predict on."""
        choice = self.form.widgets["predict_on"].value
        if choice == "current frame":
            return [self.current_frame()]
        if choice == "random frames":
            return f"random:{int(self.form.widgets['random_count'].value)}"
        if choice == "frame range":
            text = str(self.form.widgets["frame_range"].value).replace(" ", "")
            a, _, b = text.partition("-")
            return f"{int(a or 0)}:{int(b) + 1 if b else ''}"
        return {
            "suggested frames": "suggested",
            "user-labelled frames": "labeled",
            "entire video": "all",
        }.get(choice, "suggested")

    def predict(self, models: dict[str, Path]) -> None:
        """Predict the chosen frames with ``models`` in a worker; show them as layers."""
        from ..inference.frames import select_frames
        from ..inference.topdown import PredictionStats, TopDownPredictor
        from ..video import LazyVideo

        if self.worker is not None:
            return
        try:
            project = project_from_viewer(self.viewer)
            predictor = TopDownPredictor.from_folders(
                models,
                peak_threshold=self.config().pipeline.peak_threshold,
            )
            predictor.check_skeleton(project.node_names)
            video = project.videos[0]
            frames = select_frames(project, video, self.frame_spec())
        except KNOWN_ERRORS as exc:
            show_error(str(exc))
            return
        if not frames:
            show_warning("No frames to predict on for this choice (they may all be labelled).")
            return
        stats = PredictionStats()

        def work():
            lazy = LazyVideo(video)
            out = []
            for pred in predictor.predict_video(lazy, frames, stats=stats):
                out.append(pred)
                yield len(out)
            lazy.close()
            return out

        self.project = project
        self.worker = thread_worker(work, start_thread=False)()
        self._live.track(self.worker)
        self.monitor.progress.setRange(0, len(frames))
        self.worker.yielded.connect(self.monitor.progress.setValue)
        self.worker.returned.connect(lambda preds: self._show_predictions(preds, stats))
        self.worker.errored.connect(self._on_error)
        self.worker.finished.connect(self._on_predict_done)
        self._set_running(True)
        self._say(f"Predicting {len(frames)} frames …")
        self.worker.start()

    def _on_predict_done(self) -> None:
        self.worker = None
        self._set_running(False)

    def _show_predictions(self, preds, stats) -> None:
        from ..inference.results import add_predictions
        from .layers import show_predictions

        mode = {"replace": "replace", "keep both": "keep", "clear all": "clear_all"}[
            self.form.widgets["existing"].value
        ]
        project = self.project
        n = add_predictions(project, project.videos[0], preds, mode=mode)
        self._updating = True
        try:
            show_predictions(self.viewer, project)
        finally:
            self._updating = False
        if preds:
            self.viewer.dims.set_current_step(0, preds[0].frame_idx)
        scores = np.concatenate([p.scores for p in preds]) if preds else np.zeros(0)
        text = (
            f"Predicted {stats.frames} frames: {n} instances, mean score "
            f"{scores.mean() if len(scores) else float('nan'):.2f} "
            f"({stats.fps:.1f} frames/s)."
        )
        self._say(text)
        show_info(text)

    # ----- runs -------------------------------------------------------------------
    def _refresh_runs(self) -> None:
        self.runs.clear()
        try:
            project = project_from_viewer(self.viewer)
        except KNOWN_ERRORS:
            return
        root = self._runs_root(project)
        extra = getattr(self, "_extra_runs", [])
        found = sorted(root.glob("run_*")) if root.is_dir() else []
        for folder in [*found, *extra]:
            if (folder / "centroid").is_dir() and (folder / "centered_instance").is_dir():
                item = QListWidgetItem(folder.name if folder in found else str(folder))
                item.setData(Qt.ItemDataRole.UserRole, str(folder))
                self.runs.addItem(item)

    def add_run(self, folder: str | Path) -> None:
        """List a models folder trained elsewhere (with centroid/ and centered_instance/)."""
        folder = Path(folder)
        if not ((folder / "centroid").is_dir() and (folder / "centered_instance").is_dir()):
            show_error(f"{folder} holds no centroid/ and centered_instance/ model folders.")
            return
        self._extra_runs = [*getattr(self, "_extra_runs", []), folder]
        self._refresh_runs()

    def _add_run_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Models folder")
        if folder:
            self.add_run(folder)

    def predict_selected(self) -> None:
        item = self.runs.currentItem()
        if item is None:
            show_warning("Select a run first.")
            return
        root = Path(item.data(Qt.ItemDataRole.UserRole))
        self.predict(
            {"centroid": root / "centroid", "centered_instance": root / "centered_instance"}
        )

    def shutdown(self) -> None:
        """Stop any worker and wait for it (closing the dock or the viewer)."""
        self._live.shutdown()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.shutdown()
        super().closeEvent(event)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


class _LiveWork:
    """The running worker and its stop tokens, reachable after the dock is deleted."""

    def __init__(self) -> None:
        self.worker = None
        self.tokens: tuple = ()

    def track(self, worker, *tokens) -> None:
        self.worker, self.tokens = worker, tokens

    def shutdown(self, *_, timeout: float = 5.0) -> None:
        for token in self.tokens:
            if token is not None:
                token.request()
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.quit()
            worker.await_workers(msecs=int(timeout * 1000))
