"""Naming the animals of a frame from an ID model's class probabilities."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def assign_identities(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct identities for the instances of one frame.

    ``probabilities`` is ``(M, K)``: each instance's probability of each of ``K`` classes.
    The instances and classes are matched to maximise the summed probability (Hungarian),
    so no two instances of a frame get the same class. Returns each instance's class
    (-1 when there are more instances than classes and it was left without one) and the
    probability of that class (0 for -1).
    """
    m = len(probabilities)
    classes = np.full(m, -1, dtype=np.int64)
    scores = np.zeros(m)
    if m == 0 or probabilities.shape[1] == 0:
        return classes, scores
    rows, cols = linear_sum_assignment(-np.nan_to_num(probabilities, nan=0.0))
    classes[rows] = cols
    scores[rows] = probabilities[rows, cols]
    return classes, scores
