"""Assigning a frame's instances to tracks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from napari_sleap_train.choices import Matching
from napari_sleap_train.tracking.matching import match


def _total(scores, pairs) -> float:
    return float(sum(scores[r][c] for r, c in pairs))


def test_hungarian_maximises_the_total_where_greedy_does_not():
    s = np.array([[0.9, 0.8], [0.8, 0.1]])
    assert match(s, "greedy") == [(0, 0), (1, 1)]  # 0.9 first, then 0.1 is left: 1.0
    assert match(s, "hungarian") == [(0, 1), (1, 0)]  # 0.8 + 0.8 = 1.6
    assert match(s) == match(s, Matching.HUNGARIAN)


def test_hungarian_is_the_best_assignment_of_a_random_frame():
    rng = np.random.default_rng(0)
    for _ in range(20):
        s = rng.uniform(size=(4, 4))
        best = max(_total(s, zip(range(4), p)) for p in itertools.permutations(range(4)))
        pairs = match(s, "hungarian")
        assert len(pairs) == 4
        assert _total(s, pairs) == pytest.approx(best)
        assert _total(s, match(s, "greedy")) <= best + 1e-12


@pytest.mark.parametrize("method", list(Matching))
def test_min_similarity_rejects_pairs_below_it(method):
    s = np.array([[0.9, 0.0], [0.0, 0.3]])
    assert match(s, method) == [(0, 0), (1, 1)]
    assert match(s, method, min_similarity=0.5) == [(0, 0)]
    assert match(s, method, min_similarity=0.3) == [(0, 0), (1, 1)]  # at the bound: kept
    assert match(s, method, min_similarity=0.95) == []


@pytest.mark.parametrize("method", list(Matching))
def test_non_square_matrices(method):
    # More instances than tracks: the best row per column, the rest unmatched.
    s = np.array([[0.1, 0.2], [0.9, 0.1], [0.2, 0.8]])
    assert match(s, method) == [(1, 0), (2, 1)]
    # More tracks than instances.
    assert match(s.T, method) == [(0, 1), (1, 2)]
    pairs = match(np.random.default_rng(1).uniform(size=(2, 5)), method)
    assert len(pairs) == 2
    assert len({r for r, _ in pairs}) == len({c for _, c in pairs}) == 2


@pytest.mark.parametrize("method", list(Matching))
def test_each_row_and_column_once_and_nan_is_no_similarity(method):
    s = np.array([[np.nan, 0.5, 0.4], [0.6, np.nan, 0.2], [0.9, 0.8, np.nan]])
    pairs = match(s, method, min_similarity=0.1)
    assert len({r for r, _ in pairs}) == len(pairs) == len({c for _, c in pairs})
    assert all(np.isfinite(s[r, c]) for r, c in pairs)


@pytest.mark.parametrize("method", list(Matching))
def test_empty(method):
    assert match(np.zeros((0, 3)), method) == []
    assert match(np.zeros((2, 0)), method) == []
