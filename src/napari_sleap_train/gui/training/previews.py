"""Previews of the settings on the labels: receptive field, crop boxes, sizes and counts.

As SLEAP's receptive-field preview: the receptive field is a solid blue square on a
labelled animal, crops are red squares centred on each animal's anchor. They follow the
settings, the frame slider and every edit of the labels.
"""

from __future__ import annotations

import math

import numpy as np
from qtpy.QtWidgets import QLabel

from ...choices import ModelKind
from ...config import TrainingConfig
from ...data.camera_view import resolve_camera_view
from ...data.geometry import auto_crop_size, instance_anchors, instance_bbox_sides
from ...models.receptive_field import receptive_field_px
from ..layers.points_table import Counts, PointsTable
from ..layers.project_layers import ProjectLayers
from .settings_panel import MODELS, PIPELINE_TAB, SettingsPanel
from .size_histogram import SizeHistogram

RF_LAYER = "receptive field"
CROP_LAYER = "crop boxes"


def square(center_xy: tuple[float, float], side: float) -> np.ndarray:
    """Corners of an axis-aligned square as napari ``(y, x)`` rows."""
    x, y = center_xy
    h = side / 2
    return np.array([[y - h, x - h], [y - h, x + h], [y + h, x + h], [y + h, x - h]], float)


def receptive_field(config: TrainingConfig, kind: ModelKind) -> float:
    """Receptive field of a model in original-frame pixels (NaN for an invalid backbone)."""
    section = config.model(kind)
    try:
        rf = receptive_field_px(section.backbone.max_stride, section.backbone.convs_per_block)
    except ValueError:
        return float("nan")
    return rf / section.input_scaling if section.input_scaling > 0 else float("nan")


def auto_crop(config: TrainingConfig, xy: np.ndarray) -> int | None:
    """The auto crop size for labelled instances ``(M, N, 2)`` (None without any, or for a
    pipeline without crops)."""
    if config.crop_model is None:
        return None
    if not len(xy) or not np.isfinite(xy).any():
        return None
    section = config.model(config.crop_model)
    aug = section.augmentation
    report = auto_crop_size(
        xy,
        section.backbone.max_stride,
        rotation_deg=aug.rotation_deg if aug.rotation else 0.0,
        scale_max=aug.scale_max if aug.scale else 1.0,
    )
    return report.size


def training_crop(config: TrainingConfig) -> int | None:
    """The training crop of a pipeline's full-frame model (None: whole frames)."""
    return next((getattr(m, "training_crop", None) for m in config.models.values()), None)


