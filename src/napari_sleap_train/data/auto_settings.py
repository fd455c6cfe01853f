"""Settings chosen from the data: input scaling, max stride and the instance crop's scaling,
from the frame size and the labelled animals' sizes.

The rules, for the models that see whole frames and must place every node (single-instance
and bottom-up):

- no larger than needed: the largest animal at most :data:`ANIMAL_PX` px after scaling;
- on the CPU no more pixels than a frame of :data:`CPU_PIXELS` (a step's cost grows with
  the pixels), unless that shrinks the typical animal below :data:`MIN_ANIMAL_PX` px (at
  output stride 4 an animal of 32 px still spans 8 map pixels);
- max stride: the smallest (at least 16) whose receptive field covers the largest animal
  at that scaling;
- on the CPU, training crops twice the largest animal's side (at least
  :data:`MIN_CROP_PX` px) when they hold at most half the scaled frame's pixels: each step
  then costs a fraction of a whole frame's, and predictions still see whole frames;
- bottom-up: min instance peaks as the default (a quarter of the skeleton's body parts,
  at most 4), or half the fewest body parts of any labelled animal where that is fewer
  (animals that show few body parts stay), so fragments (two or three body parts that
  failed to connect to their animal) are dropped.

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
from ..config import FullFrameModelConfig, TrainingConfig, min_instance_peaks
from ..models.receptive_field import receptive_field_px
from .camera_view import resolve_camera_view
from .geometry import auto_crop_size, instance_bbox_sides, round_up

ANIMAL_PX = 128
MIN_ANIMAL_PX = 32
MIN_CROP_PX = 128
CPU_PIXELS = 384 * 384
CPU_CROP = 256
STRIDES = (16, 32, 64)
FULL_FRAME = tuple(kind for kind in ModelKind if kind.full_frame)


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
            notes += _full_frame(out, kind, largest, typical, (h, w), cpu)
    for kind in (ModelKind.BOTTOM_UP, ModelKind.BOTTOM_UP_ID):
        if kind in out.models:
            notes.append(_min_instance_peaks(out, kind, instances))
    if out.crop_model is not None:
        notes += _instance(out, instances, cpu)
    return out, notes


def _full_frame(
    config: TrainingConfig,
    kind: ModelKind,
    largest: float,
    typical: float,
    frame_hw: tuple[int, int],
    cpu: bool,
) -> list[str]:
    section = config.model(kind)
    scale, reasons = min(1.0, ANIMAL_PX / largest), []
    if scale < 1:
        reasons.append(f"the largest animal ({largest:.0f} px) needs no more than {ANIMAL_PX} px")
    budget = math.sqrt(CPU_PIXELS / (frame_hw[0] * frame_hw[1]))
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
        f"({need:.0f} px at this scaling); {_training_crop(section, need, frame_hw, cpu)}."
    ]


def _training_crop(
    section: FullFrameModelConfig, need: float, frame_hw: tuple[int, int], cpu: bool
) -> str:
    """Set the training crop (CPU, small animals on large frames) and say why."""
    scale, stride = section.input_scaling, section.backbone.max_stride
    side = round_up(max(2 * need, MIN_CROP_PX), stride)
    frame = [round_up(n * scale, stride) for n in frame_hw]
    if not cpu or side * side > frame[0] * frame[1] / 2:
        section.training_crop = None
        return "training on whole frames"
    section.training_crop = math.floor(side / scale)
    ratio = frame[0] * frame[1] / side**2
    return (
        f"training crops of {side} px around each animal ("
        f"{'twice the largest' if 2 * need >= MIN_CROP_PX else f'at least {MIN_CROP_PX} px'}) "
        "instead of "
        f"whole {frame[1]}×{frame[0]} px frames: {ratio:.1f}× fewer pixels a step"
    )


def _min_instance_peaks(config: TrainingConfig, kind: ModelKind, instances: np.ndarray) -> str:
    section = config.model(kind)
    visible = np.isfinite(instances).all(-1).sum(-1)
    fewest, default = int(visible[visible > 0].min()), min_instance_peaks(0, instances.shape[1])
    section.min_instance_peaks = max(1, min(default, fewest // 2))
    why = (
        f"the default for a skeleton of {instances.shape[1]} body parts"
        if default <= fewest // 2
        else f"half the fewest body parts of a labelled animal, {fewest}"
    )
    return (
        f"{kind.label}: min instance peaks {section.min_instance_peaks} ({why}): smaller "
        "groups are fragments, dropped."
    )


def _instance(config: TrainingConfig, instances: np.ndarray, cpu: bool) -> list[str]:
    kind = config.crop_model
    section = config.model(kind)
    aug = resolve_camera_view(config, instances)[0].model(kind).augmentation  # as trained
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
            f"{kind.label}: input scaling {scale:.2f}: the {crop} px "
            f"crops are cut at full resolution and resized to {crop * scale:.0f} px, which "
            "trains several times faster on the CPU."
        ]
    section.input_scaling = 1.0
    return [f"{kind.label}: input scaling 1.00 ({crop} px crops)."]
