"""Keypoint tables without a viewer: node order, grouping, problem points, counts, edges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from napari_sleap_train.gui.labelling.poses import accept_predictions
from napari_sleap_train.gui.layers.points_table import PointsTable, node_order

NODES = ("head", "thorax", "tail")


def table(rows: list[tuple[int, int, str, float, float, bool]]) -> PointsTable:
    """(frame, instance, keypoint, y, x, visible) rows as a table."""
    data = np.array([[f, y, x] for f, _, _, y, x, _ in rows], float).reshape(-1, 3)
    features = pd.DataFrame(
        {
            "instance": [i for _, i, _, _, _, _ in rows],
            "keypoint": [k for _, _, k, _, _, _ in rows],
            "visible": [v for *_, v in rows],
        }
    )
    return PointsTable.of(data, features, NODES)


def test_node_order_prefers_the_skeleton_then_categories_then_first_appearance():
    plain = pd.DataFrame({"keypoint": ["tail", "head", "tail", None]})
    assert node_order(plain) == ["tail", "head"]
    cats = pd.DataFrame({"keypoint": pd.Categorical(["tail"], categories=list(NODES))})
    assert node_order(cats) == list(NODES)
    assert node_order(plain, skeleton=["a", "b"]) == ["a", "b"]


def test_points_group_into_instances_by_frame_and_instance():
    t = table(
        [
            (3, 0, "tail", 30.0, 31.0, True),
            (1, 0, "head", 10.0, 11.0, True),
            (1, 0, "thorax", 12.0, 13.0, False),
            (3, 0, "head", 32.0, 33.0, True),
            (1, 1, "head", 50.0, 51.0, True),
        ]
    )
    groups = t.instances
    assert groups.keys.tolist() == [[1, 0], [1, 1], [3, 0]]
    poses = t.poses()  # yx
    np.testing.assert_array_equal(poses[0, 0], [10, 11])
    assert np.isnan(poses[0, 2]).all() and np.isnan(poses[1, 1:]).all()
    xy = t.visible_xy()  # what training sees: xy, invisible nodes NaN
    np.testing.assert_array_equal(xy[2, 2], [31, 30])
    assert np.isnan(xy[0, 1]).all()
    assert [sorted(r.tolist()) for r in groups.rows] == [[1, 2], [4], [0, 3]]


def test_problem_points_and_what_the_next_run_trains_on():
    t = table(
        [
            (0, 0, "head", 1, 1, True),
            (0, 0, "head", 2, 2, True),  # repeats a node of its instance
            (0, 0, "wing", 3, 3, True),  # not a node of the skeleton
            (0, 1, "head", 4, 4, False),  # only invisible nodes: not trained on
            (5, 0, "tail", 5, 5, True),
        ]
    )
    assert t.problem_rows() == [1, 2]
    assert t.counts() == (2, 2, 2)
    assert PointsTable.empty(NODES).counts() == (0, 0, 0)


def test_edges_join_the_nodes_of_each_instance_only():
    t = table(
        [
            (0, 0, "head", 1, 1, True),
            (0, 0, "thorax", 2, 2, True),
            (0, 1, "head", 9, 9, True),
            (1, 0, "thorax", 5, 5, True),
            (1, 0, "wing", 6, 6, True),  # no node: no edge
        ]
    )
    edges = t.edges([(0, 1), (1, 2)])
    assert edges.shape == (1, 2, 3)
    np.testing.assert_array_equal(edges[0], [[0, 1, 1], [0, 2, 2]])


def test_accepting_predictions_skips_animals_already_labelled():
    labels = table([(4, 0, "head", 100, 100, True), (4, 0, "thorax", 110, 100, True)])
    preds = table(
        [
            (4, 0, "head", 100.5, 100, True),  # the labelled animal, predicted again
            (4, 0, "thorax", 110, 100.5, True),
            (4, 1, "head", 300, 300, True),
            (4, 1, "tail", 320, 300, False),
        ]
    )
    accepted = accept_predictions(preds, labels, {(4, 0), (4, 1)}, next_id=7)
    assert (accepted.instances, accepted.skipped, accepted.frames) == (1, 1, {4})
    assert accepted.columns["instance"] == [7, 7]
    assert accepted.columns["keypoint"] == ["head", "tail"]
    assert accepted.columns["visible"] == [True, False]
    np.testing.assert_array_equal(accepted.data, [[4, 300, 300], [4, 320, 300]])


@pytest.mark.parametrize("n", [0, 1, 60_000])
def test_tables_of_any_size(n):
    rng = np.random.default_rng(0)
    t = table(
        [(int(i // 30), int(i % 30 // 3), NODES[i % 3], *rng.random(2), True) for i in range(n)]
    )
    assert t.counts().instances == len(t.instances) == (n + 2) // 3
