"""The tracker: predicted instances linked to tracks frame by frame, as SLEAP does it.

For each frame, in frame order: the candidates are earlier instances that carry a track
(of the tracks seen in the last ``window`` tracked frames, or of every track with
per-track queues: each track's instances within ``window`` frames of the new one, or its
newest however old), shifted into the new frame by optical flow for the ``flow`` method.
Every new instance is compared with every candidate (:mod:`.similarity`); the
similarities to one track's candidates are reduced to one (a quantile; 1 = the best) and,
unless ``size_cue`` is off, multiplied by how alike the instance's size is to the track's
usual size (the median over its last instances); then the instances are assigned to
tracks (:mod:`.matching`). An instance that matches no track starts a new one, unless
``max_tracks`` tracks exist: then it stays untracked. Instances with a fixed track (user
labels) keep it and serve as candidates. :meth:`Tracker.finish` joins single track breaks.

Only the candidates and the previous frame's image are held, so a video of any length
is tracked in constant memory.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..choices import TrackerMethod
from ..config.tracking import TrackingConfig
from .flow import grey, shift_instances
from .matching import match
from .similarity import box_iou, nan_median, pair_distances, similarity_matrix, size_agreement

SIZE_HISTORY = 50  # instances a track's usual size is the median of


@dataclass
class FrameTracks:
    """What the tracker decided for the instances of one frame."""

    frame_idx: int
    tracks: list[int | None]  # track index per instance; None = untracked
    scores: list[float]  # similarity to the matched track (0 for a new track)


@dataclass
class _Candidate:
    track: int
    frame_idx: int
    pose: np.ndarray  # (N, 2) as it was on its frame
    points: np.ndarray  # the pose shifted into the last frame seen (flow), else the pose


@dataclass
class _Span:
    first: int
    last: int
    seed: bool = False


@dataclass
class Tracker:
    """Streaming tracker; call :meth:`step` for each frame in frame order.

    ``seeds`` names the tracks that exist before tracking (user-labelled tracks): a fixed
    instance given track index ``i`` belongs to ``seeds[i]``.
    """

    config: TrackingConfig = field(default_factory=TrackingConfig)
    seeds: Sequence[str] = ()
    names: list[str] = field(init=False)
    spans: dict[int, _Span] = field(init=False, default_factory=dict)
    _window: deque = field(init=False)
    _queues: dict[int, deque] = field(init=False, default_factory=dict)
    _sizes: dict[int, deque] = field(init=False, default_factory=dict)
    _usual: dict[int, np.ndarray] = field(init=False, default_factory=dict)
    _new: dict[int, int] = field(init=False, default_factory=dict)
    _image: np.ndarray | None = field(init=False, default=None)
    _frames: list[int] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.names = list(self.seeds)
        self._window = deque(maxlen=self.config.window)

    @property
    def n_tracks(self) -> int:
        return len(self.names)

    def _candidates(self, frame_idx: int | None = None) -> list[_Candidate]:
        """Per track: its instances within ``window`` frames of ``frame_idx``, or else its
        newest one however old (so skipped frames still find their tracks). The tracks are
        those of the last ``window`` tracked frames, or every track with queues."""
        if self.config.uses_queues:
            pools = {t: list(q) for t, q in self._queues.items()}
        else:
            pools = {}
            for frame in self._window:
                for c in frame:
                    pools.setdefault(c.track, []).append(c)
        out: list[_Candidate] = []
        for cands in pools.values():
            recent = [
                c
                for c in cands
                if frame_idx is None or abs(frame_idx - c.frame_idx) <= self.config.window
            ]
            out.extend(recent or cands[-1:])
        return out

    def _shift(self, image: np.ndarray | None) -> None:
        """Move every candidate into the new frame by optical flow."""
        if TrackerMethod(self.config.method) is not TrackerMethod.FLOW or image is None:
            return
        now = grey(image)
        before, self._image = self._image, now
        cands = self._candidates()
        if before is None or not cands or before.shape != now.shape:
            return
        pts = np.stack([c.points for c in cands])
        moved = shift_instances(
            before, now, pts, window=self.config.flow_window, levels=self.config.flow_levels
        )
        for c, p in zip(cands, moved):
            c.points = p

    def _new_track(self, used: set[int]) -> int | None:
        """A new track, or at ``max_tracks`` a seed track not seen yet (a labelled animal
        whose labelled frames lie outside the frames tracked), else None."""
        cap = self.config.max_tracks
        if cap is not None and self.n_tracks >= cap:
            unseen = (t for t in range(len(self.seeds)) if t not in self.spans and t not in used)
            return next(unseen, None)
        taken = set(self.names)
        k = len(self.names)
        while f"track_{k}" in taken:
            k += 1
        self.names.append(f"track_{k}")
        return len(self.names) - 1

    def step(
        self,
        frame_idx: int,
        points: np.ndarray,
        image: np.ndarray | None = None,
        fixed: Sequence[int | None] | None = None,
    ) -> FrameTracks:
        """Tracks for the instances ``points`` ``(M, N, 2)`` of frame ``frame_idx``.

        ``fixed`` gives, per instance, a track index it must keep (user labels) or None;
        ``image`` is the frame, needed by the flow method.
        """
        pts = np.asarray(points, dtype=np.float64)
        m = len(pts)
        pts = pts.reshape(m, -1, 2) if m else np.zeros((0, 0, 2))
        fixed = list(fixed) if fixed is not None else [None] * m
        self._shift(image)
        tracks: list[int | None] = list(fixed)
        scores = [1.0 if t is not None else 0.0 for t in fixed]
        taken = {t for t in fixed if t is not None}
        free = [i for i in range(m) if fixed[i] is None]
        cands = [c for c in self._candidates(frame_idx) if c.track not in taken]
        if free and cands:
            ids = sorted({c.track for c in cands})
            col = {t: j for j, t in enumerate(ids)}
            cand_pts = np.stack([c.points for c in cands])
            sim = similarity_matrix(self.config.similarity, pts[free], cand_pts)
            per_track = np.zeros((len(free), len(ids)))
            owner = np.array([col[c.track] for c in cands])
            for j in range(len(ids)):
                per_track[:, j] = np.quantile(
                    sim[:, owner == j], self.config.robust_quantile, axis=1, method="higher"
                )
            if self.config.size_cue:
                per_track *= size_agreement(pair_distances(pts[free]), self._usual_sizes(ids))
            for r, j in match(per_track, self.config.matching, self.config.min_similarity):
                tracks[free[r]] = ids[j]
                scores[free[r]] = float(per_track[r, j])
        for i in free:
            if tracks[i] is None:
                tracks[i] = self._new_track({t for t in tracks if t is not None})
        self._remember(frame_idx, pts, tracks)
        return FrameTracks(frame_idx, tracks, scores)

    def _usual_sizes(self, ids: list[int]) -> np.ndarray:
        """``(T, P)`` each track's median node-pair distances over its last instances: a
        few wrong instances do not change what size the animal is. Recomputed after every
        10th new instance of a track (and for each of its first 10)."""
        for t in ids:
            history = self._sizes[t]
            if t not in self._usual or len(history) < 10 or self._new[t] >= 10:
                self._usual[t] = nan_median(np.stack(history), axis=0)
                self._new[t] = 0
        return np.stack([self._usual[t] for t in ids])

    def _remember(self, frame_idx: int, pts: np.ndarray, tracks: list[int | None]) -> None:
        self._frames.append(frame_idx)
        here = [_Candidate(t, frame_idx, p, p.copy()) for t, p in zip(tracks, pts) if t is not None]
        if here:
            self._window.append(here)
        sizes = pair_distances(np.stack([c.pose for c in here])) if here else []
        for c, size in zip(here, sizes):
            q = self._queues.setdefault(c.track, deque(maxlen=self.config.window))
            q.append(c)
            self._sizes.setdefault(c.track, deque(maxlen=SIZE_HISTORY)).append(size)
            self._new[c.track] = self._new.get(c.track, 0) + 1
            span = self.spans.get(c.track)
            if span is None:
                self.spans[c.track] = _Span(frame_idx, frame_idx, seed=c.track < len(self.seeds))
            else:
                span.last = frame_idx

    def finish(self) -> dict[int, int]:
        """Track index -> the index it is joined to (single track breaks, when on)."""
        if not self.config.connect_breaks or len(self._frames) < 2:
            return {}
        return connect_single_breaks(self.spans, self._frames)


def connect_single_breaks(spans: dict[int, _Span], frames: Sequence[int]) -> dict[int, int]:
    """Join a track that starts on a frame to the one track that ended on the frame before
    (in tracking order), when exactly one track ends there and exactly one new one starts."""
    order = list(dict.fromkeys(frames))  # the order the frames were tracked in
    prev = dict(zip(order[1:], order[:-1]))
    ended: dict[int, list[int]] = {}
    started: dict[int, list[int]] = {}
    for t, s in spans.items():
        ended.setdefault(s.last, []).append(t)
        if not s.seed:
            started.setdefault(s.first, []).append(t)
    joined: dict[int, int] = {}
    for f in order[1:]:
        new, gone = started.get(f, []), ended.get(prev[f], [])
        if len(new) == 1 and len(gone) == 1 and gone[0] != new[0]:
            a, b = root(joined, gone[0]), new[0]
            joined[b] = a
    return {t: root(joined, t) for t in joined}


def root(joined: dict[int, int], t: int) -> int:
    while t in joined:
        t = joined[t]
    return t


def cull(points: np.ndarray, scores: np.ndarray, target: int, iou: float) -> list[int]:
    """Indices of the instances kept when at most ``target`` may stay: instances whose box
    overlaps a better-scored one by more than ``iou`` go first, then the lowest scores."""
    if len(points) <= target:
        return list(range(len(points)))
    order = np.argsort(-np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-np.inf))
    overlap = box_iou(points)
    alone: list[int] = []
    duplicates: list[int] = []
    for i in order.tolist():
        (duplicates if any(overlap[i, k] > iou for k in alone) else alone).append(i)
    return sorted((alone + duplicates)[:target])
