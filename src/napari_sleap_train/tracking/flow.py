"""Optical-flow shift of points from one frame into the next (SLEAP's flow tracker)."""

from __future__ import annotations

import numpy as np


def grey(image: np.ndarray) -> np.ndarray:
    """A 2-D ``uint8`` image for OpenCV's optical flow."""
    img = np.asarray(image)
    if img.ndim == 3:
        img = img[..., 0] if img.shape[-1] == 1 else img[..., :3].mean(axis=-1)
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img)


def shift_points(
    before: np.ndarray, after: np.ndarray, points: np.ndarray, window: int = 21, levels: int = 3
) -> np.ndarray:
    """``points`` ``(..., 2)`` xy of ``before`` moved to where they are in ``after``.

    Pyramidal Lucas–Kanade (OpenCV); a point the flow loses, or a missing (NaN) one,
    keeps its place.
    """
    import cv2

    pts = np.asarray(points, dtype=np.float64)
    flat = pts.reshape(-1, 2)
    ok = np.isfinite(flat).all(axis=1)
    out = flat.copy()
    if not ok.any():
        return out.reshape(pts.shape)
    src = flat[ok].astype(np.float32).reshape(-1, 1, 2)
    moved, status, _ = cv2.calcOpticalFlowPyrLK(
        before,
        after,
        src,
        None,
        winSize=(window, window),
        maxLevel=levels,
        criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01),
    )
    found = status.reshape(-1).astype(bool) & np.isfinite(moved.reshape(-1, 2)).all(axis=1)
    rows = np.flatnonzero(ok)
    out[rows[found]] = moved.reshape(-1, 2)[found]
    return out.reshape(pts.shape)
