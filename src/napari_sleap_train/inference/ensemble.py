"""Predicting with an ensemble: several models of one pipeline, trained from other random
starts, combined frame by frame.

Every member predicts the same frames. The instances of the other members are matched to the
first member's (the Hungarian algorithm on the mean distance between their body parts, within
half the animal's size). A body part is kept where at least half of the members find it, at
the position of the member nearest the others (the medoid; between two members, the more
confident one): never a point between two members that put a leg in different places. Its
*spread* is the root mean square distance of the members' positions from it (px; NaN where
fewer than two members found it): the uncertainty that smoothing over time weights each
frame by.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..choices import ModelKind
from ..models.folder import ModelFolder, RunFolder
from .predictor import FramePrediction, Predictor

MIN_GATE_PX = 4.0


def ensemble_members(
    folders: Mapping[ModelKind, ModelFolder | str | os.PathLike],
) -> list[dict[ModelKind, ModelFolder]]:
    """The model folders of the further members of the run that ``folders`` all belong to
    (empty when they come from several runs, or the run has no further members)."""
    paths = [f.path if isinstance(f, ModelFolder) else Path(f) for f in folders.values()]
    parents = {p.resolve().parent for p in paths}
    if len(parents) != 1:
        return []
    run = RunFolder(parents.pop())
    return [{kind: member.model(kind) for kind in folders} for member in run.members()]


class EnsemblePredictor(Predictor):
    """Several predictors of one pipeline whose predictions are combined frame by frame
    (see the module's text); each prediction carries its body parts' ``spread``."""

    def __init__(self, members: list[Predictor]):
        first = members[0]
        self.members = members
        self.device, self.precision = first.device, first.precision
        self.channels_last, self.runtime = first.channels_last, first.runtime
        self.node_names, self.class_names = first.node_names, first.class_names
        self.in_channels = first.in_channels

    def predict_batch(self, frames: np.ndarray) -> list[FramePrediction]:
        """Each member's predictions of ``frames``, combined frame by frame."""
        per_member = [member.predict_batch(frames) for member in self.members]
        return [combine(list(preds)) for preds in zip(*per_member, strict=True)]


def combine(preds: list[FramePrediction]) -> FramePrediction:
    """One frame's predictions by every member, combined onto the first member's instances
    (identities are the first member's)."""
    ref, k = preds[0], len(preds)
    m, n = ref.points.shape[:2]
    stack = np.full((k, m, n, 2), np.nan)
    scores = np.zeros((k, m, n))
    stack[0], scores[0] = ref.points, ref.point_scores
    instance_scores = [[float(s)] for s in ref.scores]
    for j, other in enumerate(preds[1:], 1):
        for a, b in match(ref.points, other.points):
            stack[j, a], scores[j, a] = other.points[b], other.point_scores[b]
            instance_scores[a].append(float(other.scores[b]))
    found = np.isfinite(stack).all(-1)
    count = found.sum(0)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # a body part no member found
        apart = np.nansum(np.linalg.norm(stack[:, None] - stack[None], axis=-1), axis=1)
        rank = np.where(found, apart + 1e-6 * (1 - scores), np.inf)  # ties: the surer
        best = np.argmin(rank, axis=0)
        chosen = np.take_along_axis(stack, best[None, ..., None], axis=0)[0]
        spread = np.sqrt(np.nanmean(((stack - chosen) ** 2).sum(-1), axis=0))
    points = np.where((2 * count >= k)[..., None], chosen, np.nan)
    spread = np.where((count >= 2) & np.isfinite(points[..., 0]), spread, np.nan)
    keep = np.isfinite(points).all(-1).any(-1)
    out = FramePrediction(
        frame_idx=ref.frame_idx,
        points=points[keep],
        point_scores=scores.mean(0)[keep],
        scores=np.array([np.mean(s) for s in instance_scores], dtype=np.float64)[keep],
        spread=spread[keep],
    )
    if ref.identities is not None:
        out.identities = [name for name, kept in zip(ref.identities, keep, strict=True) if kept]
    if ref.identity_scores is not None:
        out.identity_scores = np.asarray(ref.identity_scores)[keep]
    return out


def match(a: np.ndarray, b: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (row of ``a``, row of ``b``) of instances ``(M, N, 2)`` that are the same
    animal: least total mean distance between their body parts, each pair within half the
    larger side of the ``a`` instance's box (at least :data:`MIN_GATE_PX`)."""
    if not len(a) or not len(b):
        return []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        cost = np.nanmean(np.linalg.norm(a[:, None] - b[None], axis=-1), axis=-1)
        sides = np.nanmax(a, axis=1) - np.nanmin(a, axis=1)
        gate = np.maximum(0.5 * np.nan_to_num(np.nanmax(sides, axis=1)), MIN_GATE_PX)
    cost = np.where(np.isfinite(cost), cost, np.inf)
    rows, cols = linear_sum_assignment(np.where(np.isfinite(cost), cost, 1e12))
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if cost[r, c] <= gate[r]]
