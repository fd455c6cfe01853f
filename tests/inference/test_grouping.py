"""Grouping body parts into animals by part affinity fields, on fields built from known
animals (the targets a perfect network would predict)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_sleap_train.config import min_instance_peaks
from napari_sleap_train.data.confmaps import part_affinity_fields
from napari_sleap_train.inference.grouping import GroupingSettings, edge_order, group_instances

EDGES = [(0, 1), (1, 2), (1, 3)]  # a head, a thorax and two legs


def _group(
    animals: np.ndarray, size: int = 128, stride: int = 2, peaks: np.ndarray | None = None, **kw
):
    """Group the nodes of ``peaks`` (default: the animals') with the animals' fields."""
    pts = torch.as_tensor(animals, dtype=torch.float32)[None]  # (1, M, N, 2)
    edges = torch.as_tensor(EDGES)
    pafs = part_affinity_fields(pts, edges, size, size, 3.0, stride)
    pafs = pafs.reshape(1, len(EDGES), 2, *pafs.shape[-2:])
    flat = torch.as_tensor(animals if peaks is None else peaks, dtype=torch.float32)
    flat = flat.reshape(-1, 2)
    keep = torch.isfinite(flat).all(1)
    n = animals.shape[1]
    channel = torch.arange(len(flat)) % n
    order = torch.randperm(int(keep.sum()), generator=torch.Generator().manual_seed(0))
    points, channel = flat[keep][order], channel[keep][order]
    sample = torch.zeros(len(points), dtype=torch.long)
    values = torch.ones(len(points))
    return group_instances(
        pafs, sample, channel, points, values, EDGES, n, stride, GroupingSettings(**kw)
    )[0]


def _same_animals(found: np.ndarray, animals: np.ndarray) -> bool:
    key = lambda a: tuple(np.nan_to_num(a, nan=-1).ravel().round(3))  # noqa: E731
    return sorted(map(key, found)) == sorted(map(key, animals))


def test_two_close_animals_are_grouped_back_whole():
    animals = np.array(
        [
            [[40, 40], [40, 55], [30, 65], [50, 65]],
            [[58, 42], [58, 57], [48, 67], [68, 67]],  # 18 px to the right, legs interleaved
        ],
        float,
    )
    pts, vals, scores = _group(animals)
    assert _same_animals(pts, animals)
    assert (vals == 1).all() and (scores > 2.5).all()  # three edges scoring ~1 each


def test_a_missing_node_leaves_the_rest_of_its_animal():
    animals = np.array([[[40, 40], [40, 55], [np.nan, np.nan], [50, 65]]], float)
    pts, _, _ = _group(animals)
    assert _same_animals(pts, animals)


def test_connections_off_the_field_are_refused_and_long_ones_penalised():
    a = [[40, 40], [40, 55], [30, 65], [50, 65]]
    b = [[100, 40], [100, 55], [90, 65], [110, 65]]
    animals = np.array([a, b], float)
    nan = [np.nan, np.nan]
    # a's head and b's thorax: the line between them crosses no field of that edge
    pts, _, _ = _group(animals, peaks=np.array([[a[0], nan, nan, nan], [nan, b[1], nan, nan]]))
    assert len(pts) == 0
    # An edge of 60 px in a 128 px frame (max edge length 0.25 x 128 = 32 px) is penalised
    # by 32 / 60 - 1; with max edge length ratio 1 it is not.
    long = np.array([[[20, 20], [20, 80], [10, 90], [30, 90]]], float)
    penalised, free = _group(long)[2], _group(long, max_edge_length_ratio=1.0)[2]
    assert free[0] - penalised[0] == pytest.approx(1 - 32 / 60, abs=0.02)
    assert _same_animals(_group(long)[0], long)


def test_min_instance_peaks_drops_small_fragments():
    animals = np.array(
        [
            [[40, 40], [40, 55], [30, 65], [50, 65]],
            [[90, 90], [90, 105], [np.nan] * 2, [np.nan] * 2],
        ],
        float,
    )
    assert len(_group(animals)[0]) == 2
    pts, _, _ = _group(animals, min_instance_peaks=3)
    assert len(pts) == 1 and np.isfinite(pts[0]).all()


def test_edges_are_assembled_from_the_root_outwards():
    assert edge_order([(1, 2), (0, 1), (1, 3)]) == [1, 0, 2]
    assert sorted(edge_order([(0, 1), (1, 0)])) == [0, 1]  # a cycle keeps every edge


def test_fragments_joined_by_a_later_edge_become_one_animal():
    # Two roots (0 and 2): edges (0, 1) and (2, 3) start two fragments, and edge (3, 1),
    # assembled last, joins them, as SLEAP merges instances that share no node.
    edges = [(0, 1), (2, 3), (3, 1)]
    assert edge_order(edges) == [0, 1, 2]
    animal = np.array([[[30, 30], [30, 50], [50, 70], [50, 50]]], float)
    pts = torch.as_tensor(animal, dtype=torch.float32)[None]
    pafs = part_affinity_fields(pts, torch.as_tensor(edges), 96, 96, 3.0, 2)
    pafs = pafs.reshape(1, len(edges), 2, *pafs.shape[-2:])
    points = torch.as_tensor(animal[0], dtype=torch.float32)
    zeros = torch.zeros(4, dtype=torch.long)
    found, _, scores = group_instances(
        pafs, zeros, torch.arange(4), points, torch.ones(4), edges, 4, 2
    )[0]
    assert _same_animals(found, animal)
    assert scores[0] > 2.5  # the three connections' scores together


def test_min_instance_peaks_0_means_a_quarter_of_the_skeleton_at_most_4():
    assert [min_instance_peaks(0, n) for n in (2, 5, 8, 13, 24, 60)] == [0, 1, 2, 3, 4, 4]
    assert min_instance_peaks(1, 24) == 1  # 1 keeps every group, as SLEAP's 0
    assert min_instance_peaks(7, 24) == 7
