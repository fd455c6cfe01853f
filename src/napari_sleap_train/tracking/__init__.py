"""Identities across frames: SLEAP's tracker (no napari, no Qt).

:class:`~.tracker.Tracker` links instances frame by frame; :func:`~.labels.track_video`
runs it over a project's predictions and names the tracks (``sio.Track``).
"""

from __future__ import annotations

from .labels import TrackingSummary, clear_tracks, frame_gaps, track_video
from .similarity import similarity_matrix
from .tracker import FrameTracks, Tracker, connect_single_breaks, cull

__all__ = [
    "FrameTracks",
    "Tracker",
    "TrackingSummary",
    "clear_tracks",
    "connect_single_breaks",
    "cull",
    "frame_gaps",
    "similarity_matrix",
    "track_video",
]
