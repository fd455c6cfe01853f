"""The camera view of the labels: seen from above the animals face every direction and
training rotates images by up to ±180°; seen from the side they stay upright and each
model's own rotation applies.

``auto`` decides from the labelled animals: for every body part, the direction from the
animal's centre to it is averaged over the labelled animals (the mean resultant length of
those angles: 1 when they all point the same way, near 0 when they point every way). Animals
seen from the side walking both ways point their head either left or right, so the doubled
angles are averaged too and the larger of the two lengths counts; when the median over body
parts is below :data:`FREE_TURNING` the animals turn freely.
"""

from __future__ import annotations

import copy

import numpy as np

from ..choices import CameraView
from ..config import TrainingConfig
from .geometry import instance_anchors

FREE_TURNING = 0.5
MIN_ANIMALS = 3
ABOVE_DEG = 180.0


def orientation_alignment(instances: np.ndarray) -> float | None:
    """The median over body parts of how alike their directions from the animal's centre
    are across labelled ``instances`` ``(M, N, 2)`` (1: all the same or all along one line,
    0: every way); None with fewer than :data:`MIN_ANIMALS` animals of two or more visible
    body parts."""
    instances = np.asarray(instances, dtype=np.float64)
    if instances.ndim != 3 or not len(instances):
        return None
    instances = instances[np.isfinite(instances).all(-1).sum(1) >= 2]
    if len(instances) < MIN_ANIMALS:
        return None
    v = instances - instance_anchors(instances, None)[:, None]
    angle = np.arctan2(v[..., 1], v[..., 0])  # (M, N), NaN where not visible
    seen = np.isfinite(angle)
    count = seen.sum(0)
    ok = count >= MIN_ANIMALS
    if not ok.any():
        return None
    lengths = []
    for k in (1, 2):  # directions, then lines (a head to the left or to the right)
        unit = np.where(seen, np.exp(1j * k * np.nan_to_num(angle)), 0)
        lengths.append(np.abs(unit[:, ok].sum(0)) / count[ok])
    return float(np.median(np.maximum(*lengths)))


def resolve_camera_view(
    config: TrainingConfig, instances: np.ndarray
) -> tuple[TrainingConfig, str]:
    """A copy of ``config`` whose models rotate as its camera view says (``auto`` decided
    from the labelled ``instances``), and a sentence saying which rotation applies and why."""
    view = CameraView(config.pipeline.camera_view)
    out = copy.deepcopy(config)
    why = ""
    if view is CameraView.AUTO:
        r = orientation_alignment(instances)
        if r is None:
            view, why = CameraView.SIDE, f"auto: fewer than {MIN_ANIMALS} labelled animals"
        elif r < FREE_TURNING:
            view, why = CameraView.ABOVE, f"auto: the labelled animals face every way ({r:.2f})"
        else:
            view, why = (
                CameraView.SIDE,
                (
                    f"auto: the labelled animals face one way ({r:.2f}); if they turn in footage "
                    "you have not labelled, choose from above"
                ),
            )
    out.pipeline.camera_view = view
    if view is CameraView.ABOVE:
        for section in out.models.values():
            section.augmentation.rotation = True
            section.augmentation.rotation_deg = ABOVE_DEG
        rotation = f"±{ABOVE_DEG:g}° for every model"
    else:
        rotation = ", ".join(
            f"{kind.label} ±{s.augmentation.rotation_deg:g}°"
            if s.augmentation.rotation
            else f"{kind.label} none"
            for kind, s in out.models.items()
        )
    return out, f"Camera view {view.label}{f' ({why})' if why else ''}: rotation {rotation}."
