"""Pose-estimation metrics comparable with SLEAP's ``sleap.nn.evals``.

Predictions are matched to ground truth frame by frame with SLEAP's greedy OKS
matching (predictions in descending score order, each ground-truth instance used
at most once, a match needs OKS > 0). The matched pairs then give OKS, VOC-style
mAP/mAR, keypoint distances, PCK and node-visibility metrics.

Points are ``(n_instances, n_nodes, 2)`` float arrays in pixels; a node with a
NaN coordinate is invisible (ground truth) or missing (prediction). Instances
without a single visible node are dropped before matching.

OKS follows SLEAP (and COCO) exactly::

    d2    = sum((gt - pr) ** 2)                  per node
    scale = area of the bounding box of the visible ground-truth nodes
    ks    = exp(-d2 / (2 * sigma) ** 2 / (2 * (scale + eps)))
    oks   = mean of ks over ground-truth-visible nodes (ks = 0 where the
            prediction misses a node)

i.e. ``ks = exp(-d2 / (8 * sigma**2 * scale))`` with one ``sigma = 0.025`` for
every node.

Keys of the metrics dictionary (:func:`evaluate_frames`, :func:`evaluate_labels`);
every value is JSON-serialisable and an undefined number is ``None``:

======================  ===================================================================
Key                     Meaning
======================  ===================================================================
``oks_map``             OKS mAP as SLEAP reports it (``oks_voc.mAP``): mean over OKS
                        thresholds 0.50:0.05:0.95 of the 101-point interpolated average
                        precision of the matched pairs in descending score order (a pair is
                        a true positive when its OKS reaches the threshold); missed ground
                        truth lowers recall, extra predictions are not false positives.
``oks_mar``             OKS mAR: mean over the same thresholds of the recall, i.e. the
                        fraction of ground-truth instances matched with OKS >= threshold.
``oks_map_coco``        The stricter COCO convention: unmatched (extra) predictions enter
                        the curve as false positives. Equal to ``oks_map`` without extras.
``oks_ap``              Average precision per OKS threshold (``"0.50"`` ... ``"0.95"``).
``oks_ar``              Recall per OKS threshold (``"0.50"`` ... ``"0.95"``).
``oks_mean``            Mean OKS over matched pairs (SLEAP's ``oks.mOKS``); missed ground
                        truth and extra predictions do not enter it.
``pck``                 ``{"1", "2", "5", "10"}`` -> fraction of ground-truth-visible nodes
                        of matched pairs whose error is < that many pixels (strict, as in
                        SLEAP); a missing predicted node is a miss.
``pck_mean``            PCK averaged over the thresholds 1, 2, ..., 10 px (SLEAP's mPCK
                        thresholds, with the denominator of ``pck``).
``dist_mean``           Mean node error (px) over nodes visible in both ground truth and
                        prediction of matched pairs (SLEAP's ``dist.avg``).
``dist_p50``            Median node error (px) over the same nodes (SLEAP's ``dist.p50``).
``dist_p75``            75th percentile of the node errors (px).
``dist_p90``            90th percentile of the node errors (px).
``dist_p95``            95th percentile of the node errors (px).
``dist_p99``            99th percentile of the node errors (px).
``dist_per_node``       Node name -> ``{p50, p75, p90, p95, p99, mean, n}`` of that node's
                        errors (``n``: number of errors measured).
``vis_precision``       Predicted-visible nodes that are visible in the ground truth, over
                        all predicted-visible nodes of matched pairs.
``vis_recall``          Ground-truth-visible nodes that are predicted, over all
                        ground-truth-visible nodes of matched pairs.
``vis_tp``              Nodes visible in ground truth and prediction (matched pairs).
``vis_fp``              Nodes predicted but invisible in the ground truth.
``vis_fn``              Nodes visible in the ground truth but not predicted.
``vis_tn``              Nodes invisible in both.
``n_frames``            Ground-truth frames evaluated.
``instances_gt``        Ground-truth instances (with at least one visible node).
``instances_pred``      Predicted instances (with a visible node) in the evaluated frames.
``instances_matched``   Matched ground-truth/prediction pairs.
``instances_missed``    Ground-truth instances left unmatched (false negatives).
``instances_extra``     Predictions left unmatched (false positives).
``found_fraction``      ``instances_matched / instances_gt``.
``node_names``          Node names, in the order of the point arrays.
``sigma``               The OKS standard deviation used.
``videos_unmatched``    (:func:`evaluate_labels` only) ground-truth videos with no matching
                        prediction video; all their instances count as missed.
======================  ===================================================================

Differences from SLEAP: a ground-truth frame without any prediction counts its
instances as missed (SLEAP skips such frames), ``pck`` divides by the
ground-truth-visible nodes (SLEAP by all nodes); ``oks_map_coco`` adds the COCO
view in which extra predictions are false positives.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import sleap_io as sio

__all__ = [
    "OKS_STDDEV",
    "OKS_THRESHOLDS",
    "PCK_THRESHOLDS",
    "RECALL_THRESHOLDS",
    "compute_oks",
    "compute_voc_metrics",
    "evaluate_frames",
    "evaluate_labels",
    "format_report",
    "instance_area",
    "match_frame",
    "to_jsonable",
]

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


def _video_key(video: sio.Video) -> str:
    filename = video.filename
    if isinstance(filename, list):
        filename = filename[0] if filename else ""
    return str(filename)


def _shape(video: sio.Video) -> tuple[int, ...] | None:
    try:
        shape = video.shape
    except Exception:
        shape = None
    if shape is None:
        shape = (getattr(video, "backend_metadata", None) or {}).get("shape")
    return tuple(shape) if shape is not None else None


def _same_frame_shape(a: sio.Video, b: sio.Video) -> bool | None:
    """True/False when both frame shapes are known, else None."""
    sa, sb = _shape(a), _shape(b)
    if sa is None or sb is None:
        return None
    return tuple(sa[1:]) == tuple(sb[1:])


def _match_videos(gt_videos: list[sio.Video], pr_videos: list[sio.Video]) -> dict[int, sio.Video]:
    """Map ``id(gt_video)`` to its prediction video by identity, path, file name, shape."""

    def paths_match(a: sio.Video, b: sio.Video, strict: bool) -> bool:
        try:
            return bool(a.matches_path(b, strict=strict))
        except Exception:
            key_a, key_b = _video_key(a), _video_key(b)
            return key_a == key_b if strict else Path(key_a).name == Path(key_b).name

    result: dict[int, sio.Video] = {}
    for gv in gt_videos:
        found = next((pv for pv in pr_videos if pv is gv), None)
        if found is None:
            found = next((pv for pv in pr_videos if paths_match(gv, pv, True)), None)
        if found is None:
            named = [pv for pv in pr_videos if paths_match(gv, pv, False)]
            same = [pv for pv in named if _same_frame_shape(gv, pv) is not False]
            found = (same or [None])[0]
        lone_pair = len(gt_videos) == 1 and len(pr_videos) == 1
        if found is None and lone_pair and _same_frame_shape(gv, pr_videos[0]) is not False:
            found = pr_videos[0]
        if found is not None:
            result[id(gv)] = found
    return result


def _node_mapping(
    skeleton: sio.Skeleton, reference: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Source and destination node indices taking ``skeleton`` nodes to ``reference``."""
    ref_index = {name: i for i, name in enumerate(reference)}
    src, dst = [], []
    for i, name in enumerate(skeleton.node_names):
        if name in ref_index:
            src.append(i)
            dst.append(ref_index[name])
    return np.asarray(src, dtype=int), np.asarray(dst, dtype=int)


