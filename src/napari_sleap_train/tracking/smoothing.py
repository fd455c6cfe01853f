"""Smoothing tracked predictions over time, and filling short gaps.

Each node of each track is a trajectory with missing frames. The default, ``kalman``, is a
constant-velocity Kalman filter and Rauch-Tung-Striebel smoother run on every trajectory at
once, whose two noise levels are read from the trajectory itself (robustly, so a few wild
frames do not set them): a prediction that lies far outside what the filter expects (a node
that jumps to another body part for a frame or two) is set aside and replaced by the
smoothed estimate, gaps of at most ``max_gap`` frames are filled, and every smoothed node
gets an uncertainty (the smoother's standard deviation, in px). ``median`` and ``savgol``
use the filters of the ``movement`` package (an optional extra) after filling the same gaps
by linear interpolation.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import sleap_io as sio

from ..choices import Smoothing
from ..errors import TrackingError
from .spreads import Spreads

GATE = 16.0
"""Squared distance, in standard deviations, beyond which a prediction is set aside."""
MIN_NOISE_PX = 0.3
MIN_MOTION_PX = 0.1


@dataclass
class Smoothed:
    """Smoothed trajectories ``points`` ``(T, S, 2)``, their uncertainty ``sd`` ``(T, S)``
    in px (NaN where not estimated), and which observations were set aside as jumps."""

    points: np.ndarray
    sd: np.ndarray
    rejected: np.ndarray


def smooth_trajectories(
    xy: np.ndarray,
    weight: np.ndarray | None = None,
    method: Smoothing | str = Smoothing.KALMAN,
    max_gap: int = 10,
    window: int = 5,
    spread: np.ndarray | None = None,
) -> Smoothed:
    """Smooth ``S`` trajectories ``xy`` ``(T, S, 2)`` (NaN: not predicted); ``weight``
    ``(T, S)`` in (0, 1] (a prediction's score: lower trusts it less); ``spread`` ``(T, S)``
    px, how far an ensemble's members disagree (kalman: its square adds to the
    measurement's variance, so a frame they disagree on counts less). Frames outside a
    trajectory's first and last prediction and gaps longer than ``max_gap`` stay NaN."""
    xy = np.asarray(xy, dtype=np.float64)
    method = Smoothing(method)
    if method is Smoothing.KALMAN:
        out = _kalman(xy, weight, max_gap, spread)
    elif method in (Smoothing.MEDIAN, Smoothing.SAVGOL):
        out = _movement_filter(xy, method, max_gap, window)
    else:
        out = Smoothed(xy.copy(), np.full(xy.shape[:2], np.nan), np.zeros(xy.shape[:2], bool))
    out.points[~fillable(np.isfinite(xy).all(-1), max_gap)] = np.nan
    return out


def fillable(seen: np.ndarray, max_gap: int) -> np.ndarray:
    """``(T, S)``: frames observed, or inside a gap of at most ``max_gap`` frames between
    two observed ones."""
    out = seen.copy()
    for s in range(seen.shape[1]):
        idx = np.flatnonzero(seen[:, s])
        for a, b in zip(idx[:-1], idx[1:], strict=True):
            if 1 < b - a <= max_gap + 1:
                out[a + 1 : b, s] = True
    return out


SG7 = np.array([-2.0, 3, 6, 7, 6, 3, -2]) / 21
"""A quadratic fitted over 7 frames, at its centre (Savitzky-Golay)."""


def _noise(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per trajectory, robustly: the measurement variance, from the spread of predictions
    around a quadratic fitted to the 7 frames around each (that spread is 2/3 of it), and
    the process variance, from the spread of second differences beyond what measurement
    noise makes (``var(d2) = 6 r + 2 q / 3``)."""
    t, s, _ = xy.shape
    flat = xy.reshape(t, s * 2)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # a body part never predicted
        if t >= len(SG7):
            windows = np.lib.stride_tricks.sliding_window_view(flat, len(SG7), axis=0)
            resid = flat[3:-3] - windows @ SG7
            r = (1.4826 * np.nanmedian(np.abs(resid), axis=0)) ** 2 / (1 - SG7[3])
        else:
            r = np.full(s * 2, np.nan)
        d2 = flat[2:] - 2 * flat[1:-1] + flat[:-2] if t > 2 else np.zeros((0, s * 2))
        # motion comes in bursts (a leg swings, then stands): its spread is read from the
        # 90th percentile of the second differences, not their median
        v2 = (np.nanpercentile(np.abs(d2), 90, axis=0) / 1.645) ** 2 if len(d2) else r * np.nan
    r = np.maximum(np.nan_to_num(r.reshape(s, 2).mean(1), nan=0), MIN_NOISE_PX**2)
    v2 = np.nan_to_num(v2.reshape(s, 2).mean(1), nan=0)
    q = np.maximum(1.5 * (v2 - 6 * r), MIN_MOTION_PX**2)
    return r, q


def _kalman(
    xy: np.ndarray, weight: np.ndarray | None, max_gap: int, spread: np.ndarray | None = None
) -> Smoothed:
    t, s, _ = xy.shape
    seen = np.isfinite(xy).all(-1)
    if weight is None:
        weight = np.ones((t, s))
    weight = np.clip(np.nan_to_num(np.asarray(weight, float), nan=1.0), 0.1, 1.0)
    r, q = _noise(xy)
    extra = np.zeros((t, s)) if spread is None else np.nan_to_num(np.asarray(spread) ** 2)
    r = r + extra  # (T, S): each observation's own variance
    accept = _forward(xy, seen, weight, r, q, gate=True)[3]
    rejected = seen & ~accept
    # A long run of set-aside predictions is the animal moving, not a jump: keep it.
    runs = fillable(~rejected, max_gap) | ~seen
    accept = seen & (accept | ~runs)
    rejected = seen & ~accept
    x_f, p_f, x_p, _ = _forward(xy, accept, weight, r, q, gate=False)
    x_s, p_s = _rts(x_f, p_f, x_p, q)
    sd = np.sqrt(np.maximum(p_s[:, :, 0, 0], 0))
    return Smoothed(x_s[:, :, 0, :].copy(), sd, rejected)


F = np.array([[1.0, 1.0], [0.0, 1.0]])
Q_SHAPE = np.array([[1 / 3, 1 / 2], [1 / 2, 1.0]])


def _forward(xy, use, weight, r, q, gate: bool):
    """The filter's pass in time. States ``(T, S, 2, 2)``: [position, velocity] × [x, y]
    (the two axes share one covariance ``(T, S, 2, 2)``)."""
    t, s, _ = xy.shape
    x_f = np.zeros((t, s, 2, 2))
    p_f = np.zeros((t, s, 2, 2))
    x_p = np.zeros((t, s, 2, 2))
    p_p = np.zeros((t, s, 2, 2))
    accept = use.copy()
    first = np.where(use.any(0), use.argmax(0), 0)
    x = np.zeros((s, 2, 2))
    x[:, 0] = np.nan_to_num(xy[first, np.arange(s)])
    big = 1e6
    p = np.broadcast_to(np.diag([big, big]), (s, 2, 2)).copy()
    qm = q[:, None, None] * Q_SHAPE
    for i in range(t):
        if i:
            x = np.einsum("ij,sjk->sik", F, x)
            p = F @ p @ F.T + qm
        x_p[i], p_p[i] = x, p
        ok = use[i]
        if ok.any():
            rv = r[i] / weight[i]
            sv = p[:, 0, 0] + rv
            nu = np.nan_to_num(xy[i]) - x[:, 0]
            if gate:
                d2 = (nu**2).sum(-1) / sv
                ok = ok & ((d2 <= GATE) | (p[:, 0, 0] > big / 10))
                accept[i] = ok
            k = p[:, :, 0] / sv[:, None]  # (S, 2) gain for [position, velocity]
            upd = ok[:, None, None]
            x = np.where(upd, x + k[:, :, None] * nu[:, None, :], x)
            p_new = p - k[:, :, None] * p[:, None, 0, :]
            p = np.where(upd, p_new, p)
        x_f[i], p_f[i] = x, p
    return x_f, p_f, x_p, accept if gate else use


def _rts(x_f, p_f, x_p, q):
    """The smoother's pass back in time."""
    t = len(x_f)
    x_s, p_s = x_f.copy(), p_f.copy()
    qm = q[:, None, None] * Q_SHAPE
    for i in range(t - 2, -1, -1):
        p_pred = F @ p_f[i] @ F.T + qm
        g = p_f[i] @ F.T @ np.linalg.inv(p_pred)
        x_s[i] = x_f[i] + g @ (x_s[i + 1] - x_p[i + 1])
        p_s[i] = p_f[i] + g @ (p_s[i + 1] - p_pred) @ np.swapaxes(g, -1, -2)
    return x_s, p_s


def _movement_filter(xy: np.ndarray, method: Smoothing, max_gap: int, window: int) -> Smoothed:
    """``movement``'s running median or Savitzky-Golay filter, after its interpolation of
    gaps of at most ``max_gap`` frames."""
    try:
        import xarray as xr
        from movement import filtering
    except ImportError:
        raise TrackingError(
            f"Smoothing '{method.value}' uses the movement package: install it with "
            "`pip install napari-sleap-train[movement]`, or choose kalman."
        ) from None
    t, s, _ = xy.shape
    data = xr.DataArray(
        xy.transpose(0, 2, 1)[:, :, :, None],
        dims=("time", "space", "keypoints", "individuals"),
        coords={"time": np.arange(t), "space": ["x", "y"]},
    )
    data = filtering.interpolate_over_time(data, max_gap=max_gap)
    if method is Smoothing.MEDIAN:
        data = filtering.rolling_filter(data, window, statistic="median", min_periods=1)
    else:
        side = max(window, 3)  # "nearest": scipy refuses NaN in the edge windows otherwise
        data = filtering.savgol_filter(data, side, polyorder=min(2, side - 1), mode="nearest")
    points = np.asarray(data.values)[:, :, :, 0].transpose(0, 2, 1)
    return Smoothed(points, np.full((t, s), np.nan), np.zeros((t, s), bool))


@dataclass
class SmoothingSummary:
    """What smoothing a video's tracked predictions did; ``uncertainty`` maps (frame,
    track name) to each node's standard deviation in px (Kalman only)."""

    method: str = Smoothing.NONE.value
    tracks: int = 0
    instances: int = 0
    filled: int = 0
    jumps: int = 0
    uncertainty: dict[tuple[int, str | None], np.ndarray] = field(default_factory=dict)

    def text(self) -> str:
        """One line for the status bar or the terminal."""
        return (
            f"Smoothed {self.instances} instances of {self.tracks} track"
            f"{'s' if self.tracks != 1 else ''} ({self.method}): {self.jumps} jumps set "
            f"aside, {self.filled} missing instances filled in."
        )


def smooth_video(
    labels: sio.Labels,
    video: sio.Video,
    method: Smoothing | str = Smoothing.KALMAN,
    max_gap: int = 10,
    window: int = 5,
    spreads: Spreads | None = None,
) -> SmoothingSummary:
    """Smooth the tracked predicted instances of ``video`` in place, track by track, and
    add an instance where a track misses at most ``max_gap`` frames. User instances are
    not changed. Predictions of one animal need no tracks (at most one per frame); with
    several animals they need tracks first. An ensemble's ``spreads`` weight each frame
    (kalman) and are the uncertainty where the smoother gives none."""
    method = Smoothing(method)
    summary = SmoothingSummary(method=method.value)
    paths = trajectories(labels, video)
    if paths is None or method is Smoothing.NONE:
        return summary
    lfs, tracks, start = paths.frames, paths.tracks, paths.start
    xy, score, where = paths.xy, paths.score, paths.instances
    skeleton = lfs[0].predicted_instances[0].skeleton
    shape = xy.shape
    spread = np.full(shape[:3], np.nan)
    for (t, k), inst in where.items():
        found = spreads.of(inst) if spreads is not None else None
        if found is not None:
            spread[t, k] = found
    out = smooth_trajectories(
        xy.reshape(shape[0], -1, 2),
        score.reshape(shape[0], -1),
        method,
        max_gap,
        window,
        spread.reshape(shape[0], -1),
    )
    points = out.points.reshape(shape)
    sd = out.sd.reshape(shape[:3])
    sd = np.where(np.isfinite(sd), sd, spread)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a node never found on a track
        typical = np.nan_to_num(np.nanmedian(score, axis=0), nan=0.5)
    summary.tracks, summary.jumps = len(tracks), int(out.rejected.sum())
    rejected = out.rejected.reshape(shape[:3])
    by_frame = {lf.frame_idx: lf for lf in lfs}
    for t in range(shape[0]):
        for k, track in enumerate(tracks):
            if not np.isfinite(points[t, k]).any():
                continue
            old = where.get((t, k))
            if old is None and np.isfinite(points[t, k]).all(-1).mean() < 0.5:
                continue
            kept = np.isfinite(xy[t, k, :, 0]) & ~rejected[t, k]
            node_scores = np.where(kept, score[t, k], typical[k])
            new = sio.PredictedInstance.from_numpy(
                points[t, k],
                skeleton=skeleton,
                point_scores=np.nan_to_num(node_scores, nan=0.0),
                score=float(old.score) if old is not None else float(np.nanmean(node_scores)),
                track=track,
                tracking_score=old.tracking_score if old is not None else None,
            )
            summary.uncertainty[(start + t, track.name if track else None)] = sd[t, k]
            lf = by_frame.get(start + t)
            if lf is None:
                lf = sio.LabeledFrame(video=video, frame_idx=start + t, instances=[])
                labels.append(lf)
                by_frame[start + t] = lf
            if old is not None:
                lf.instances[_index_of(lf, old)] = new
                summary.instances += 1
            else:
                lf.instances.append(new)
                summary.filled += 1
    return summary


@dataclass
class Trajectories:
    """The predicted instances of one video as tracks over time: ``xy`` ``(T, K, N, 2)``
    and ``score`` ``(T, K, N)`` from frame ``start`` on (NaN: not predicted), the
    instance at each (time, track), and the frames with predictions."""

    frames: list[sio.LabeledFrame]
    tracks: list[sio.Track | None]
    start: int
    xy: np.ndarray
    score: np.ndarray
    instances: dict[tuple[int, int], sio.PredictedInstance]


def trajectories(labels: sio.Labels, video: sio.Video) -> Trajectories | None:
    """The tracked predictions of ``video`` (one animal's need no tracks); None without
    predictions. Several animals without tracks raise :class:`TrackingError`."""
    lfs = sorted(
        (lf for lf in labels.labeled_frames if lf.video is video and lf.predicted_instances),
        key=lambda lf: lf.frame_idx,
    )
    if not lfs:
        return None
    tracked = any(p.track is not None for lf in lfs for p in lf.predicted_instances)
    if not tracked and any(len(lf.predicted_instances) > 1 for lf in lfs):
        raise TrackingError(
            "Following each animal over time needs tracks: track the predictions first "
            "(several animals were found on some frames and they have no tracks)."
        )
    tracks = _tracks_of(lfs, tracked)
    n = len(lfs[0].predicted_instances[0].skeleton.nodes)
    start, stop = lfs[0].frame_idx, lfs[-1].frame_idx + 1
    xy = np.full((stop - start, len(tracks), n, 2), np.nan)
    score = np.full((stop - start, len(tracks), n), np.nan)
    where: dict[tuple[int, int], sio.PredictedInstance] = {}
    index = {id(t): k for k, t in enumerate(tracks)}
    for lf in lfs:
        for p in lf.predicted_instances:
            if tracked and p.track is None:
                continue
            k = index[id(p.track)] if tracked else 0
            t = lf.frame_idx - start
            xy[t, k], where[(t, k)] = p.numpy(), p
            score[t, k] = _point_scores(p, n)
    return Trajectories(lfs, tracks, start, xy, score, where)


def _index_of(lf: sio.LabeledFrame, inst: sio.Instance) -> int:
    return next(i for i, x in enumerate(lf.instances) if x is inst)


def _tracks_of(lfs: list[sio.LabeledFrame], tracked: bool) -> list[sio.Track | None]:
    if not tracked:
        return [None]
    seen: dict[int, sio.Track] = {}
    for lf in lfs:
        for p in lf.predicted_instances:
            if p.track is not None:
                seen.setdefault(id(p.track), p.track)
    return list(seen.values())


def _point_scores(p: sio.PredictedInstance, n: int) -> np.ndarray:
    try:
        return np.asarray(p.points["score"], dtype=float).reshape(n)
    except (KeyError, ValueError, IndexError, TypeError):
        return np.ones(n)


def predictions_copy(labels: sio.Labels, video: sio.Video) -> sio.Labels:
    """The predicted instances of ``video`` copied into labels of their own (the raw
    predictions kept beside the smoothed ones)."""
    frames = []
    for lf in labels.labeled_frames:
        if lf.video is not video or not lf.predicted_instances:
            continue
        copies = [
            sio.PredictedInstance.from_numpy(
                p.numpy(),
                skeleton=p.skeleton,
                point_scores=_point_scores(p, len(p.skeleton.nodes)),
                score=float(p.score),
                track=p.track,
                tracking_score=p.tracking_score,
            )
            for p in lf.predicted_instances
        ]
        frames.append(sio.LabeledFrame(video=video, frame_idx=lf.frame_idx, instances=copies))
    return sio.Labels(
        labeled_frames=frames,
        videos=[video],
        skeletons=list(labels.skeletons),
        tracks=list(labels.tracks),
    )
