"""Tracking the predictions of a project's video: tracks as ``sio.Track`` names.

User instances are never changed: those with a track seed the tracker (they keep it,
and the predictions near them take its name); those without a track are left out.
Predicted instances get a track (or none, at max tracks) and a ``tracking_score``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import sleap_io as sio

from ..choices import TrackerMethod
from ..config.tracking import TrackingConfig
from ..errors import TrackingError
from ..io.project import instances_overlap
from .tracker import Tracker, cull, root

FrameSource = Callable[[int], np.ndarray]


@dataclass
class TrackingSummary:
    """What a tracking pass did."""

    frames: int = 0
    instances: int = 0
    untracked: int = 0
    culled: int = 0
    tracks: list[str] = field(default_factory=list)
    joined: int = 0
    repeats: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0

    def text(self) -> str:
        """One line for the status bar or the terminal."""
        line = (
            f"Tracked {self.instances} instances on {self.frames} frames into "
            f"{len(self.tracks)} tracks ({self.fps:.0f} frames/s)"
        )
        if self.untracked:
            line += f"; {self.untracked} left untracked at max tracks"
        if self.culled:
            line += f"; {self.culled} extra instances culled"
        if self.repeats:
            line += f"; {self.repeats} repeated predictions of one animal left untracked"
        return " ".join([line + ".", *self.notes])


def frame_gaps(frames: Sequence[int]) -> str | None:
    """A note when ``frames`` are not evenly spaced (tracking across gaps is a guess)."""
    f = np.unique(np.asarray(frames, dtype=np.int64))
    if len(f) < 3:
        return None
    steps = np.diff(f)
    if steps.max() <= 1 or (steps.max() == steps.min()):
        return None
    n = int((steps > steps.min()).sum())
    return (
        f"The tracked frames are not consecutive ({n} gap{'s' if n > 1 else ''}, the "
        f"largest {int(steps.max())} frames): identities across the gaps are guesses. "
        "Track an entire video or a frame range for reliable identities."
    )


def _frames_of(labels: sio.Labels, video: sio.Video) -> list[sio.LabeledFrame]:
    frames = [lf for lf in labels.labeled_frames if lf.video is video]
    return sorted(frames, key=lambda lf: lf.frame_idx)


def track_video(
    labels: sio.Labels,
    video: sio.Video,
    config: TrackingConfig,
    frames: FrameSource | None = None,
    progress: Callable[[int, int], None] | None = None,
    frame_range: tuple[int, int | None] | None = None,
) -> TrackingSummary:
    """Give the predicted instances of ``video`` tracks, in frame order.

    ``frames`` returns a frame's image (needed by the flow tracker); ``frame_range``
    ``(start, stop)`` limits tracking to those frames. Earlier tracks of the predictions
    tracked are replaced; tracks no instance uses any more leave the project.
    """
    if not config.enabled:
        raise TrackingError("The tracker method is 'none'; choose simple or flow to track.")
    flow = TrackerMethod(config.method) is TrackerMethod.FLOW
    if flow and frames is None:
        raise TrackingError(
            "The flow tracker needs the video's frames; open the video, or use simple."
        )
    lfs = _frames_of(labels, video)
    if frame_range is not None:
        lo, hi = frame_range
        lfs = [lf for lf in lfs if lf.frame_idx >= lo and (hi is None or lf.frame_idx < hi)]
    lfs = [lf for lf in lfs if lf.predicted_instances or _seeded(lf)]
    if not any(lf.predicted_instances for lf in lfs):
        raise TrackingError(
            "There are no predicted instances to track on this video; predict first "
            "(an entire video or a frame range)."
        )
    summary = TrackingSummary()
    t0 = time.perf_counter()
    if config.target_instances is not None:
        summary.culled = sum(_cull(lf, config) for lf in lfs)
    seeds = _seed_tracks(labels, video)
    index = {id(t): i for i, t in enumerate(seeds)}
    first = next((n for n, lf in enumerate(lfs) if _seeded(lf)), 0)
    # Forward from the first user-labelled track, then back from it to the start.
    source = frames if flow else None
    back = lfs[: first + 1][::-1] if first else []
    total = len(lfs) - first + max(len(back) - 1, 0)

    def report(done: int) -> None:
        if progress is not None and (done % 50 == 0 or done == total):
            progress(done, total)

    forward = Tracker(config, seeds=[t.name for t in seeds])
    order, repeats = _track_pass(lfs[first:], forward, index, source, report)
    backward = Tracker(config, seeds=forward.names)
    # The seed frame starts the backward pass with every identity the forward pass gave it.
    on_seed = {id(p) for p in lfs[first].predicted_instances}
    known = {id(p): t for p, t in order if id(p) in on_seed} if back else {}
    done = len(lfs) - first
    more, again = _track_pass(back, backward, index, source, lambda n: report(done + n - 1), known)
    order += more
    repeats += again
    for p in repeats:
        p.track = None
    summary.repeats = len(repeats)
    joined = {**forward.finish(), **backward.finish()}
    summary.joined = len(joined)
    predicted = [lf.frame_idx for lf in lfs if lf.predicted_instances]
    summary.frames = len(predicted)
    tracks = _track_objects(labels, seeds, backward.names)
    used: set[int] = set()
    for p, t in order:
        summary.instances += 1
        if t is None:
            p.track = None
            summary.untracked += 1
            continue
        t = root(joined, t)
        p.track = tracks[t]
        used.add(t)
    _keep_used_tracks(labels)
    summary.tracks = [backward.names[t] for t in sorted(used)]
    summary.seconds = time.perf_counter() - t0
    seen = [lf.frame_idx for lf in lfs if min(predicted) <= lf.frame_idx <= max(predicted)]
    note = frame_gaps(seen)  # user-labelled frames between predicted ones fill their gaps
    if note:
        summary.notes.append(note)
    return summary


def _cull(lf: sio.LabeledFrame, config: TrackingConfig) -> int:
    """Drop the extra predicted instances of a frame; returns how many went."""
    preds = list(lf.predicted_instances)
    if len(preds) <= config.target_instances:
        return 0
    keep = cull(
        np.stack([p.numpy() for p in preds]),
        np.array([p.score for p in preds]),
        config.target_instances,
        config.cull_iou,
    )
    dropped = {id(p) for i, p in enumerate(preds) if i not in keep}
    lf.instances = [inst for inst in lf.instances if id(inst) not in dropped]
    return len(dropped)


def _track_pass(
    lfs: Sequence[sio.LabeledFrame],
    tracker: Tracker,
    index: dict[int, int],
    frames: FrameSource | None,
    report: Callable[[int], None],
    known: dict[int, int | None] | None = None,
) -> tuple[list[tuple[sio.PredictedInstance, int | None]], list[sio.PredictedInstance]]:
    """Step ``tracker`` through ``lfs``; the predicted instances and their track indices,
    and the repeats (predictions of an animal another prediction shows better), untracked.

    ``known``: predicted instances (by ``id``) tracked already; they keep their track and
    serve as seeds, like user instances with a track.
    """
    known = known or {}
    order: list[tuple[sio.PredictedInstance, int | None]] = []
    repeats: list[sio.PredictedInstance] = []
    for n, lf in enumerate(lfs):
        users = [u for u in lf.user_instances if u.track is not None and id(u.track) in index]
        fixed = [index[id(u.track)] for u in users]
        done = [p for p in lf.predicted_instances if known.get(id(p)) is not None]
        fixed += [known[id(p)] for p in done]
        preds = [p for p in lf.predicted_instances if id(p) not in known]
        for p, t in _duplicates(preds, users, index):  # a user label of the same animal
            p.tracking_score = 1.0
            order.append((p, t))
            preds.remove(p)
        for p in _repeats(preds):  # a second prediction of one animal: no track, no candidate
            p.tracking_score = 0.0
            repeats.append(p)
            preds.remove(p)
        pts = [u.numpy() for u in users] + [p.numpy() for p in done] + [p.numpy() for p in preds]
        if pts:
            image = frames(lf.frame_idx) if frames is not None else None
            fixed += [None] * len(preds)
            result = tracker.step(lf.frame_idx, np.stack(pts), image=image, fixed=fixed)
            k = len(fixed) - len(preds)
            for p, t, s in zip(preds, result.tracks[k:], result.scores[k:]):
                p.tracking_score = float(s)
                order.append((p, t))
        report(n + 1)
    return order, repeats


def _duplicates(
    preds: list[sio.PredictedInstance], users: list[sio.Instance], index: dict[int, int]
) -> list[tuple[sio.PredictedInstance, int]]:
    """Predictions that show the same animal as a user instance with a track (the one it
    was made from, or one it overlaps), each with that instance's track."""
    out = []
    for p in preds:
        xy = p.numpy()
        for u in users:
            if u.from_predicted is p or instances_overlap(u.numpy(), xy):
                out.append((p, index[id(u.track)]))
                break
    return out


