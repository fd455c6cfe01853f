"""Assigning the instances of a frame to tracks from a similarity matrix."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..choices import Matching


def match(
    scores: np.ndarray, method: Matching | str = Matching.HUNGARIAN, min_similarity: float = 0.0
) -> list[tuple[int, int]]:
    """``(row, column)`` pairs of ``scores`` ``(instances, tracks)``, each used once.

    ``hungarian`` maximises the total similarity of the frame; ``greedy`` takes the most
    similar pair first. Pairs less similar than ``min_similarity`` are not matched.
    """
    s = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0)
    if s.size == 0:
        return []
    if Matching(method) is Matching.HUNGARIAN:
        rows, cols = linear_sum_assignment(-s)
        pairs = list(zip(rows.tolist(), cols.tolist()))
    else:
        pairs = []
        used_r, used_c = set(), set()
        for flat in np.argsort(-s, axis=None, kind="stable"):
            r, c = divmod(int(flat), s.shape[1])
            if r not in used_r and c not in used_c:
                pairs.append((r, c))
                used_r.add(r)
                used_c.add(c)
    return sorted((r, c) for r, c in pairs if s[r, c] >= min_similarity)
