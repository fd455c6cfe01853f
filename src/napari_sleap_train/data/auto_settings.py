"""Settings chosen from the data: input scaling, max stride and the instance crop's scaling,
from the frame size and the labelled animals' sizes.

The rules, for the models that see whole frames and must place every node (single-instance
and bottom-up):

- no larger than needed: the largest animal at most :data:`ANIMAL_PX` px after scaling;
- on the CPU no more pixels than a frame of :data:`CPU_PIXELS` (a step's cost grows with
  the pixels), unless that shrinks the typical animal below :data:`MIN_ANIMAL_PX` px;
- max stride: the smallest (at least 16) whose receptive field covers the largest animal
  at that scaling.

For the top-down centered-instance model the crop is the auto crop; on the CPU a crop
larger than :data:`CPU_CROP` px is taken at full resolution and resized to it (instance
input scaling below 1, the centroid model's scaling untouched). The centroid model keeps
its settings. Every choice comes with the reason, and every value can be overridden.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from ..choices import ModelKind
from ..config import TrainingConfig
from ..models.receptive_field import receptive_field_px
from .geometry import auto_crop_size, instance_bbox_sides

ANIMAL_PX = 128
MIN_ANIMAL_PX = 16
CPU_PIXELS = 384 * 384
CPU_CROP = 256
STRIDES = (16, 32, 64)
FULL_FRAME = (ModelKind.SINGLE_INSTANCE, ModelKind.BOTTOM_UP)


def _round(value: float) -> float:
    """A scaling on the forms' 0.05 steps, within (0, 1]."""
    return min(1.0, max(0.05, round(value / 0.05) * 0.05))


def settings_from_data(
    config: TrainingConfig,
    instances: np.ndarray,
    frame_hw: tuple[int, int],
    cpu: bool,
) -> tuple[TrainingConfig, list[str]]:
    """A copy of ``config`` with the settings the labelled ``instances`` ``(M, N, 2)`` on
    frames of ``frame_hw`` call for, and a sentence per choice saying why. Without
    labelled animals the configuration is returned unchanged, with a note."""
    sides = instance_bbox_sides(instances) if len(instances) else np.zeros(0)
    sides = sides[np.isfinite(sides) & (sides > 0)]
    out = copy.deepcopy(config)
    if not len(sides):
        return out, ["Label an animal first: the settings follow the animals' sizes."]
    largest, typical = float(sides.max()), float(np.median(sides))
    h, w = frame_hw
    notes = []
    for kind in FULL_FRAME:
        if kind in out.models:
            notes += _full_frame(out, kind, largest, typical, h * w, cpu)
    if ModelKind.CENTERED_INSTANCE in out.models:
        notes += _instance(out, instances, cpu)
    return out, notes


def _full_frame(
    config: TrainingConfig, kind: ModelKind, largest: float, typical: float, pixels: int, cpu: bool
) -> list[str]:
    section = config.model(kind)
    scale, reasons = min(1.0, ANIMAL_PX / largest), []
    if scale < 1:
        reasons.append(f"the largest animal ({largest:.0f} px) needs no more than {ANIMAL_PX} px")
    budget = math.sqrt(CPU_PIXELS / pixels)
    if cpu and budget < scale:
        floor = MIN_ANIMAL_PX / typical
        if floor > budget:
            scale = min(scale, floor)
            reasons.append(
                f"smaller would shrink the typical animal ({typical:.0f} px) below "
                f"{MIN_ANIMAL_PX} px"
            )
        else:
            scale = budget
            reasons.append(f"on the CPU a frame of about {math.isqrt(CPU_PIXELS)}² px trains fast")
    scale = _round(scale)
    section.input_scaling = scale
    convs = section.backbone.convs_per_block
    need = largest * scale
    stride = next((s for s in STRIDES if receptive_field_px(s, convs) >= need), STRIDES[-1])
    section.backbone.max_stride = stride
    rf = receptive_field_px(stride, convs)
    covers = "covers" if rf >= need else "is the largest, yet smaller than"
    return [
        f"{kind.label}: input scaling {scale:.2f} ({'; '.join(reasons) or 'full resolution'}); "
        f"max stride {stride}: its receptive field ({rf} px) {covers} the largest animal "
        f"({need:.0f} px at this scaling)."
    ]


def _instance(config: TrainingConfig, instances: np.ndarray, cpu: bool) -> list[str]:
    section = config.model(ModelKind.CENTERED_INSTANCE)
    aug = section.augmentation
    crop = (
        section.crop_size
        or auto_crop_size(
            instances,
            section.backbone.max_stride,
            rotation_deg=aug.rotation_deg if aug.rotation else 0.0,
            scale_max=aug.scale_max if aug.scale else 1.0,
        ).size
    )
    if cpu and crop > CPU_CROP:
        scale = _round(CPU_CROP / crop)
        section.input_scaling = scale
        return [
            f"{ModelKind.CENTERED_INSTANCE.label}: input scaling {scale:.2f}: the {crop} px "
            f"crops are cut at full resolution and resized to {crop * scale:.0f} px, which "
            "trains several times faster on the CPU."
        ]
    section.input_scaling = 1.0
    return [f"{ModelKind.CENTERED_INSTANCE.label}: input scaling 1.00 ({crop} px crops)."]
