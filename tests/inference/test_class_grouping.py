"""Grouping body parts by class maps (bottom-up-ID): each node of each track's animal is the
peak its class map marks most, one per track, never two animals sharing a peak."""

from __future__ import annotations

import numpy as np
import torch

from napari_sleap_train.inference.class_grouping import group_by_class

STRIDE = 2


def _maps(marks: dict[int, list[tuple[float, float, float]]], k: int = 2) -> torch.Tensor:
    """Class maps ``(1, k, 32, 32)`` with the given values at (x, y) pixels of each class."""
    maps = torch.zeros(1, k, 32, 32)
    for c, points in marks.items():
        for x, y, value in points:
            maps[0, c, round(y / STRIDE), round(x / STRIDE)] = value
    return maps


def test_nodes_go_to_the_track_whose_map_marks_them():
    # two nodes; animal 0 at the left, animal 1 at the right; the peaks come in any order
    points = torch.tensor([[40.0, 10.0], [8.0, 10.0], [8.0, 20.0], [40.0, 20.0]])
    channel = torch.tensor([0, 0, 1, 1])
    values = torch.tensor([0.9, 0.8, 0.7, 0.6])
    sample = torch.zeros(4, dtype=torch.long)
    maps = _maps({0: [(8, 10, 0.9), (8, 20, 0.8)], 1: [(40, 10, 0.7), (40, 20, 0.5)]})
    [(classes, pts, vals, scores)] = group_by_class(
        maps, sample, channel, points, values, n_nodes=2, stride=STRIDE
    )
    assert classes.tolist() == [0, 1]
    np.testing.assert_allclose(pts[0], [[8, 10], [8, 20]])
    np.testing.assert_allclose(pts[1], [[40, 10], [40, 20]])
    np.testing.assert_allclose(vals, [[0.8, 0.7], [0.9, 0.6]])
    np.testing.assert_allclose(scores, [0.85, 0.6])


def test_one_peak_per_track_and_node_and_small_animals_dropped():
    # three peaks of node 0 where both classes prefer the same one: the Hungarian match
    # gives each track a different peak, and the third is left out
    points = torch.tensor([[8.0, 8.0], [20.0, 8.0], [50.0, 50.0], [20.0, 20.0]])
    channel = torch.tensor([0, 0, 0, 1])
    values = torch.ones(4)
    sample = torch.zeros(4, dtype=torch.long)
    maps = _maps({0: [(8, 8, 0.9), (20, 8, 0.8), (20, 20, 0.9)], 1: [(8, 8, 0.95), (20, 8, 0.3)]})
    [(classes, pts, _, _)] = group_by_class(
        maps, sample, channel, points, values, n_nodes=2, stride=STRIDE
    )
    assert classes.tolist() == [0, 1]
    np.testing.assert_allclose(pts[0], [[20, 8], [20, 20]])  # 0.8 + 0.95 beats 0.9 + 0.3
    np.testing.assert_allclose(pts[1, 0], [8, 8])
    assert np.isnan(pts[1, 1]).all()  # node 1 has one peak: track 1 gets none
    [(classes, *_)] = group_by_class(
        maps, sample, channel, points, values, n_nodes=2, stride=STRIDE, min_instance_peaks=2
    )
    assert classes.tolist() == [0]


def test_frames_of_a_batch_are_grouped_apart_and_empty_frames_have_no_animals():
    maps = torch.cat([_maps({0: [(8, 8, 0.9)]}), _maps({1: [(8, 8, 0.9)]}), _maps({})])
    points = torch.tensor([[8.0, 8.0], [8.0, 8.0]])
    out = group_by_class(
        maps,
        torch.tensor([0, 1]),
        torch.tensor([0, 0]),
        points,
        torch.ones(2),
        n_nodes=1,
        stride=STRIDE,
    )
    assert [o[0].tolist() for o in out] == [[0], [1], []]
    assert out[2][1].shape == (0, 1, 2)
    none = torch.zeros(0, dtype=torch.long)
    out = group_by_class(maps, none, none, torch.zeros(0, 2), torch.zeros(0), 1, STRIDE)
    assert [len(o[0]) for o in out] == [0, 0, 0]
