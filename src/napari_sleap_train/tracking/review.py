"""Where a human should look: frames on which a track may have gone wrong.

Like SLEAP's track-break navigation, a frame is suspicious for a track when the track's
centre jumps further than a set distance since its previous frame, when the track starts
or ends (not at the first or last tracked frame), or when the tracker's match similarity
was low.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

JUMP = "jump"
START = "starts"
END = "ends"
LOW = "low similarity"


@dataclass(frozen=True)
class TrackEvent:
    """One reason to look at a frame."""

    frame: int
    track: str
    reason: str
    value: float = float("nan")

    def text(self) -> str:
        if self.reason == JUMP:
            return f"Frame {self.frame}: {self.track} jumps {self.value:.0f} px"
        if self.reason == LOW:
            return f"Frame {self.frame}: {self.track} matched with similarity {self.value:.2f}"
        return f"Frame {self.frame}: {self.track} {self.reason}"


def suspicious_frames(
    frames: np.ndarray,
    tracks: np.ndarray,
    centres: np.ndarray,
    scores: np.ndarray | None = None,
    jump_px: float = 30.0,
    low_similarity: float | None = 0.1,
) -> list[TrackEvent]:
    """Events over instances given by ``frames`` ``(M,)``, ``tracks`` ``(M,)`` names ("" for
    none), ``centres`` ``(M, 2)`` and tracking ``scores`` ``(M,)``, sorted by frame."""
    frames = np.asarray(frames, dtype=int)
    tracks = np.asarray(tracks, dtype=object).astype(str)
    centres = np.asarray(centres, dtype=float).reshape(-1, 2)
    tracked = tracks != ""
    if not tracked.any():
        return []
    first, last = int(frames[tracked].min()), int(frames[tracked].max())
    events: list[TrackEvent] = []
    for name in sorted(set(tracks[tracked])):
        rows = np.flatnonzero(tracks == name)
        rows = rows[np.argsort(frames[rows], kind="stable")]
        f, c = frames[rows], centres[rows]
        if f[0] > first:
            events.append(TrackEvent(int(f[0]), name, START))
        if f[-1] < last:
            events.append(TrackEvent(int(f[-1]), name, END))
        if len(rows) > 1:
            step = np.hypot(*(c[1:] - c[:-1]).T)
            for k in np.flatnonzero(step > jump_px):
                events.append(TrackEvent(int(f[k + 1]), name, JUMP, float(step[k])))
        if scores is not None and low_similarity is not None:
            s = np.asarray(scores, dtype=float)[rows]
            for k in np.flatnonzero(np.isfinite(s) & (s < low_similarity) & (f > f[0])):
                events.append(TrackEvent(int(f[k]), name, LOW, float(s[k])))
    return sorted(events, key=lambda e: (e.frame, e.track, e.reason))


def next_event(events: list[TrackEvent], frame: int, forward: bool = True) -> TrackEvent | None:
    """The first event after (or before) ``frame``."""
    if forward:
        return next((e for e in events if e.frame > frame), None)
    return next((e for e in reversed(events) if e.frame < frame), None)
