"""Suggestions that look at a trained model: the frames it is unsure of, the poses it has
not been shown, and a mix of both spread over the video.

For a sample of a video's unlabelled frames (evenly spaced, batched), the run's predictor
predicts each frame as it is and rotated by ±the angle the pose model was trained with
(test-time augmentation), and:

``uncertainty``
    Per body part of every predicted animal: how far it moves when the frame is rotated
    (1 when it moves by a tenth of the animal's size or appears in only one of the two
    predictions), averaged with how weak its peak is (1 − its confidence); animals found
    on a rotated copy only count 1 for every body part, and so does every animal missing
    from all three predictions (fewer than the labelled frames usually hold). A frame's
    uncertainty is the mean. The angle is the pose model's training rotation, within 5-45°.
``novelty``
    Each predicted animal's pose, centred and scaled by its size (not rotated, so an
    animal facing a direction never labelled counts as new), against every labelled pose:
    the root-mean-square distance over the body parts both have, to the nearest labelled
    pose. A frame's novelty is its newest animal's (at least 1 when animals are missing).
``mix`` (the default)
    The mean of the two ranks (each frame's percentile among the sampled frames).

Frames are then taken best first, at least ``min_gap`` frames apart, so a burst of odd
frames gives one suggestion, not ten neighbours. For novelty and the mix each frame taken
counts as labelled from then on: the novelty of the frames left is measured again against
its predicted poses too, so twenty suggestions show twenty different new poses, not one
new pose twenty times. Each suggestion says why it was made, and
keeps the predictions made of its frame, ready to correct. No napari or Qt here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import sleap_io as sio
from scipy.optimize import linear_sum_assignment

from ..data.geometry import instance_anchors, instance_bbox_sides
from ..errors import SuggestionError
from .frames import _check_n

if TYPE_CHECKING:
    from ..inference.predictor import FramePrediction

__all__ = [
    "MODEL_METHODS",
    "FrameDoubt",
    "ModelSuggestions",
    "frame_doubts",
    "pick_spread",
    "pose_novelty",
    "rank_doubts",
    "rotate_frames",
    "sample_candidates",
    "suggest_from_run",
    "suggest_with_model",
    "training_rotation",
    "tta_doubt",
]

MODEL_METHODS: tuple[str, ...] = ("mix", "uncertainty", "novelty")
MOVE_FRACTION = 0.1  # a body part moving by this share of the animal's size is a full doubt


@dataclass
class FrameDoubt:
    """What the model makes of one frame."""

    frame: int
    uncertainty: float
    novelty: float
    n_instances: int
    prediction: FramePrediction | None = None  # the frame as it is
    missing: int = 0  # animals fewer than labelled frames usually hold
    animal_novelty: np.ndarray | None = None  # per predicted animal, as `pose_novelty`
    score: float = 0.0
    reason: str = ""


@dataclass
class ModelSuggestions:
    """Frames chosen from a model's doubts, best first, with the sampled frames' doubts."""

    chosen: list[FrameDoubt]
    sampled: list[FrameDoubt] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def frames(self) -> list[int]:
        return sorted(d.frame for d in self.chosen)

    @property
    def fps(self) -> float:
        """Sampled frames per second (each predicted three times)."""
        return len(self.sampled) / self.seconds if self.seconds else 0.0


def _sizes(points: np.ndarray) -> np.ndarray:
    """Side of each instance's bounding box (its larger side), at least 1 px."""
    return np.maximum(np.nan_to_num(instance_bbox_sides(points), nan=1.0), 1.0)


def _centres(points: np.ndarray) -> np.ndarray:
    """Centre of each instance's bounding box (NaN for an instance with no visible node)."""
    return instance_anchors(points, None)