class PreviewPanel:
    """Draws the previews into the viewer and their words into the settings' tabs."""

    def __init__(self, layers: ProjectLayers, settings: SettingsPanel):
        self.layers, self.settings = layers, settings
        self.crop_label = QLabel()
        self.crop_label.setWordWrap(True)
        self.count_label = QLabel()
        self.count_label.setWordWrap(True)
        self.view_label = QLabel()
        self.view_label.setWordWrap(True)
        self.sizes = SizeHistogram()
        self.sizes.jump.connect(lambda frame: layers.viewer.dims.set_current_step(0, frame))
        for widget in (self.crop_label, self.view_label, self.count_label, self.sizes):
            settings.add_to_page(PIPELINE_TAB, widget)
        self.rf_labels: dict[ModelKind, QLabel] = {}
        for kind in MODELS:
            self.rf_labels[kind] = QLabel()
            settings.add_to_page(kind.value, self.rf_labels[kind], top=True)
        self._table: PointsTable | None = None
        self._drawing = False
        self._counts: Counts | None = None

    def labels_edited(self) -> None:
        """The labels (or the video shown) changed: recount and redraw."""
        self._table = None
        self._counts = None
        self.update()

    def table(self) -> PointsTable:
        if self._table is None:
            self._table = self.layers.table()
        return self._table

    def counts(self) -> Counts:
        """What the next run trains on (the labels of every video)."""
        if self._counts is None:
            self._counts = self.layers.training_counts(self.table())
        return self._counts

    def update(self) -> None:
        """Redraw the previews on the current frame."""
        if self._drawing or self.layers.labels is None:
            return
        self._drawing = True
        try:
            self._draw(self.settings.config())
        finally:
            self._drawing = False

    def _draw(self, config: TrainingConfig) -> None:
        frame = self.layers.current_frame()
        table = self.table()
        xy = table.visible_xy()
        trained, view = resolve_camera_view(config, xy)  # rotated as in training
        auto = auto_crop(trained, xy)
        crops = config.crop_model is not None
        chosen = config.model(config.crop_model).crop_size if crops else None
        crop = chosen or auto
        if not crops:
            crop = training_crop(config)
            text = (
                f"Training crop: {crop} px around each animal (predictions see whole frames)."
                if crop
                else "Crop size: - (this pipeline sees whole frames)."
            )
        elif not crop:
            text = "Crop size: auto (label an animal to compute it)."
        elif chosen is None:
            text = f"Crop size: {crop} px (auto)"
        else:
            text = f"Crop size: {crop} px (auto would be {auto} px)"
        self.crop_label.setText(text)
        for kind, label in self.rf_labels.items():
            if kind not in config.models:
                continue
            rf = receptive_field(config, kind)
            label.setText(
                f"Receptive field: {rf:.0f} px on the original frame"
                if math.isfinite(rf)
                else "Receptive field: -"
            )
        on_frame = xy[table.instances.frames == frame] if len(xy) else xy
        nodes = list(table.nodes)
        anchor = config.pipeline.anchor_part
        anchor_idx = nodes.index(anchor) if anchor in nodes else None
        anchors = instance_anchors(on_frame, anchor_idx) if len(on_frame) else np.zeros((0, 2))
        anchors = anchors[np.isfinite(anchors).all(1)]
        shown = self.settings.current_model()
        rf = receptive_field(config, shown if shown in config.models else next(iter(config.models)))
        camera = self.layers.viewer.camera.center
        centre = tuple(anchors[0]) if len(anchors) else (camera[-1], camera[-2])
        # 2-D layers, redrawn for the shown frame: napari then has nothing to slice at a
        # frame step, and scrubbing frames without labels leaves them as they are.
        rf_shapes = [square(centre, rf)] if math.isfinite(rf) else []
        self._set_shapes(
            RF_LAYER, rf_shapes, edge_color="#3070ff", face_color="#3070ff40", edge_width=2
        )
        boxes = [square(tuple(a), crop) for a in anchors] if crop else []
        self._set_shapes(
            CROP_LAYER, boxes, edge_color="red", face_color="transparent", edge_width=2
        )
        self.view_label.setText(view)
        sides = instance_bbox_sides(xy) if len(xy) else np.zeros(0)
        self.sizes.set_sizes(table.instances.frames, sides, crop)
        counts = self.counts()
        self.count_label.setText(
            f"The next run trains on {counts.frames} labelled frames, {counts.instances} instances."
        )

    def _set_shapes(self, name: str, shapes: list[np.ndarray], **style) -> None:
        """Show ``shapes`` in the preview layer ``name`` (made the first time); shapes as
        drawn already are left alone (a Shapes layer takes ~25 ms to redraw)."""
        viewer = self.layers.viewer
        if name in viewer.layers:
            layer = viewer.layers[name]
            drawn = layer.data
            if len(drawn) == len(shapes) and all(
                d.shape == s.shape and np.allclose(d, s) for d, s in zip(drawn, shapes)
            ):
                return
            layer.data = []
            if shapes:
                layer.add_rectangles(shapes, **style)
            return
        active = viewer.layers.selection.active
        viewer.add_shapes(shapes or None, shape_type="rectangle", name=name, ndim=2, **style)
        if active is not None:
            viewer.layers.selection.active = active
