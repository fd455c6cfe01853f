"""OKS between instances, SLEAP's greedy matching per frame, and VOC-style precision."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

OKS_STDDEV = 0.025
OKS_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)
PCK_THRESHOLDS = (1, 2, 5, 10)
PCK_MEAN_THRESHOLDS = np.linspace(1.0, 10.0, 10)
PERCENTILES = (50, 75, 90, 95, 99)

FrameTriple = tuple[np.ndarray, np.ndarray, np.ndarray]


def _points(array: Any, n_nodes: int | None = None, name: str = "points") -> np.ndarray:
    """Return ``array`` as a float ``(K, N, 2)`` array (a single ``(N, 2)`` gives K = 1)."""
    arr = np.asarray(array, dtype=np.float64)
    if arr.size == 0 and arr.ndim < 3:
        return np.empty((0, n_nodes or 0, 2))
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[-1] != 2:
        raise ValueError(f"{name} must have shape (n_instances, n_nodes, 2), got {arr.shape}")
    if n_nodes is not None and arr.shape[1] != n_nodes:
        raise ValueError(f"{name} has {arr.shape[1]} nodes, expected {n_nodes}")
    return arr


def _visible(points: np.ndarray) -> np.ndarray:
    """Boolean ``(..., N)`` mask of nodes with two finite coordinates."""
    return np.isfinite(points).all(axis=-1)


def instance_area(points: np.ndarray) -> np.ndarray:
    """Area of the bounding box of the visible nodes of each instance.

    Parameters
    ----------
    points
        ``(K, N, 2)`` or ``(N, 2)`` coordinates, NaN for invisible nodes.

    Returns
    -------
    numpy.ndarray
        ``(K,)`` areas in px²; NaN for an instance without visible nodes.
    """
    pts = _points(points)
    vis = _visible(pts)
    lo = np.where(vis[..., None], pts, np.inf).min(axis=1)
    hi = np.where(vis[..., None], pts, -np.inf).max(axis=1)
    area = np.prod(hi - lo, axis=-1)
    area[~vis.any(axis=1)] = np.nan
    return area


def compute_oks(
    gt: np.ndarray,
    pred: np.ndarray,
    sigma: float = OKS_STDDEV,
    scale: float | np.ndarray | None = None,
) -> np.ndarray:
    """Object keypoint similarity between every ground-truth and predicted instance.

    Parameters
    ----------
    gt
        ``(G, N, 2)`` ground-truth points, NaN for invisible nodes.
    pred
        ``(P, N, 2)`` predicted points, NaN for missing nodes.
    sigma
        Keypoint standard deviation, the same for every node (SLEAP's ``stddev``).
    scale
        Object scale per ground-truth instance (scalar or ``(G,)``); defaults to the
        bounding-box area of the visible ground-truth nodes as in SLEAP.

    Returns
    -------
    numpy.ndarray
        ``(G, P)`` OKS in [0, 1]; NaN rows for ground truth without visible nodes.
    """
    gt = _points(gt, name="gt")
    pred = _points(pred, n_nodes=gt.shape[1], name="pred")
    if scale is None:
        scale = instance_area(gt)
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), (gt.shape[0],))

    gt_vis = _visible(gt)
    pr_vis = _visible(pred)
    diff = gt[:, None] - pred[None, :]
    dist2 = np.nan_to_num((diff**2).sum(axis=-1), nan=np.inf)
    spread_factor = (2.0 * sigma) ** 2
    scale_factor = 2.0 * (scale + np.spacing(1))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ks = np.exp(-dist2 / spread_factor / scale_factor[:, None, None])
    ks = np.where(pr_vis[None, :, :] & gt_vis[:, None, :], ks, 0.0)
    n_vis = gt_vis.sum(axis=-1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return ks.sum(axis=-1) / n_vis[:, None]


def _score_order(scores: np.ndarray) -> np.ndarray:
    """Indices sorting ``scores`` descending, stable, NaN last."""
    return np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="mergesort")


def match_frame(
    gt: np.ndarray,
    pred: np.ndarray,
    pred_scores: np.ndarray,
    sigma: float = OKS_STDDEV,
    threshold: float = 0.0,
) -> list[tuple[int, int, float]]:
    """Greedily match the predictions of one frame to its ground truth by OKS.

    Predictions are visited in descending score order (stable); each takes the
    still-unmatched ground-truth instance with the highest OKS, provided that OKS
    is above ``threshold`` (ties go to the lower ground-truth index), as in
    ``sleap.nn.evals.match_instances``.

    Parameters
    ----------
    gt
        ``(G, N, 2)`` ground-truth points, NaN for invisible nodes.
    pred
        ``(P, N, 2)`` predicted points, NaN for missing nodes.
    pred_scores
        ``(P,)`` instance scores.
    sigma
        OKS standard deviation.
    threshold
        A match needs OKS strictly greater than this.

    Returns
    -------
    list of tuple
        ``(gt_index, pred_index, oks)`` in matching order.
    """
    gt = _points(gt, name="gt")
    pred = _points(pred, n_nodes=gt.shape[1], name="pred")
    scores = np.asarray(pred_scores, dtype=np.float64).reshape(-1)
    if scores.shape[0] != pred.shape[0]:
        raise ValueError(f"{pred.shape[0]} predictions but {scores.shape[0]} scores")
    if gt.shape[0] == 0 or pred.shape[0] == 0:
        return []
    oks = compute_oks(gt, pred, sigma=sigma)
    available = list(range(gt.shape[0]))
    pairs: list[tuple[int, int, float]] = []
    for p in _score_order(scores):
        candidates = oks[available, p]
        candidates = np.where(candidates > threshold, candidates, np.nan)
        if np.isnan(candidates).all():
            continue
        best = int(np.nanargmax(candidates))
        pairs.append((available.pop(best), int(p), float(candidates[best])))
        if not available:
            break
    return pairs


def compute_voc_metrics(
    match_scores: np.ndarray,
    detection_scores: np.ndarray,
    n_gt: int,
    thresholds: np.ndarray = OKS_THRESHOLDS,
    recall_thresholds: np.ndarray = RECALL_THRESHOLDS,
) -> dict[str, Any]:
    """Generalised VOC/COCO average precision and recall.

    Follows ``sleap.nn.evals.compute_generalized_voc_metrics``: detections sorted by
    descending score, a detection is a true positive at a threshold when its match
    score reaches it, precision made monotone and sampled at ``recall_thresholds``.

    Parameters
    ----------
    match_scores
        ``(D,)`` match score (e.g. OKS) per detection; 0 for unmatched detections.
    detection_scores
        ``(D,)`` detection (instance) scores used for ranking.
    n_gt
        Number of ground-truth instances.
    thresholds
        Match-score thresholds.
    recall_thresholds
        Recall points of the interpolated precision.

    Returns
    -------
    dict
        ``ap`` and ``ar`` (one value per threshold) and their means ``map`` and ``mar``;
        all NaN when ``n_gt`` is 0.
    """
    match_scores = np.asarray(match_scores, dtype=np.float64).reshape(-1)
    order = _score_order(np.asarray(detection_scores, dtype=np.float64).reshape(-1))
    match_scores = match_scores[order]
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if n_gt <= 0:
        nan = np.full(thresholds.shape, np.nan)
        return {"ap": nan, "ar": nan.copy(), "map": math.nan, "mar": math.nan}

    ap = np.zeros(thresholds.shape)
    ar = np.zeros(thresholds.shape)
    for i, thr in enumerate(thresholds):
        hit = match_scores >= thr
        tp = np.cumsum(hit)
        fp = np.cumsum(~hit)
        if tp.size == 0:
            continue
        rc = tp / n_gt
        pr = tp / (tp + fp + np.spacing(1))
        pr = np.maximum.accumulate(pr[::-1])[::-1]
        idx = np.searchsorted(rc, recall_thresholds, side="left")
        valid = idx < pr.size
        precision = np.zeros(idx.shape)
        precision[valid] = pr[idx[valid]]
        ap[i] = precision.mean()
        ar[i] = rc[-1]
    return {"ap": ap, "ar": ar, "map": float(ap.mean()), "mar": float(ar.mean())}
