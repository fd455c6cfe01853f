"""Tests for anchors and automatic crop size."""

from __future__ import annotations

import math

import numpy as np
import pytest

from napari_sleap_train.data.geometry import auto_crop_size, instance_anchors, instance_bbox_sides

NAN = np.nan


def test_anchor_bbox_centre_without_anchor_node() -> None:
    inst = np.array([[0.0, 0.0], [10.0, 2.0], [4.0, 8.0], [NAN, NAN]])
    np.testing.assert_allclose(instance_anchors(inst, None), [5.0, 4.0])


def test_anchor_node_and_fallback() -> None:
    points = np.array(
        [
            [[0.0, 0.0], [10.0, 2.0], [3.0, 7.0]],
            [[0.0, 0.0], [10.0, 2.0], [NAN, NAN]],
            [[NAN, NAN], [NAN, NAN], [NAN, NAN]],
        ]
    )
    anchors = instance_anchors(points, anchor_index=2)
    np.testing.assert_allclose(anchors[0], [3.0, 7.0])
    np.testing.assert_allclose(anchors[1], [5.0, 1.0])
    assert np.isnan(anchors[2]).all()
    assert np.isnan(instance_anchors(points, None)[2]).all()


def test_anchors_keep_leading_axes() -> None:
    points = np.random.default_rng(0).uniform(0, 50, (2, 3, 4, 2))
    assert instance_anchors(points, 1).shape == (2, 3, 2)
    np.testing.assert_array_equal(instance_anchors(points, 1), points[..., 1, :])
    with pytest.raises(ValueError, match="anchor_index"):
        instance_anchors(points, 4)


def test_bbox_sides() -> None:
    points = np.array([[[0.0, 0.0], [30.0, 10.0]], [[NAN, NAN], [NAN, NAN]]])
    sides = instance_bbox_sides(points)
    assert sides[0] == 30.0
    assert np.isnan(sides[1])


def _box(x: float, y: float, w: float, h: float) -> np.ndarray:
    return np.array([[x, y], [x + w, y + h], [x + w / 2, y + h / 3]])


def test_auto_crop_size_by_hand() -> None:
    instances = np.stack([_box(5, 5, 80, 40), _box(100, 30, 50, 60)])
    report = auto_crop_size(instances, max_stride=16, rotation_deg=15.0)
    theta = math.radians(15)
    expected = math.ceil((80 * (math.cos(theta) + math.sin(theta)) + 16) / 16) * 16
    assert report.size == expected == 128
    assert report.largest_side == 80.0
    assert report.largest_index == 0
    assert report.outlier_indices == []
    assert report.message.startswith(
        "Crop size 128 px (auto): largest labelled instance 80 px (instance 0)"
    )
    assert "multiple of 16" in report.message
    assert "Warning" not in report.message


def test_auto_crop_size_rotation_and_scale() -> None:
    instances = _box(0, 0, 100, 20)[None]
    assert auto_crop_size(instances, 16, rotation_deg=0.0).size == 128
    big = 100 * math.sqrt(2) * 1.2 + 16
    for deg in (45.0, 90.0, 180.0):
        assert auto_crop_size(instances, 32, rotation_deg=deg, scale_max=1.2).size == (
            math.ceil(big / 32) * 32
        )


def test_auto_crop_size_names_outliers() -> None:
    instances = np.stack([_box(0, 0, 40, 30)] * 5 + [_box(0, 0, 300, 20), _box(0, 0, 42, 10)])
    instances[2, 1:] = NAN
    report = auto_crop_size(instances, 16)
    assert report.largest_index == 5
    assert report.outlier_indices == [5]
    assert report.median_side == 40.0
    assert "Warning: Instance 5 is more than 2× the median" in report.message


def test_auto_crop_size_without_visible_nodes() -> None:
    with pytest.raises(ValueError, match="no labelled instance has a visible node"):
        auto_crop_size(np.full((3, 4, 2), NAN), 16)
    with pytest.raises(ValueError, match="no labelled instance"):
        auto_crop_size(np.zeros((0, 4, 2)), 16)
