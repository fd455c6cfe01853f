"""Proofreading tracks on keypoint tables (pandas and numpy only, no viewer).

Each edit takes a :class:`~.points_table.PointsTable` and returns a new one whose
``track`` and ``individual`` features say the new identities; the layers show it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .points_table import PointsTable


def _with_tracks(table: PointsTable, track: np.ndarray) -> PointsTable:
    features = table.features.copy()
    features["track"] = track.astype(str)
    inst = features["instance"].to_numpy(int).astype(str)
    individual = np.where(track != "", track, np.char.add("instance ", inst))
    features["individual"] = pd.Categorical(individual.astype(str))
    return PointsTable(table.data, features, table.nodes)


def track_names(table: PointsTable) -> list[str]:
    """The tracks of a table, sorted."""
    return sorted(str(t) for t in pd.unique(table.features["track"].to_numpy(object)) if t)


def instance_rows(table: PointsTable, rows: Sequence[int]) -> np.ndarray:
    """Every point row of the instances that ``rows`` belong to."""
    which = table.instances.which
    chosen = np.isin(which, which[np.asarray(list(rows), dtype=int)])
    return np.flatnonzero(chosen)


def assign_track(table: PointsTable, rows: Sequence[int], name: str) -> PointsTable:
    """Give the instance(s) of ``rows`` track ``name``; an instance of the same frame that
    had ``name`` takes the chosen instance's old track (SLEAP's "set instance track")."""
    track = table.features["track"].to_numpy(object).astype(str).copy()
    chosen = instance_rows(table, rows)
    if not len(chosen):
        return table
    frames = table.frames
    for f in sorted(set(frames[chosen].tolist())):
        here = chosen[frames[chosen] == f]
        old = track[here[0]]
        others = (frames == f) & (track == name)
        others[here] = False
        track[others] = old
        track[here] = name
    return _with_tracks(table, track)


def swap_tracks(table: PointsTable, a: str, b: str, from_frame: int) -> PointsTable:
    """Swap tracks ``a`` and ``b`` on ``from_frame`` and every later frame."""
    track = table.features["track"].to_numpy(object).astype(str).copy()
    later = table.frames >= from_frame
    is_a, is_b = later & (track == a), later & (track == b)
    track[is_a], track[is_b] = b, a
    return _with_tracks(table, track)


def delete_track(table: PointsTable, name: str, from_frame: int) -> tuple[PointsTable, int]:
    """The table without the instances of track ``name`` from ``from_frame`` on, and how
    many instances went."""
    track = table.features["track"].to_numpy(object).astype(str)
    gone = (table.frames >= from_frame) & (track == name)
    n = len(np.unique(table.instances.which[gone]))
    return table.without_rows(np.flatnonzero(gone)), n


def instance_summary(table: PointsTable) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per instance: frame, track name, centre ``(yx)`` and tracking score (NaN if none)."""
    inst = table.instances
    if not len(inst):
        return np.zeros(0, int), np.zeros(0, str), np.zeros((0, 2)), np.zeros(0)
    first = np.array([r[0] for r in inst.rows])
    yx = inst.per_node(table.data[:, 1:3])
    with np.errstate(all="ignore"):
        centres = np.nanmean(yx, axis=1)
    feats = table.features
    scores = (
        feats["tracking_score"].to_numpy(float)[first]
        if "tracking_score" in feats
        else np.full(len(first), np.nan)
    )
    return inst.frames, feats["track"].to_numpy(object).astype(str)[first], centres, scores
