"""Instance anchors, automatic crop size and crop windows.

Points are ``(x, y)`` in pixels with the centre of pixel ``(row i, col j)`` at
``(x=j, y=i)``; a node is visible when both its coordinates are finite. These
functions use numpy only, so previews and overlays need no torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CropSizeReport",
    "auto_crop_size",
    "instance_anchors",
    "instance_bbox_sides",
    "round_up",
]


def round_up(value: float, multiple: int) -> int:
    """Smallest multiple of ``multiple`` that is at least ``value``."""
    return int(math.ceil(value / multiple - 1e-9) * multiple)


def _visible(points: np.ndarray) -> np.ndarray:
    return np.isfinite(points).all(axis=-1)


def _visible_bounds(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-instance min and max of the visible nodes, ``(..., 2)`` each (±inf if none)."""
    vis = _visible(points)[..., None]
    lo = np.where(vis, points, np.inf).min(axis=-2)
    hi = np.where(vis, points, -np.inf).max(axis=-2)
    return lo, hi


def instance_anchors(points: np.ndarray, anchor_index: int | None) -> np.ndarray:
    """Anchor point of each instance.

    Parameters
    ----------
    points : np.ndarray
        ``(..., N, 2)`` node positions; NaN for invisible nodes.
    anchor_index : int or None
        Index of the anchor node, or None to use the bounding-box centre.

    Returns
    -------
    np.ndarray
        ``(..., 2)`` float64: the anchor node where ``anchor_index`` is set and that
        node is visible, else the centre of the bounding box of the visible nodes (as
        SLEAP's centroid); NaN for instances without visible nodes.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim < 2 or points.shape[-1] != 2:
        raise ValueError(f"points must have shape (..., N, 2), got {points.shape}.")
    n_nodes = points.shape[-2]
    if n_nodes == 0:
        return np.full(points.shape[:-2] + (2,), np.nan)
    lo, hi = _visible_bounds(points)
    any_visible = _visible(points).any(axis=-1)
    with np.errstate(invalid="ignore"):
        centre = np.where(any_visible[..., None], (lo + hi) / 2, np.nan)
    if anchor_index is None:
        return centre
    if not -n_nodes <= anchor_index < n_nodes:
        raise ValueError(f"anchor_index {anchor_index} is out of range for {n_nodes} nodes.")
    anchor = points[..., anchor_index, :]
    return np.where(_visible(anchor)[..., None], anchor, centre)


def instance_bbox_sides(instances: np.ndarray) -> np.ndarray:
    """Largest bounding-box side of each instance.

    Parameters
    ----------
    instances : np.ndarray
        ``(..., N, 2)`` node positions; NaN for invisible nodes.

    Returns
    -------
    np.ndarray
        ``(...)`` float64 ``max(width, height)`` of the visible nodes' bounding box;
        NaN for instances without visible nodes.
    """
    instances = np.asarray(instances, dtype=np.float64)
    lo, hi = _visible_bounds(instances)
    with np.errstate(invalid="ignore"):
        side = (hi - lo).max(axis=-1)
    return np.where(_visible(instances).any(axis=-1), side, np.nan)


@dataclass(frozen=True)
class CropSizeReport:
    """How the automatic crop size was chosen.

    Attributes
    ----------
    size : int
        Crop side in pixels, a multiple of the model's max stride.
    largest_side : float
        Largest bounding-box side over the labelled instances, in pixels.
    largest_index : int
        Index into the instances array of the instance that set ``largest_side``.
    median_side : float
        Median bounding-box side over instances with visible nodes.
    outlier_indices : list of int
        Instances far larger than the rest (side above ``outlier_factor`` × median).
    message : str
        A plain-words account of the above, with a warning when there are outliers.
    """

    size: int
    largest_side: float
    largest_index: int
    median_side: float
    outlier_indices: list[int]
    message: str


def auto_crop_size(
    instances: np.ndarray,
    max_stride: int,
    rotation_deg: float = 15.0,
    scale_max: float = 1.0,
    padding: int = 16,
    outlier_factor: float = 2.0,
) -> CropSizeReport:
    """Crop size for the centered-instance model from the labelled instances.

    The size is ``b * (|cos θ| + |sin θ|) * scale_max + padding`` rounded up to a
    multiple of ``max_stride``, where ``b`` is the largest bounding-box side and
    ``θ = min(|rotation_deg|, 45°)``: the side of the box that holds the largest
    instance at any rotation up to ``θ`` and the largest augmentation scale.

    Parameters
    ----------
    instances : np.ndarray
        ``(M, N, 2)`` user-labelled instances; NaN for invisible nodes.
    max_stride : int
        Max stride of the model; the size is a multiple of it.
    rotation_deg : float, optional
        Rotation augmentation range in degrees (0 when rotation is off).
    scale_max : float, optional
        Largest scale augmentation factor (1 when scaling is off).
    padding : int, optional
        Extra pixels added to the side before rounding.
    outlier_factor : float, optional
        Instances with a side above this many times the median are reported.

    Returns
    -------
    CropSizeReport

    Raises
    ------
    ValueError
        If no instance has a visible node, or an argument is out of range.
    """
    instances = np.asarray(instances, dtype=np.float64)
    if instances.ndim != 3 or instances.shape[-1] != 2:
        raise ValueError(f"instances must have shape (M, N, 2), got {instances.shape}.")
    if max_stride < 1:
        raise ValueError(f"max_stride must be a positive integer, got {max_stride}.")
    if scale_max <= 0:
        raise ValueError(f"scale_max must be positive, got {scale_max}.")
    sides = instance_bbox_sides(instances)
    labelled = np.isfinite(sides)
    if not labelled.any():
        raise ValueError(
            "Cannot choose a crop size automatically: no labelled instance has a visible "
            "node. Label at least one instance, or set the crop size by hand."
        )
    largest_index = int(np.nanargmax(sides))
    largest_side = float(sides[largest_index])
    median_side = float(np.median(sides[labelled]))
    theta = math.radians(min(abs(rotation_deg), 45.0))
    room = largest_side * (abs(math.cos(theta)) + abs(math.sin(theta))) * scale_max + padding
    size = max(1, math.ceil(room / max_stride - 1e-9)) * max_stride
    outliers: list[int] = []
    if median_side > 0:
        with np.errstate(invalid="ignore"):
            outliers = np.flatnonzero(sides > outlier_factor * median_side).tolist()
    message = (
        f"Crop size {size} px (auto): largest labelled instance {largest_side:.0f} px "
        f"(instance {largest_index}) + rotation/scale room + {padding} px, rounded up to "
        f"a multiple of {max_stride}."
    )
    if outliers:
        names = ", ".join(str(i) for i in outliers)
        noun = "Instance" if len(outliers) == 1 else "Instances"
        verb = "is" if len(outliers) == 1 else "are"
        message += (
            f" Warning: {noun} {names} {verb} more than {outlier_factor:g}× the median "
            f"instance size ({median_side:.0f} px) and may hold a misplaced node; check "
            "them, as they set the crop size."
        )
    return CropSizeReport(
        size=size,
        largest_side=largest_side,
        largest_index=largest_index,
        median_side=median_side,
        outlier_indices=outliers,
        message=message,
    )
