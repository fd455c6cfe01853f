"""Optical-flow shift of instances from one frame into the next (SLEAP's flow tracker).

Points are followed by pyramidal Lucas–Kanade (OpenCV, SLEAP's window and levels) and
checked by following them back: a point that does not return within ``FB_MAX_PX`` is
unreliable. An instance then moves as a whole by the median motion of its reliable
points, so a few points caught on a neighbour cannot tear its pose apart.
"""

from __future__ import annotations

import numpy as np

FB_MAX_PX = 2.0


def grey(image: np.ndarray) -> np.ndarray:
    """A 2-D ``uint8`` image for OpenCV's optical flow."""
    img = np.asarray(image)
    if img.ndim == 3:
        img = img[..., 0] if img.shape[-1] == 1 else img[..., :3].mean(axis=-1)
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img)


def _lk(before: np.ndarray, after: np.ndarray, pts: np.ndarray, window: int, levels: int):
    import cv2

    moved, status, _ = cv2.calcOpticalFlowPyrLK(
        before,
        after,
        pts.astype(np.float32).reshape(-1, 1, 2),
        None,
        winSize=(window, window),
        maxLevel=levels,
        criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01),
    )
    moved = moved.reshape(-1, 2).astype(np.float64)
    return moved, status.reshape(-1).astype(bool) & np.isfinite(moved).all(axis=1)


def follow_points(
    before: np.ndarray, after: np.ndarray, points: np.ndarray, window: int = 21, levels: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """Where ``points`` ``(..., 2)`` xy of ``before`` are in ``after``, and which of them
    were followed reliably (there and back again); unreliable points keep their place."""
    pts = np.asarray(points, dtype=np.float64)
    flat = pts.reshape(-1, 2)
    ok = np.isfinite(flat).all(axis=1)
    out, good = flat.copy(), np.zeros(len(flat), bool)
    if ok.any():
        src = flat[ok]
        moved, found = _lk(before, after, src, window, levels)
        back, returned = _lk(after, before, moved, window, levels)
        reliable = found & returned & (np.hypot(*(back - src).T) < FB_MAX_PX)
        rows = np.flatnonzero(ok)[reliable]
        out[rows], good[rows] = moved[reliable], True
    return out.reshape(pts.shape), good.reshape(pts.shape[:-1])


def shift_instances(
    before: np.ndarray, after: np.ndarray, instances: np.ndarray, window: int = 21, levels: int = 3
) -> np.ndarray:
    """``instances`` ``(K, N, 2)`` moved from ``before`` into ``after``, each as a whole by
    the median motion of its reliably followed points (unmoved unless at least half of its
    points are)."""
    inst = np.asarray(instances, dtype=np.float64)
    if not len(inst):
        return inst.copy()
    moved, good = follow_points(before, after, inst, window, levels)
    out = inst.copy()
    visible = np.isfinite(inst).all(axis=-1).sum(axis=-1)
    for k in range(len(inst)):
        if good[k].sum() * 2 >= max(visible[k], 1):
            out[k] += np.median(moved[k][good[k]] - inst[k][good[k]], axis=0)
    return out
