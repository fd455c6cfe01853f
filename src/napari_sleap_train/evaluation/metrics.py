"""The metrics of matched frames: OKS, mAP/mAR, node errors, PCK and visibility."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .oks import (
    OKS_STDDEV,
    OKS_THRESHOLDS,
    PCK_MEAN_THRESHOLDS,
    PCK_THRESHOLDS,
    PERCENTILES,
    FrameTriple,
    _points,
    _visible,
    compute_voc_metrics,
    match_frame,
)


def _percentiles(values: np.ndarray) -> dict[str, float]:
    """Percentiles of the finite ``values`` (NaN when there are none)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {f"p{q}": math.nan for q in PERCENTILES}
    return {f"p{q}": float(v) for q, v in zip(PERCENTILES, np.percentile(finite, PERCENTILES))}


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else math.nan


def to_jsonable(obj: Any) -> Any:
    """Convert numpy values and containers to plain Python, NaN/inf to ``None``."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    return obj


def evaluate_frames(
    frames: Iterable[FrameTriple],
    node_names: Sequence[str] | None = None,
    sigma: float = OKS_STDDEV,
) -> dict[str, Any]:
    """Evaluate predictions against ground truth over a set of frames.

    Parameters
    ----------
    frames
        One ``(gt, pred, pred_scores)`` per ground-truth frame: ``gt`` ``(G, N, 2)``
        with NaN for invisible nodes, ``pred`` ``(P, N, 2)`` with NaN for missing
        nodes, ``pred_scores`` ``(P,)``. ``P`` may be 0 (all ground truth missed).
    node_names
        ``N`` node names; ``node0``, ``node1``, ... when omitted.
    sigma
        OKS standard deviation.

    Returns
    -------
    dict
        JSON-serialisable metrics; see the module docstring for the keys.
    """
    n_nodes = None if node_names is None else len(node_names)
    n_frames = n_gt = n_pred = n_missed = 0
    gt_pairs: list[np.ndarray] = []
    pr_pairs: list[np.ndarray] = []
    pair_scores: list[float] = []
    pair_oks: list[float] = []
    extra_scores: list[float] = []

    for gt, pred, scores in frames:
        if n_nodes is None:
            n_nodes = next(
                (a.shape[-2] for a in map(np.asarray, (gt, pred)) if a.ndim >= 2 and a.size),
                None,
            )
        gt = _points(gt, n_nodes, "gt")
        n_nodes = gt.shape[1]
        pred = _points(pred, n_nodes, "pred")
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        if scores.shape[0] != pred.shape[0]:
            raise ValueError(f"{pred.shape[0]} predictions but {scores.shape[0]} scores")
        gt = gt[_visible(gt).any(axis=1)]
        keep = _visible(pred).any(axis=1)
        pred, scores = pred[keep], scores[keep]

        n_frames += 1
        n_gt += gt.shape[0]
        n_pred += pred.shape[0]
        pairs = match_frame(gt, pred, scores, sigma=sigma)
        matched_pred = set()
        for g, p, oks in pairs:
            gt_pairs.append(gt[g])
            pr_pairs.append(pred[p])
            pair_scores.append(float(scores[p]))
            pair_oks.append(oks)
            matched_pred.add(p)
        n_missed += gt.shape[0] - len(pairs)
        extra_scores.extend(float(scores[p]) for p in range(pred.shape[0]) if p not in matched_pred)

    n_nodes = n_nodes or 0
    names = list(node_names) if node_names is not None else [f"node{i}" for i in range(n_nodes)]
    gt_arr = np.stack(gt_pairs) if gt_pairs else np.empty((0, n_nodes, 2))
    pr_arr = np.stack(pr_pairs) if pr_pairs else np.empty((0, n_nodes, 2))
    oks_arr = np.asarray(pair_oks, dtype=np.float64)
    n_matched = len(pair_oks)

    voc = compute_voc_metrics(
        np.concatenate([oks_arr, np.zeros(len(extra_scores))]),
        np.asarray(pair_scores + extra_scores, dtype=np.float64),
        n_gt,
    )
    voc_sleap = compute_voc_metrics(oks_arr, np.asarray(pair_scores), n_gt)

    gt_vis = _visible(gt_arr)
    pr_vis = _visible(pr_arr)
    both = gt_vis & pr_vis
    dists = np.where(both, np.linalg.norm(np.nan_to_num(gt_arr - pr_arr), axis=-1), np.nan)
    n_gt_vis = int(gt_vis.sum())
    hits = np.where(both, dists, np.inf)

    def pck(threshold: float) -> float:
        return _ratio((hits < threshold).sum(), n_gt_vis)

    per_node: dict[str, dict[str, Any]] = {}
    for j, name in enumerate(names):
        column = dists[:, j][both[:, j]]
        stats: dict[str, Any] = _percentiles(column)
        stats["mean"] = float(column.mean()) if column.size else math.nan
        stats["n"] = int(column.size)
        per_node[name] = stats

    measured = dists[both]
    overall = _percentiles(measured)
    vis_tp = int(both.sum())
    vis_fp = int((~gt_vis & pr_vis).sum())
    vis_fn = int((gt_vis & ~pr_vis).sum())
    vis_tn = int((~gt_vis & ~pr_vis).sum())

    metrics: dict[str, Any] = {
        "oks_map": voc_sleap["map"],
        "oks_mar": voc["mar"],
        "oks_map_coco": voc["map"],
        "oks_ap": {f"{t:.2f}": v for t, v in zip(OKS_THRESHOLDS, voc_sleap["ap"])},
        "oks_ar": {f"{t:.2f}": v for t, v in zip(OKS_THRESHOLDS, voc["ar"])},
        "oks_mean": float(oks_arr.mean()) if n_matched else math.nan,
        "pck": {str(t): pck(t) for t in PCK_THRESHOLDS},
        "pck_mean": float(np.mean([pck(t) for t in PCK_MEAN_THRESHOLDS])),
        "dist_mean": float(measured.mean()) if measured.size else math.nan,
        **{f"dist_{k}": v for k, v in overall.items()},
        "dist_per_node": per_node,
        "vis_precision": _ratio(vis_tp, vis_tp + vis_fp),
        "vis_recall": _ratio(vis_tp, vis_tp + vis_fn),
        "vis_tp": vis_tp,
        "vis_fp": vis_fp,
        "vis_tn": vis_tn,
        "vis_fn": vis_fn,
        "n_frames": n_frames,
        "instances_gt": n_gt,
        "instances_pred": n_pred,
        "instances_matched": n_matched,
        "instances_missed": n_missed,
        "instances_extra": len(extra_scores),
        "found_fraction": _ratio(n_matched, n_gt),
        "node_names": names,
        "sigma": float(sigma),
    }
    return to_jsonable(metrics)