def evaluate_labels(
    ground_truth: sio.Labels,
    predictions: sio.Labels,
    user_only_gt: bool = True,
    sigma: float = OKS_STDDEV,
) -> dict[str, Any]:
    """Evaluate a predictions file against a ground-truth file.

    Videos are paired by path, then by file name (preferring an equal frame shape),
    and a lone video in each file is paired when the frame shapes do not disagree.
    Frames are paired by frame index. Only frames with ground-truth instances are
    evaluated; one without a prediction counts all its instances as missed.

    Parameters
    ----------
    ground_truth
        Labels whose user instances are the ground truth. When it has none and
        ``user_only_gt`` is False, its predicted instances are used instead.
    predictions
        Labels whose predicted instances, ranked by ``PredictedInstance.score``, are
        evaluated; user instances (score 1) are used when it holds no predicted ones.
        Nodes are mapped to the ground-truth skeleton by name.
    user_only_gt
        Refuse to fall back to predicted instances as ground truth.
    sigma
        OKS standard deviation.

    Returns
    -------
    dict
        Metrics of :func:`evaluate_frames` plus ``videos_unmatched``.

    Raises
    ------
    ValueError
        Without ground truth skeleton or instances, or when no prediction skeleton
        shares a node name with the ground truth.
    """
    if not ground_truth.skeletons:
        raise ValueError("the ground-truth labels have no skeleton")
    node_names = list(ground_truth.skeletons[0].node_names)

    gt_has_user = any(lf.user_instances for lf in ground_truth.labeled_frames)
    if not gt_has_user:
        if user_only_gt:
            raise ValueError(
                "the ground-truth labels contain no user-labelled instances; "
                "pass user_only_gt=False to use their predicted instances instead"
            )
        gt_has_pred = any(lf.predicted_instances for lf in ground_truth.labeled_frames)
        if not gt_has_pred:
            raise ValueError("the ground-truth labels contain no instances")
    pr_has_pred = any(lf.predicted_instances for lf in predictions.labeled_frames)

    pr_skeletons = {id(s): s for s in predictions.skeletons}
    for lf in predictions.labeled_frames:
        for inst in lf.instances:
            pr_skeletons.setdefault(id(inst.skeleton), inst.skeleton)
    if pr_skeletons and not any(set(s.node_names) & set(node_names) for s in pr_skeletons.values()):
        raise ValueError(
            f"no node of the prediction skeleton matches the ground truth nodes {node_names}"
        )

    mappings: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def as_array(instances: Sequence[sio.Instance]) -> np.ndarray:
        out = np.full((len(instances), len(node_names), 2), np.nan)
        for k, inst in enumerate(instances):
            key = id(inst.skeleton)
            if key not in mappings:
                mappings[key] = _node_mapping(inst.skeleton, node_names)
            src, dst = mappings[key]
            out[k, dst] = np.asarray(inst.numpy(), dtype=np.float64)[src, :2]
        return out

    video_map = _match_videos(list(ground_truth.videos), list(predictions.videos))
    pr_frames: dict[tuple[int, int], list[sio.Instance]] = {}
    for lf in predictions.labeled_frames:
        insts = lf.predicted_instances if pr_has_pred else lf.user_instances
        pr_frames.setdefault((id(lf.video), int(lf.frame_idx)), []).extend(insts)

    unmatched_videos = [
        _video_key(v)
        for v in ground_truth.videos
        if id(v) not in video_map and any(lf.video is v for lf in ground_truth.labeled_frames)
    ]

    def frames() -> Iterable[FrameTriple]:
        for lf in ground_truth.labeled_frames:
            gt_insts = lf.user_instances if gt_has_user else lf.predicted_instances
            if not gt_insts:
                continue
            pv = video_map.get(id(lf.video))
            pr_insts = pr_frames.get((id(pv), int(lf.frame_idx)), []) if pv is not None else []
            scores = np.array(
                [float(i.score) if pr_has_pred else 1.0 for i in pr_insts], dtype=np.float64
            )
            yield as_array(gt_insts), as_array(pr_insts), scores

    metrics = evaluate_frames(frames(), node_names, sigma=sigma)
    metrics["videos_unmatched"] = unmatched_videos
    return metrics


