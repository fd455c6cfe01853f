"""Similarity of new instances to a track's candidates."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from napari_sleap_train.choices import Similarity
from napari_sleap_train.tracking import similarity_matrix

# Four nodes on the corners of an 8 x 8 px square: box size sqrt(64) = 8 px.
SQUARE = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0], [8.0, 8.0]])
ONE_PX = np.array([0.6, 0.8])  # a 1 px offset


def _scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three ~30 px animals far apart (candidates) and the same animals moved a little."""
    rng = np.random.default_rng(seed)
    body = rng.uniform(0.0, 30.0, (6, 2))
    cands = np.stack([body + [x, y] for x, y in [(50, 50), (150, 60), (90, 170)]])
    queries = cands[[2, 0, 1]] + rng.normal(0.0, 3.0, (3, 6, 2))
    return queries, cands


@pytest.mark.parametrize("kind", list(Similarity))
def test_identical_instances_are_fully_similar(kind):
    _, cands = _scene()
    sim = similarity_matrix(kind, cands, cands)
    assert sim.shape == (3, 3)
    np.testing.assert_allclose(np.diag(sim), 1.0)
    assert (sim >= 0).all() and (sim <= 1).all()
    # The animals are far apart: every other pair is much less alike.
    assert (sim[~np.eye(3, dtype=bool)] < 0.5).all()


def test_instance_similarity_is_sleaps_formula():
    # sum_n exp(-d_n^2) / visible nodes, d in pixels: 1 px on every node gives exp(-1).
    sim = similarity_matrix("instance", (SQUARE + ONE_PX)[None], SQUARE[None])
    assert sim[0, 0] == pytest.approx(math.exp(-1.0))
    two = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 0.0], [0.0, 0.0]])  # 1, 2, 0, 0 px
    sim = similarity_matrix("instance", (SQUARE + two)[None], SQUARE[None])
    assert sim[0, 0] == pytest.approx((math.exp(-1) + math.exp(-4) + 2) / 4)


def test_oks_and_centroid_scale_with_the_candidates_size():
    # exp(-d^2 / (2 (kappa s)^2)) with s = 8 px and kappa = 0.5: 2 (0.5 * 8)^2 = 32.
    for kind in ("oks", "centroid"):
        sim = similarity_matrix(kind, (SQUARE + ONE_PX)[None], SQUARE[None])
        assert sim[0, 0] == pytest.approx(math.exp(-1.0 / 32.0)), kind


def test_a_node_the_candidate_misses_counts_in_the_denominator():
    """SLEAP divides by the new (query) instance's visible nodes: a node only the
    candidate misses adds 0 to the sum but still counts in that total."""
    cand = SQUARE.copy()
    cand[3] = np.nan
    sim = similarity_matrix("instance", (SQUARE + ONE_PX)[None], cand[None])
    assert sim[0, 0] == pytest.approx(3 * math.exp(-1.0) / 4)


def test_a_node_the_query_misses_is_left_out():
    """A node the query misses adds 0 and is not one of the query's visible nodes."""
    query = SQUARE + ONE_PX
    query[3] = np.nan
    sim = similarity_matrix("instance", query[None], SQUARE[None])
    assert sim[0, 0] == pytest.approx(math.exp(-1.0))


@pytest.mark.parametrize("kind", list(Similarity))
def test_missing_nodes_give_finite_similarities(kind):
    queries, cands = _scene()
    queries[0, :3] = np.nan
    cands[1, 2:] = np.nan
    queries[1] = np.nan  # nothing visible
    sim = similarity_matrix(kind, queries, cands)
    assert np.isfinite(sim).all() and (sim >= 0).all() and (sim <= 1).all()
    np.testing.assert_array_equal(sim[1], 0.0)
    # The partly visible query is still most like its own animal.
    assert sim[0].argmax() == 2


def test_a_missing_node_on_both_sides_is_ignored():
    a = SQUARE.copy()
    a[1] = np.nan
    for kind in ("instance", "oks"):
        assert similarity_matrix(kind, a[None], a[None])[0, 0] == pytest.approx(1.0), kind


@pytest.mark.parametrize("kind", ["oks", "centroid"])
def test_oks_and_centroid_are_scale_invariant(kind):
    queries, cands = _scene(1)
    sim = similarity_matrix(kind, queries, cands)
    assert (sim > 1e-6).sum() >= 3  # not all zero: the comparison means something
    np.testing.assert_allclose(similarity_matrix(kind, 4 * queries, 4 * cands), sim, atol=1e-12)


def test_instance_similarity_is_in_pixels():
    queries, cands = _scene(1)
    small = similarity_matrix("instance", queries, cands)
    big = similarity_matrix("instance", 4 * queries, 4 * cands)
    assert (big.max(axis=1) < small.max(axis=1)).all()


def test_iou_of_known_boxes():
    a = np.array([[0.0, 0.0], [10.0, 10.0], [5.0, 3.0]])  # box 0..10 x 0..10
    b = np.array([[5.0, 5.0], [15.0, 15.0], [7.0, 8.0]])  # box 5..15 x 5..15
    c = np.array([[20.0, 20.0], [30.0, 25.0], [25.0, 22.0]])  # disjoint
    sim = similarity_matrix("iou", np.stack([a, b]), np.stack([a, b, c]))
    # intersection 5 x 5 = 25, union 100 + 100 - 25 = 175
    np.testing.assert_allclose(sim, [[1.0, 25 / 175, 0.0], [25 / 175, 1.0, 0.0]])
    # A missing node shrinks the box to the visible ones.
    b_missing = b.copy()
    b_missing[1] = np.nan  # box 5..7 x 5..8, inside a's box
    assert similarity_matrix("iou", a[None], b_missing[None])[0, 0] == pytest.approx(6 / 100)


@pytest.mark.parametrize("kind", list(Similarity))
def test_empty_inputs(kind):
    _, cands = _scene()
    none = np.zeros((0, 6, 2))
    assert similarity_matrix(kind, none, cands).shape == (0, 3)
    assert similarity_matrix(kind, cands, none).shape == (3, 0)
    assert similarity_matrix(kind, none, none).shape == (0, 0)


def test_size_agreement_is_about_size_not_place_or_heading():
    from napari_sleap_train.tracking.similarity import SIZE_TAU, pair_distances, size_agreement

    rng = np.random.default_rng(0)
    pose = rng.uniform(0, 40, (6, 2))
    angle = 1.1
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    turned = pose @ rot.T + [200.0, 50.0]
    bigger = pose * 1.2
    got = size_agreement(pair_distances(pose[None]), pair_distances(np.stack([turned, bigger])))
    np.testing.assert_allclose(got[0, 0], 1.0)
    np.testing.assert_allclose(got[0, 1], np.exp(-(np.log(1.2) ** 2) / (2 * SIZE_TAU**2)))
    holes = pose.copy()
    holes[[1, 4]] = np.nan  # the shared node pairs still agree
    agree = size_agreement(pair_distances(holes[None]), pair_distances(turned[None]))
    np.testing.assert_allclose(agree, [[1.0]])
    two = pair_distances(pose[None, :2])  # one pair only: too few to compare
    assert size_agreement(two, two).tolist() == [[1.0]]


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_nan_median_is_numpys(axis):
    from napari_sleap_train.tracking.similarity import nan_median

    x = np.random.default_rng(0).normal(size=(5, 7, 9))
    x[x > 1.0] = np.nan
    x[0, 0] = np.nan  # a slice with nothing to take the median of
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmedian(x, axis=axis)
    np.testing.assert_allclose(nan_median(x, axis), expected, equal_nan=True)