def rotate_frames(frames: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``(B, H, W[, C])`` rotated by ``angle`` degrees about their centre, and the
    ``(2, 3)`` map from rotated to original pixel coordinates."""
    import cv2

    h, w = frames.shape[1:3]
    forward = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
    back = cv2.invertAffineTransform(forward)
    out = np.stack(
        [cv2.warpAffine(f, forward, (w, h), flags=cv2.INTER_LINEAR) for f in frames]
    ).reshape(frames.shape)
    return out, back


def _map_back(points: np.ndarray, back: np.ndarray) -> np.ndarray:
    return points @ back[:, :2].T + back[:, 2]


def _match(a: np.ndarray, b: np.ndarray) -> list[tuple[int, int]]:
    """Pairs of instances of ``a`` and ``b`` ``(M, N, 2)`` whose centres lie within half
    an animal's size of each other (Hungarian on centre distance)."""
    if not len(a) or not len(b):
        return []
    ca, cb = _centres(a), _centres(b)
    d = np.linalg.norm(ca[:, None] - cb[None], axis=-1) / _sizes(a)[:, None]
    d = np.nan_to_num(d, nan=np.inf)
    rows, cols = linear_sum_assignment(np.where(np.isfinite(d), d, 1e6))
    return [(int(r), int(c)) for r, c in zip(rows, cols) if d[r, c] <= 0.5]


def missing_animals(base: FramePrediction, others: Sequence[np.ndarray], expected: int) -> int:
    """How many fewer animals than ``expected`` the most generous of the predictions found."""
    found = max([base.n_instances, *(len(o) for o in others)])
    return max(0, int(expected) - found)


def tta_doubt(base: FramePrediction, others: Sequence[np.ndarray], expected: int = 0) -> float:
    """The uncertainty of one frame (see the module's text) from its prediction ``base``
    and the points ``(M, N, 2)`` predicted on its rotated copies, already mapped back to
    the frame; ``expected`` is how many animals labelled frames usually hold."""
    pts = base.points
    m, n = pts.shape[:2] if pts.ndim == 3 else (0, 0)
    doubts: list[np.ndarray] = []
    missing = missing_animals(base, others, expected)
    for _ in range(max(1, len(others)) if missing else 0):  # weighed as each comparison
        doubts.append(np.ones(missing * max(n, 1)))
    for other in others:
        moved = np.ones((m, n))
        pairs = _match(pts, other)
        for i, j in pairs:
            d = np.linalg.norm(pts[i] - other[j], axis=-1) / (MOVE_FRACTION * _sizes(pts[[i]]))
            seen = np.isfinite(pts[i]).all(-1), np.isfinite(other[j]).all(-1)
            moved[i] = np.where(seen[0] & seen[1], np.minimum(d, 1.0), 1.0)
            moved[i][~seen[0] & ~seen[1]] = np.nan
        weak = np.clip(1.0 - np.nan_to_num(base.point_scores, nan=0.0), 0.0, 1.0)
        weak = np.where(np.isfinite(pts).all(-1), weak, np.nan)
        both = np.stack([moved, weak])
        count = np.isfinite(both).sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_node = np.where(count > 0, np.nansum(both, 0) / count, np.nan)
        doubts.append(per_node[np.isfinite(per_node)])
        unmatched = len(other) - len(pairs)
        if unmatched > 0:
            doubts.append(np.ones(unmatched * max(n, 1)))
    values = np.concatenate(doubts) if doubts else np.zeros(0)
    return float(values.mean()) if len(values) else 0.0


def _normalised(points: np.ndarray) -> np.ndarray:
    """Poses ``(M, N, 2)`` centred on their centre and divided by their size."""
    return (points - _centres(points)[:, None]) / _sizes(points)[:, None, None]


def pose_novelty(points: np.ndarray, labelled: np.ndarray) -> np.ndarray:
    """For each pose ``(M, N, 2)``, the distance to the nearest labelled pose ``(L, N, 2)``
    (both centred and scaled by their size; RMS over the body parts both have; 1 when
    they share none)."""
    if not len(points):
        return np.zeros(0)
    if not len(labelled):
        return np.ones(len(points))
    a, b = _normalised(points), _normalised(labelled)
    both = np.isfinite(a).all(-1)[:, None] & np.isfinite(b).all(-1)[None]  # (M, L, N)
    d2 = np.nan_to_num(((a[:, None] - b[None]) ** 2).sum(-1), nan=0.0)
    count = both.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rms = np.sqrt(np.where(both, d2, 0.0).sum(-1) / count)
    rms = np.where(count > 0, rms, 1.0)
    return rms.min(1)


def frame_novelty(novelties: np.ndarray, missing: int) -> float:
    """A frame's novelty: its newest animal's, and 1 (nothing in common with any labelled
    pose) when animals are missing."""
    newest = float(novelties.max()) if len(novelties) else 0.0
    return max(newest, 1.0) if missing else newest


def frame_doubts(
    predictor,
    video,
    frames: Sequence[int],
    labelled: np.ndarray,
    angle: float = 15.0,
    batch_size: int = 4,
    progress: Callable[[int, int], None] | None = None,
    expected: int = 0,
) -> list[FrameDoubt]:
    """Uncertainty and novelty of ``frames`` of ``video`` (a LazyVideo) under
    ``predictor``, against the ``labelled`` poses ``(L, N, 2)``; ``expected`` animals per
    frame (0: any number)."""
    out: list[FrameDoubt] = []
    frames = [int(f) for f in frames]
    for start in range(0, len(frames), batch_size):
        batch = frames[start : start + batch_size]
        images = np.stack([video.frame(f) for f in batch])
        base = predictor.predict_batch(images)
        turned = []
        for sign in (1, -1):
            rotated, back = rotate_frames(images, sign * angle)
            preds = predictor.predict_batch(rotated)
            turned.append([_map_back(p.points, back) for p in preds])
        for i, (f, pred) in enumerate(zip(batch, base)):
            pred.frame_idx = f
            others = [t[i] for t in turned]
            missing = missing_animals(pred, others, expected)
            novelties = pose_novelty(pred.points, labelled)
            out.append(
                FrameDoubt(
                    frame=f,
                    uncertainty=tta_doubt(pred, others, expected),
                    novelty=frame_novelty(novelties, missing),
                    n_instances=pred.n_instances,
                    prediction=pred,
                    missing=missing,
                    animal_novelty=novelties,
                )
            )
        if progress is not None:
            progress(len(out), len(frames))
    return out


def _check_model_method(method: str) -> None:
    if method not in MODEL_METHODS:
        raise SuggestionError(f"Unknown method {method!r}; use one of {', '.join(MODEL_METHODS)}.")


def _ranks(values: np.ndarray) -> np.ndarray:
    """Each value's percentile among ``values`` (ties share the mean), in [0, 1]."""
    if len(values) < 2:
        return np.ones(len(values))
    order = values.argsort(kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    for v in np.unique(values):
        same = values == v
        ranks[same] = ranks[same].mean()
    return ranks / (len(values) - 1)


def rank_doubts(
    doubts: list[FrameDoubt], method: str, angle: float, fixed: Sequence[FrameDoubt] = ()
) -> None:
    """Give every frame of ``doubts`` its score under ``method`` and the reason to show
    with it, ranked among ``doubts`` and ``fixed`` (frames already taken, left as they are)."""
    _check_model_method(method)
    every = [*doubts, *fixed]
    unc = _ranks(np.array([d.uncertainty for d in every]))
    nov = _ranks(np.array([d.novelty for d in every]))
    for d, u, v in zip(doubts, unc, nov):
        d.score = {"uncertainty": d.uncertainty, "novelty": d.novelty, "mix": (u + v) / 2}[method]
        unsure = (
            f"unsure: body parts move or weaken under ±{angle:g}° rotation ({d.uncertainty:.2f})"
        )
        if d.missing:
            animals = f"{d.missing} animal{'s' if d.missing > 1 else ''}"
            unsure = f"unsure: {animals} fewer than labelled frames hold"
        new = f"new pose: {d.novelty:.2f} of its size from every labelled or suggested pose"
        if method == "uncertainty" or (method == "mix" and u >= v):
            d.reason = unsure
        else:
            d.reason = new


def _count_as_labelled(taken: FrameDoubt, left: Sequence[FrameDoubt]) -> None:
    """Measure the novelty of the frames ``left`` against the poses predicted on ``taken``
    too, as if it were labelled."""
    if taken.prediction is None or not taken.prediction.n_instances:
        return
    for d in left:
        if d.prediction is None or d.animal_novelty is None or not d.prediction.n_instances:
            continue
        d.animal_novelty = np.minimum(
            d.animal_novelty, pose_novelty(d.prediction.points, taken.prediction.points)
        )
        d.novelty = frame_novelty(d.animal_novelty, d.missing)


def pick_spread(
    doubts: list[FrameDoubt],
    n: int,
    min_gap: int,
    method: str | None = None,
    angle: float = 15.0,
) -> list[FrameDoubt]:
    """The ``n`` best-scored frames, no two closer than ``min_gap`` frames (fewer when the
    gap leaves no more room), best first.

    With ``method`` novelty or mix, each frame taken counts as labelled: the frames left
    are measured and ranked again (:func:`rank_doubts`) before the next is taken, so the
    picks show different new poses.
    """
    chosen: list[FrameDoubt] = []
    left = sorted(doubts, key=lambda d: d.frame)
    while len(chosen) < n:
        room = [d for d in left if all(abs(d.frame - c.frame) >= min_gap for c in chosen)]
        if not room:
            break
        best = min(room, key=lambda d: (-d.score, d.frame))
        chosen.append(best)
        left.remove(best)
        if method in ("novelty", "mix"):
            _count_as_labelled(best, left)
            rank_doubts(left, method, angle, fixed=chosen)
    return chosen


def sample_candidates(
    candidates: Sequence[int], n: int, sample_size: int = 200, min_gap: int | None = None
) -> tuple[np.ndarray, int]:
    """The ``sample_size`` evenly spaced ``candidates`` (at least ``n``) a model-based method
    looks at, and the gap its ``n`` picks keep: ``min_gap``, by default
    ``max(10, candidates' span / (2 n))`` frames."""
    pool = np.unique(np.asarray(candidates, dtype=np.int64))
    if min_gap is None:
        span = int(pool[-1] - pool[0] + 1) if len(pool) else 0
        min_gap = max(10, math.ceil(span / (2 * n)))
    take = min(len(pool), max(int(sample_size), n))
    sample = np.unique(pool[np.linspace(0, len(pool) - 1, take).round().astype(np.int64)])
    return sample, min_gap


def suggest_with_model(
    predictor,
    video,
    candidates: Sequence[int],
    labelled: np.ndarray,
    n: int,
    method: str = "mix",
    *,
    angle: float = 15.0,
    sample_size: int = 200,
    min_gap: int | None = None,
    batch_size: int = 4,
    progress: Callable[[int, int], None] | None = None,
    expected: int = 0,
) -> ModelSuggestions:
    """Up to ``n`` frames of ``candidates`` (frames of the LazyVideo ``video``) to label
    next, chosen by ``method`` among ``sample_size`` evenly spaced candidates;
    ``expected`` is how many animals labelled frames usually hold (0: any number).

    ``min_gap`` defaults to ``max(10, candidates' span / (2 n))`` frames.
    """
    _check_model_method(method)
    n = _check_n(n)
    sample, min_gap = sample_candidates(candidates, n, sample_size, min_gap)
    if not len(sample):
        return ModelSuggestions([])
    t0 = time.perf_counter()
    doubts = frame_doubts(predictor, video, sample, labelled, angle, batch_size, progress, expected)
    seconds = time.perf_counter() - t0
    rank_doubts(doubts, method, angle)
    return ModelSuggestions(pick_spread(doubts, n, min_gap, method, angle), doubts, seconds)


def training_rotation(run_dir) -> float:
    """The rotation (degrees) to test a run's pose model with: the range it was trained
    with (within 5 to 45), 10 when it was trained without rotation, or 15 (SLEAP's
    default) when its configuration cannot be read."""
    from ..config import TrainingConfig
    from ..errors import ConfigError
    from ..models.folder import RunFolder

    run = RunFolder(Path(run_dir))
    try:  # the pose model's own settings (its camera view decided)
        config = TrainingConfig.load(run.model(run.pipeline_models()[-1]).config_file)
    except ConfigError:
        return 15.0
    aug = list(config.models.values())[-1].augmentation
    return float(min(45.0, max(5.0, aug.rotation_deg))) if aug.rotation else 10.0


@dataclass
class VideoSuggestions:
    """What :func:`suggest_from_run` did for one video."""

    video: sio.Video
    result: ModelSuggestions
    added: int


def suggest_from_run(
    project,
    run_dir,
    method: str,
    n: int,
    *,
    videos: Sequence | None = None,
    sample_size: int = 200,
    exclude_labelled: bool = True,
    exclude_suggested: bool = True,
    device: str = "auto",
    progress: Callable[[int, int], None] | None = None,
) -> list[VideoSuggestions]:
    """Suggest up to ``n`` frames per video of ``project`` with the models of ``run_dir``
    (``method``: mix, uncertainty or novelty) and add them to its suggestions."""
    from ..inference.pipelines import predictor_from_run
    from ..io.video import LazyVideo
    from .frames import add_suggestions

    _check_model_method(method)
    n = _check_n(n)
    predictor = predictor_from_run(run_dir, device=device)
    predictor.check_skeleton(project.node_names)
    angle = training_rotation(run_dir)
    labelled = project.user_instances_array()
    counts = project.user_counts().values()
    frames_labelled = sum(f for f, _ in counts)
    expected = round(sum(i for _, i in counts) / frames_labelled) if frames_labelled else 0
    out = []
    for video in list(project.videos if videos is None else videos):
        excluded = set(project.labelled_frame_indices(video)) if exclude_labelled else set()
        if exclude_suggested:
            excluded |= set(project.suggested_frames(video))
        lazy = LazyVideo(video)
        try:
            available = lazy.available_frames
            frames = available if available is not None else range(len(lazy))
            candidates = [int(f) for f in frames if int(f) not in excluded]
            result = suggest_with_model(
                predictor,
                lazy,
                candidates,
                labelled,
                n,
                method,
                angle=angle,
                sample_size=sample_size,
                progress=progress,
                expected=expected,
            )
        finally:
            lazy.close()
        out.append(
            VideoSuggestions(video, result, add_suggestions(project.labels, video, result.frames))
        )
    return out