def _fmt(value: Any, digits: int = 3, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}{unit}"
    return f"{value}{unit}"


def format_report(metrics: dict[str, Any]) -> str:
    """Human-readable multi-line summary of a metrics dictionary.

    Parameters
    ----------
    metrics
        Output of :func:`evaluate_frames` or :func:`evaluate_labels`.

    Returns
    -------
    str
        The report, without a trailing newline.
    """
    m = metrics
    lines = [
        f"Frames evaluated: {_fmt(m.get('n_frames'))}",
        (
            f"Instances: {_fmt(m.get('instances_gt'))} ground truth, "
            f"{_fmt(m.get('instances_pred'))} predicted, "
            f"{_fmt(m.get('instances_matched'))} matched, "
            f"{_fmt(m.get('instances_missed'))} missed, "
            f"{_fmt(m.get('instances_extra'))} extra"
        ),
        f"Animals found: {_fmt(_pct(m.get('found_fraction')), 1, '%')}",
        "",
        (
            f"OKS mAP: {_fmt(m.get('oks_map'))}   mAR: {_fmt(m.get('oks_mar'))}   "
            f"mean OKS: {_fmt(m.get('oks_mean'))}"
        ),
    ]
    if m.get("oks_map_coco") is not None and m.get("oks_map_coco") != m.get("oks_map"):
        lines.append(f"OKS mAP, extras as false positives (COCO): {_fmt(m['oks_map_coco'])}")
    pck = m.get("pck") or {}
    if pck:
        lines.append(
            "PCK: " + "   ".join(f"<{k} px {_fmt(_pct(v), 1, '%')}" for k, v in pck.items())
        )
    lines.append(
        "Node error (px): "
        + "   ".join(
            f"{key[5:]} {_fmt(m.get(key), 2)}"
            for key in ("dist_mean", "dist_p50", "dist_p75", "dist_p90", "dist_p95", "dist_p99")
        )
    )
    lines.append(
        f"Visibility: precision {_fmt(m.get('vis_precision'))}   recall {_fmt(m.get('vis_recall'))}"
    )
    per_node = m.get("dist_per_node") or {}
    if per_node:
        width = max(4, *(len(name) for name in per_node))
        lines += [
            "",
            f"{'node':<{width}}  {'mean':>7}  {'p50':>7}  {'p90':>7}  {'p95':>7}  {'n':>6}",
        ]
        for name, s in per_node.items():
            lines.append(
                f"{name:<{width}}  {_fmt(s.get('mean'), 2):>7}  {_fmt(s.get('p50'), 2):>7}  "
                f"{_fmt(s.get('p90'), 2):>7}  {_fmt(s.get('p95'), 2):>7}  {_fmt(s.get('n')):>6}"
            )
    unmatched = m.get("videos_unmatched") or []
    if unmatched:
        lines += ["", "Ground-truth videos without predictions (all instances missed):"]
        lines += [f"  {v}" for v in unmatched]
    return "\n".join(lines)


def _pct(value: Any) -> float | None:
    return None if value is None else 100.0 * float(value)
