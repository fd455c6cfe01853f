"""Frame suggestions for the active-learning loop: which frames to label next.

Five methods, each per video, returning sorted frame indices:

``random``
    N random frames (seeded).
``stride``
    N frames spread evenly over the video.
``image-features``
    SLEAP's "image features" method: a sample of frames is read, shrunk to small
    grayscale images, reduced with PCA and grouped with k-means; frames are then taken
    from the clusters in turn, so every kind of scene gets some.
``low-score``
    Frames whose predicted instances have the lowest mean score, i.e. where the model
    is least sure.
``outliers``
    Frames of tracked predictions where a body part jumps between neighbouring frames or
    leaves the smooth path of its track, most such body parts first, each with its reason
    (:mod:`.outliers`).

Frames with user labels (and frames already suggested) are skipped by default.
:func:`add_suggestions` stores frames in a ``sio.Labels`` as ``SuggestionFrame`` s.
No napari or Qt here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import sleap_io as sio

from ..errors import SuggestionError

__all__ = [
    "METHODS",
    "SuggestionError",
    "SuggestionResult",
    "add_suggestions",
    "frame_features",
    "frame_scores",
    "image_feature_frames",
    "kmeans",
    "low_score_frames",
    "random_frames",
    "stride_frames",
    "suggest",
    "suggest_frames",
]

METHODS: tuple[str, ...] = ("random", "stride", "image-features", "low-score", "outliers")
PREDICTION_METHODS = ("low-score", "outliers")  # methods that rank predictions


@dataclass(frozen=True)
class SuggestionResult:
    """What :func:`suggest` did for one video."""

    video: sio.Video
    frames: list[int]
    """Frames chosen by the method, sorted."""
    added: int
    """How many of them were new suggestions."""
    reasons: dict[int, str] = field(default_factory=dict)
    """Why a frame was chosen, where the method says (``outliers``)."""


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _check_n(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise SuggestionError(f"The number of frames to suggest must be 1 or more, not {n!r}.")
    return int(n)


def _check_method(method: str) -> str:
    name = str(method).strip().lower().replace("_", "-")
    if name in ("image", "features", "image-feature"):
        name = "image-features"
    if name not in METHODS:
        raise SuggestionError(
            f"Unknown suggestion method {method!r}; use one of {', '.join(METHODS)}."
        )
    return name


def _video_name(video: sio.Video) -> str:
    from pathlib import Path

    name = video.filename[0] if isinstance(video.filename, list) else video.filename
    return Path(str(name)).name


def _labelled_frames(labels: sio.Labels, video: sio.Video) -> set[int]:
    return {
        int(lf.frame_idx) for lf in labels.labeled_frames if lf.video is video and lf.user_instances
    }


def _suggested_frames(labels: sio.Labels, video: sio.Video) -> set[int]:
    return {int(s.frame_idx) for s in labels.suggestions if s.video is video}


def _open(video: sio.Video):
    from ..io.video import LazyVideo

    return LazyVideo(video, cache_size=0)


def _readable_frames(lazy) -> np.ndarray:
    """Frame indices of a ``LazyVideo`` that hold images."""
    available = lazy.available_frames
    if available is not None:
        return np.asarray(available, dtype=np.int64)
    return np.arange(len(lazy), dtype=np.int64)


def _exclude(frames: Iterable[int], excluded: set[int]) -> np.ndarray:
    return np.array(sorted(int(f) for f in frames if int(f) not in excluded), dtype=np.int64)


# ---------------------------------------------------------------------------
# Methods on candidate frames
# ---------------------------------------------------------------------------


def random_frames(candidates: Sequence[int], n: int, seed: int | None = 0) -> list[int]:
    """``n`` random frames of ``candidates`` (all of them if fewer), sorted."""
    n = _check_n(n)
    pool = np.unique(np.asarray(candidates, dtype=np.int64))
    if len(pool) <= n:
        return pool.tolist()
    picked = np.random.default_rng(seed).choice(pool, n, replace=False)
    return sorted(int(f) for f in picked)


def stride_frames(candidates: Sequence[int], n: int) -> list[int]:
    """``n`` frames of ``candidates`` spread evenly: the middle of ``n`` equal parts, sorted."""
    n = _check_n(n)
    pool = np.unique(np.asarray(candidates, dtype=np.int64))
    if len(pool) <= n:
        return pool.tolist()
    positions = ((np.arange(n) + 0.5) * len(pool) / n).astype(np.int64)
    return pool[positions].tolist()


def frame_features(
    video,
    frames: Sequence[int],
    size: int = 32,
    pca_components: int = 5,
) -> np.ndarray:
    """PCA features ``(len(frames), k)`` of small grayscale copies of ``frames``.

    ``video`` is a ``sio.Video`` or a :class:`~napari_sleap_train.io.video.LazyVideo`; each
    frame is averaged over its channels, shrunk to ``size`` x ``size`` pixels (area
    averaging), flattened and centred; the first ``pca_components`` principal components
    are returned, scaled by their singular values (PCA in numpy).
    """
    import cv2

    from ..io.video import LazyVideo

    lazy = video if isinstance(video, LazyVideo) else _open(video)
    rows = np.empty((len(frames), size * size), dtype=np.float32)
    for i, f in enumerate(frames):
        img = lazy.frame(int(f)).astype(np.float32)
        gray = img.mean(axis=2) if img.ndim == 3 else img
        small = cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA)
        rows[i] = small.ravel() / 255.0
    if len(rows) == 0:
        return np.zeros((0, pca_components))
    x = rows.astype(np.float64) - rows.mean(axis=0, dtype=np.float64)
    return _pca(x, pca_components)


def _pca(x: np.ndarray, k: int) -> np.ndarray:
    """Scores on the first ``k`` principal components of centred rows ``x``.

    Equal to ``U[:, :k] * S[:k]`` of ``x``'s SVD, computed from the eigenvectors of the
    smaller of ``x x^T`` and ``x^T x`` (here several times faster than a full SVD).
    """
    k = max(1, min(int(k), *x.shape))
    if x.shape[0] <= x.shape[1]:
        vals, vecs = np.linalg.eigh(x @ x.T)
        top = np.argsort(vals)[::-1][:k]
        return vecs[:, top] * np.sqrt(np.clip(vals[top], 0.0, None))
    vals, vecs = np.linalg.eigh(x.T @ x)
    top = np.argsort(vals)[::-1][:k]
    return x @ vecs[:, top]


def kmeans(
    x: np.ndarray,
    k: int,
    seed: int | None = 0,
    n_init: int = 4,
    max_iter: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    """k-means clustering of the rows of ``x`` with seeded k-means++ starts.

    Runs ``n_init`` times (Lloyd's algorithm, up to ``max_iter`` steps each) and keeps
    the run with the smallest within-cluster sum of squares. A cluster that empties is
    restarted at the point farthest from its centre.

    Returns
    -------
    labels
        ``(M,)`` cluster index of each row, ``0 <= label < k``.
    centers
        ``(k, D)`` cluster centres.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise SuggestionError("k-means needs a non-empty 2-D array of features.")
    k = int(min(max(k, 1), len(x)))
    rng = np.random.default_rng(seed)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for _ in range(max(1, n_init)):
        centers = _kmeans_pp(x, k, rng)
        labels = np.full(len(x), -1)
        for _ in range(max_iter):
            d2 = ((x[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
            new = d2.argmin(axis=1)
            dist = d2[np.arange(len(x)), new]
            for c in range(k):
                if not np.any(new == c):  # empty: take the worst-fitting point of a big cluster
                    movable = np.bincount(new, minlength=k)[new] > 1
                    far = int(np.where(movable, dist, -1.0).argmax())
                    new[far] = c
            if np.array_equal(new, labels):
                break
            labels = new
            centers = np.stack(
                [
                    x[labels == c].mean(axis=0) if np.any(labels == c) else centers[c]
                    for c in range(k)
                ]
            )
        inertia = float(((x - centers[labels]) ** 2).sum())
        if best is None or inertia < best[0]:
            best = (inertia, labels.copy(), centers.copy())
    assert best is not None
    return best[1], best[2]


def _kmeans_pp(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding: each new centre drawn with probability ~ squared distance."""
    centers = [x[rng.integers(len(x))]]
    d2 = ((x - centers[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        total = d2.sum()
        # (when every point already sits on a centre, any point will do)
        idx = int(rng.choice(len(x), p=d2 / total)) if total > 0 else int(rng.integers(len(x)))
        centers.append(x[idx])
        d2 = np.minimum(d2, ((x - x[idx]) ** 2).sum(axis=1))
    return np.stack(centers)


def image_feature_frames(
    video,
    candidates: Sequence[int],
    n: int,
    seed: int | None = 0,
    *,
    sample_size: int = 300,
    size: int = 32,
    pca_components: int = 5,
    n_clusters: int = 5,
    return_clusters: bool = False,
):
    """``n`` frames of ``candidates`` chosen across image-feature clusters, sorted.

    Up to ``max(sample_size, n)`` candidates, evenly spaced, are read and described by
    :func:`frame_features`; k-means groups them into ``min(n_clusters, n)`` clusters; the
    frames are then picked from the clusters in turn (each cluster in a seeded random
    order), so every cluster gives frames until ``n`` are chosen.

    With ``return_clusters`` the result is ``(frames, clusters)`` where ``clusters`` maps
    every sampled frame to its cluster index.
    """
    n = _check_n(n)
    for name, value in (
        ("sample_size", sample_size),
        ("size", size),
        ("pca_components", pca_components),
        ("n_clusters", n_clusters),
    ):
        if value < 1:
            raise SuggestionError(f"image-features: {name} must be 1 or more, not {value}.")
    pool = np.unique(np.asarray(candidates, dtype=np.int64))
    if len(pool) == 0:
        return ([], {}) if return_clusters else []
    n_sample = min(len(pool), max(int(sample_size), n))
    sample = pool[np.linspace(0, len(pool) - 1, n_sample).round().astype(np.int64)]
    sample = np.unique(sample)
    features = frame_features(video, sample.tolist(), size=size, pca_components=pca_components)
    labels, _ = kmeans(features, min(n_clusters, n, len(sample)), seed=seed)
    rng = np.random.default_rng(seed)
    queues = [list(rng.permutation(sample[labels == c])) for c in range(labels.max() + 1)]
    picked: list[int] = []
    while len(picked) < min(n, len(sample)):
        for queue in queues:
            if queue and len(picked) < n:
                picked.append(int(queue.pop()))
    frames = sorted(picked)
    if return_clusters:
        return frames, {int(f): int(c) for f, c in zip(sample, labels)}
    return frames


def frame_scores(labels: sio.Labels, video: sio.Video) -> dict[int, float]:
    """Mean predicted-instance score of each frame of ``video`` that has predictions.

    Instances without a finite score count as 0 (least sure).
    """
    scores: dict[int, float] = {}
    for lf in labels.labeled_frames:
        if lf.video is not video:
            continue
        preds = lf.predicted_instances
        if not preds:
            continue
        values = [float(p.score) if p.score is not None else np.nan for p in preds]
        values = [v if np.isfinite(v) else 0.0 for v in values]
        scores[int(lf.frame_idx)] = float(np.mean(values))
    return scores


def low_score_frames(
    labels: sio.Labels, video: sio.Video, n: int, excluded: Iterable[int] = ()
) -> list[int]:
    """The ``n`` frames of ``video`` with the lowest mean prediction score, sorted.

    Frames in ``excluded`` are skipped; ties are broken by frame index. Raises
    :class:`SuggestionError` when the video has no predicted instances.
    """
    n = _check_n(n)
    scores = frame_scores(labels, video)
    if not scores:
        raise SuggestionError(
            f"{_video_name(video)} has no predicted instances, so there are no scores to "
            "rank frames by. Run predict first, or choose another method."
        )
    skip = {int(f) for f in excluded}
    ranked = sorted((s, f) for f, s in scores.items() if f not in skip)
    return sorted(f for _, f in ranked[:n])


# ---------------------------------------------------------------------------
# Labels-level API
# ---------------------------------------------------------------------------


def suggest_frames(
    labels: sio.Labels,
    video: sio.Video,
    method: str,
    n: int,
    *,
    seed: int | None = 0,
    exclude_labelled: bool = True,
    exclude_suggested: bool = True,
    **options,
) -> list[int]:
    """Frames of ``video`` to label next, sorted (fewer than ``n`` if fewer are left).

    Parameters
    ----------
    labels
        The project's labels (for labelled frames, suggestions and predictions).
    video
        One of ``labels.videos``; its frames are read for ``image-features`` only.
    method
        ``random``, ``stride``, ``image-features`` or ``low-score``.
    n
        How many frames to suggest in this video.
    seed
        Random seed (``random``, ``image-features``).
    exclude_labelled
        Skip frames that hold user instances.
    exclude_suggested
        Skip frames that are already suggested, so ``n`` new ones are found.
    **options
        Passed to :func:`image_feature_frames` (``sample_size``, ``size``,
        ``pca_components``, ``n_clusters``).
    """
    method = _check_method(method)
    n = _check_n(n)
    excluded = _excluded(labels, video, exclude_labelled, exclude_suggested)
    if method == "low-score":
        return low_score_frames(labels, video, n, excluded)
    if method == "outliers":
        from .outliers import outlier_frames

        return sorted(o.frame for o in outlier_frames(labels, video, excluded)[:n])
    lazy = _open(video)
    try:
        candidates = _exclude(_readable_frames(lazy), excluded)
        if method == "random":
            return random_frames(candidates, n, seed)
        if method == "stride":
            return stride_frames(candidates, n)
        return image_feature_frames(lazy, candidates, n, seed, **options)
    finally:
        lazy.close()


def add_suggestions(labels: sio.Labels, video: sio.Video, frames: Iterable[int]) -> int:
    """Append ``frames`` of ``video`` to ``labels.suggestions``; returns how many were new.

    Existing suggestions are kept and a frame already suggested is not added twice.
    """
    existing = _suggested_frames(labels, video)
    added = 0
    for f in sorted({int(f) for f in frames}):
        if f in existing:
            continue
        labels.suggestions.append(sio.SuggestionFrame(video=video, frame_idx=f))
        existing.add(f)
        added += 1
    return added


def suggest(
    labels: sio.Labels,
    method: str,
    n: int,
    *,
    videos: Sequence[sio.Video] | None = None,
    seed: int | None = 0,
    exclude_labelled: bool = True,
    exclude_suggested: bool = True,
    **options,
) -> list[SuggestionResult]:
    """Suggest up to ``n`` frames in each video and store them in ``labels``.

    For ``low-score``, videos without predictions are skipped (with 0 frames), and a
    :class:`SuggestionError` is raised only when no video has predictions.
    """
    method = _check_method(method)
    n = _check_n(n)
    targets = list(labels.videos if videos is None else videos)
    if not targets:
        raise SuggestionError("The labels hold no video to suggest frames in.")
    if method in PREDICTION_METHODS and not any(frame_scores(labels, v) for v in targets):
        raise SuggestionError(
            f"There are no predicted instances to rank frames by ({method}). Run predict "
            "first (or export predictions into this file), or choose another method."
        )
    results = []
    for video in targets:
        if method in PREDICTION_METHODS and not frame_scores(labels, video):
            results.append(SuggestionResult(video, [], 0))
            continue
        if method == "outliers":
            results.append(_outliers(labels, video, n, exclude_labelled, exclude_suggested))
            continue
        frames = suggest_frames(
            labels,
            video,
            method,
            n,
            seed=seed,
            exclude_labelled=exclude_labelled,
            exclude_suggested=exclude_suggested,
            **options,
        )
        results.append(SuggestionResult(video, frames, add_suggestions(labels, video, frames)))
    return results


def _outliers(
    labels: sio.Labels, video: sio.Video, n: int, exclude_labelled: bool, exclude_suggested: bool
) -> SuggestionResult:
    from .outliers import outlier_frames

    excluded = _excluded(labels, video, exclude_labelled, exclude_suggested)
    chosen = outlier_frames(labels, video, excluded)[:n]
    frames = sorted(o.frame for o in chosen)
    added = add_suggestions(labels, video, frames)
    return SuggestionResult(video, frames, added, {o.frame: o.reason for o in chosen})


def _excluded(labels: sio.Labels, video: sio.Video, labelled: bool, suggested: bool) -> set[int]:
    """The frames a method skips: labelled and/or already suggested ones."""
    out = _labelled_frames(labels, video) if labelled else set()
    return out | _suggested_frames(labels, video) if suggested else out