def _repeats(preds: list[sio.PredictedInstance]) -> list[sio.PredictedInstance]:
    """Predictions that show the same animal as a better-scored prediction of the frame."""
    ranked = sorted(preds, key=lambda p: -float(p.score))
    kept: list[np.ndarray] = []
    out = []
    for p in ranked:
        xy = p.numpy()
        if any(instances_overlap(k, xy) for k in kept):
            out.append(p)
        else:
            kept.append(xy)
    return out


def _seeded(lf: sio.LabeledFrame) -> bool:
    return any(u.track is not None for u in lf.user_instances)


def _seed_tracks(labels: sio.Labels, video: sio.Video) -> list[sio.Track]:
    """The tracks user instances of ``video`` carry: the project's order, then any it does
    not list, in order of appearance."""
    carried = {
        id(u.track): u.track
        for lf in labels.labeled_frames
        if lf.video is video
        for u in lf.user_instances
        if u.track is not None
    }
    listed = [t for t in labels.tracks if id(t) in carried]
    known = {id(t) for t in listed}
    return listed + [t for key, t in carried.items() if key not in known]


def _track_objects(labels: sio.Labels, seeds: list[sio.Track], names: list[str]) -> list[sio.Track]:
    """One ``sio.Track`` per tracker index: the seeds, then existing tracks by name, then new."""
    by_name = {t.name: t for t in labels.tracks}
    out = list(seeds)
    for name in names[len(seeds) :]:
        track = by_name.get(name)
        if track is None:
            track = sio.Track(name=name)
            labels.tracks.append(track)
            by_name[name] = track
        out.append(track)
    for t in seeds:
        if all(t is not u for u in labels.tracks):
            labels.tracks.append(t)
    return out


def _keep_used_tracks(labels: sio.Labels) -> None:
    """Drop the project's tracks that no instance of any video carries."""
    used = {id(inst.track) for lf in labels.labeled_frames for inst in lf.instances if inst.track}
    labels.tracks = [t for t in labels.tracks if id(t) in used]


def clear_tracks(labels: sio.Labels, video: sio.Video) -> int:
    """Remove the tracks of ``video``'s predicted instances; returns how many had one."""
    n = 0
    for lf in labels.labeled_frames:
        if lf.video is not video:
            continue
        for p in lf.predicted_instances:
            if p.track is not None:
                p.track = None
                n += 1
    _keep_used_tracks(labels)
    return n
