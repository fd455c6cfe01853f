"""How alike new instances are to a track's earlier instances.

Every similarity is a ``(M, K)`` array in ``[0, 1]`` between ``M`` query instances and
``K`` candidates, both ``(·, N, 2)`` xy arrays with NaN for missing nodes:

- ``instance``: SLEAP's, ``sum_n exp(-d_n²) / (the new instance's visible nodes)`` with
  ``d`` in pixels, so it is near 0 for any motion above a few pixels;
- ``oks``: the same sum with each distance scaled to the candidate's size,
  ``exp(-d² / (2 (κ s)²))`` with ``s`` the square root of its bounding-box area and
  ``κ = OKS_KAPPA``: the same at any resolution, and still ordered after a large motion;
- ``centroid``: ``exp(-d² / (2 (κ s)²))`` of the distance between the centres of the
  visible nodes;
- ``iou``: intersection over union of the bounding boxes of the visible nodes.

:func:`size_agreement` compares body sizes: ``exp(-r² / (2 τ²))`` with ``r`` the median
log ratio of the node-to-node distances two poses share and ``τ = SIZE_TAU``. An
animal keeps its size whichever way it turns, so this tells animals of different sizes
apart after a large motion; for animals of one size it is close to 1 for every pair.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from ..choices import Similarity

OKS_KAPPA = 0.5  # a node moved by half the animal's size counts exp(-1/2)
_MIN_SIZE = 4.0  # px: the size of a candidate with one visible node
SIZE_TAU = 0.2  # a body 20 % larger counts exp(-1/2)


def _sizes(points: np.ndarray) -> np.ndarray:
    """``(K,)`` square root of each instance's bounding-box area (at least a few px)."""
    lo, hi = _boxes(points)
    area = np.prod(np.nan_to_num(hi - lo), axis=-1)
    return np.maximum(np.sqrt(area), _MIN_SIZE)


def _boxes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounding boxes ``(K, 2)`` low and high corners of the visible nodes (NaN if none)."""
    with _quiet():
        return np.nanmin(points, axis=1), np.nanmax(points, axis=1)


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence numpy's all-NaN slice warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def centroids(points: np.ndarray) -> np.ndarray:
    """``(K, 2)`` centre of each instance's visible nodes (NaN if none)."""
    with _quiet():
        return np.nanmean(points, axis=1)


def _node_sum(kernel: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Sum of ``kernel`` ``(M, K, N)`` over the nodes, over each query's visible nodes (as
    SLEAP does: a node the candidate misses counts as 0)."""
    visible = np.isfinite(queries).all(axis=-1).sum(axis=-1)  # (M,)
    total = np.nansum(kernel, axis=-1)
    return np.where(visible[:, None] > 0, total / np.maximum(visible, 1)[:, None], 0.0)


def similarity_matrix(
    kind: Similarity | str, queries: np.ndarray, candidates: np.ndarray
) -> np.ndarray:
    """``(M, K)`` similarity of every query instance to every candidate."""
    kind = Similarity(kind)
    q = np.asarray(queries, dtype=np.float64)
    c = np.asarray(candidates, dtype=np.float64)
    m, k = len(q), len(c)
    if m == 0 or k == 0:
        return np.zeros((m, k))
    if kind is Similarity.IOU:
        return _iou(q, c)
    if kind is Similarity.CENTROID:
        d2 = np.sum((centroids(q)[:, None] - centroids(c)[None]) ** 2, axis=-1)
        scale = 2.0 * (OKS_KAPPA * _sizes(c)) ** 2
        return np.nan_to_num(np.exp(-d2 / scale[None]))
    d2 = np.sum((q[:, None] - c[None]) ** 2, axis=-1)  # (M, K, N), NaN if either misses
    if kind is Similarity.INSTANCE:
        return _node_sum(np.exp(-d2), q)
    scale = 2.0 * (OKS_KAPPA * _sizes(c)) ** 2
    return _node_sum(np.exp(-d2 / scale[None, :, None]), q)


def _iou(q: np.ndarray, c: np.ndarray) -> np.ndarray:
    qlo, qhi = _boxes(q)
    clo, chi = _boxes(c)
    lo = np.maximum(qlo[:, None], clo[None])
    hi = np.minimum(qhi[:, None], chi[None])
    inter = np.prod(np.clip(hi - lo, 0.0, None), axis=-1)
    qa = np.prod(qhi - qlo, axis=-1)
    ca = np.prod(chi - clo, axis=-1)
    union = qa[:, None] + ca[None] - inter
    with np.errstate(all="ignore"):
        out = np.where(union > 0, inter / union, 0.0)
    return np.nan_to_num(out)


def box_iou(points: np.ndarray) -> np.ndarray:
    """``(M, M)`` bounding-box IoU between the instances of one frame."""
    p = np.asarray(points, dtype=np.float64)
    return _iou(p, p) if len(p) else np.zeros((0, 0))


MAX_PAIRS = 64  # node pairs a size is measured on (evenly chosen from all of them)


def pair_distances(points: np.ndarray) -> np.ndarray:
    """``(K, P)`` distances between pairs of nodes (NaN where one misses): every pair, or
    :data:`MAX_PAIRS` of them spread over all pairs for skeletons with many nodes."""
    points = np.asarray(points, dtype=np.float64)
    i, j = np.triu_indices(points.shape[1], 1)
    step = -(-len(i) // MAX_PAIRS)
    i, j = i[::step], j[::step]
    return np.hypot(*(points[:, i] - points[:, j]).transpose(2, 0, 1))


def nan_median(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Median along ``axis`` ignoring NaN (NaN where all are); faster than ``np.nanmedian``."""
    x = np.sort(np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1), axis=-1)  # NaN last
    n = np.isfinite(x).sum(axis=-1)
    lo = np.take_along_axis(x, np.maximum((n - 1) // 2, 0)[..., None], axis=-1)[..., 0]
    hi = np.take_along_axis(x, np.maximum(n // 2, 0)[..., None], axis=-1)[..., 0]
    return np.where(n > 0, (lo + hi) / 2, np.nan)


def size_agreement(queries: np.ndarray, references: np.ndarray) -> np.ndarray:
    """``(M, K)`` how alike the body sizes are, from node-pair distances ``(M, P)`` and
    ``(K, P)`` (:func:`pair_distances`); 1 where there are too few pairs to compare."""
    dq = np.asarray(queries, dtype=np.float64)
    dr = np.asarray(references, dtype=np.float64)
    if len(dq) == 0 or len(dr) == 0 or dq.shape[1] < 3:
        return np.ones((len(dq), len(dr)))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log(dq[:, None] / dr[None])
    ratio[~np.isfinite(ratio)] = np.nan
    r = nan_median(ratio)
    return np.where(np.isfinite(r), np.exp(-(r**2) / (2 * SIZE_TAU**2)), 1.0)
