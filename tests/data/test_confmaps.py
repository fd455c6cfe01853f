"""Tests for node and anchor confidence maps."""

from __future__ import annotations

import math

import pytest
import torch

from napari_sleap_train.data.confmaps import anchor_confmaps, make_grid, node_confmaps

NAN = float("nan")


@pytest.mark.parametrize(("height", "width", "stride"), [(64, 48, 1), (37, 50, 2), (37, 50, 4)])
def test_grid_and_shapes(height: int, width: int, stride: int) -> None:
    xv, yv = make_grid(height, width, stride)
    assert xv.tolist() == list(range(0, width, stride))
    assert yv.tolist() == list(range(0, height, stride))
    points = torch.rand(3, 5, 2) * torch.tensor([width, height])
    maps = node_confmaps(points, height, width, sigma=2.0, stride=stride)
    expected = (3, 5, math.ceil(height / stride), math.ceil(width / stride))
    assert maps.shape == expected
    assert maps.dtype == torch.float32
    anchors = anchor_confmaps(points, height, width, sigma=2.0, stride=stride)
    assert anchors.shape == (3, 1) + expected[2:]


@pytest.mark.parametrize("stride", [1, 2, 4])
def test_node_peak_at_integer_position(stride: int) -> None:
    points = torch.tensor([[[8.0, 12.0], [20.0, 4.0]]])
    maps = node_confmaps(points, 32, 28, sigma=2.5, stride=stride)
    for k, (x, y) in enumerate(points[0].tolist()):
        row, col = divmod(int(maps[0, k].argmax()), maps.shape[-1])
        assert (col * stride, row * stride) == (x, y)
        assert maps[0, k, row, col] == pytest.approx(1.0)


def test_node_value_at_subpixel_position() -> None:
    sigma, stride = 1.5, 2
    x, y = 10.3, 7.6
    maps = node_confmaps(torch.tensor([[[x, y]]]), 20, 24, sigma=sigma, stride=stride)
    for row, col in [(4, 5), (3, 5), (4, 4), (0, 0), (9, 11)]:
        d2 = (col * stride - x) ** 2 + (row * stride - y) ** 2
        assert float(maps[0, 0, row, col]) == pytest.approx(math.exp(-d2 / (2 * sigma**2)))


def test_missing_points_give_zero_maps() -> None:
    points = torch.tensor([[[4.0, 6.0], [NAN, NAN], [3.0, NAN]]])
    maps = node_confmaps(points, 16, 16, sigma=2.0, stride=2)
    assert maps[0, 0].max() == pytest.approx(1.0)
    assert torch.equal(maps[0, 1:], torch.zeros_like(maps[0, 1:]))
    assert not maps.isnan().any()


def test_anchor_maps_max_over_anchors_ignoring_padding() -> None:
    points = torch.tensor(
        [
            [[4.0, 4.0], [20.0, 12.0], [NAN, NAN]],
            [[NAN, NAN], [NAN, NAN], [NAN, NAN]],
        ]
    )
    maps = anchor_confmaps(points, 16, 24, sigma=2.0, stride=2)
    nodes = node_confmaps(points[:1, :2], 16, 24, sigma=2.0, stride=2)
    assert torch.allclose(maps[0, 0], nodes[0].amax(0))
    assert maps[0, 0, 2, 2] == pytest.approx(1.0)
    assert maps[0, 0, 6, 10] == pytest.approx(1.0)
    assert torch.equal(maps[1], torch.zeros_like(maps[1]))
    empty = anchor_confmaps(torch.zeros(2, 0, 2), 16, 24, sigma=2.0, stride=2)
    assert empty.shape == (2, 1, 8, 12)
    assert not empty.any()


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="shape"):
        node_confmaps(torch.zeros(3, 2), 8, 8, 1.0, 1)
    with pytest.raises(ValueError, match="sigma"):
        node_confmaps(torch.zeros(1, 1, 2), 8, 8, 0.0, 1)
    with pytest.raises(ValueError, match="stride"):
        make_grid(8, 8, 0)


def test_part_affinity_fields_point_along_each_edge_and_fade_with_distance():
    from napari_sleap_train.data.confmaps import part_affinity_fields

    pts = torch.tensor([[[[10.0, 20.0], [30.0, 20.0], [float("nan")] * 2]]])  # (1, 1, 3, 2)
    edges = torch.tensor([[0, 1], [1, 2]])
    pafs = part_affinity_fields(pts, edges, 40, 40, sigma=4.0, stride=1)
    assert pafs.shape == (1, 4, 40, 40)
    assert torch.allclose(pafs[0, :2, 20, 20], torch.tensor([1.0, 0.0]))  # on the edge
    assert pafs[0, 0, 24, 20] == pytest.approx(math.exp(-0.5), rel=1e-5)  # one sigma away
    assert pafs[0, 0, 20, 36] == pytest.approx(math.exp(-0.5 * (6 / 4) ** 2), rel=1e-5)  # past it
    assert pafs[0, 2:].abs().max() == 0  # an edge with a missing end has no field
    two = torch.cat([pts, pts + torch.tensor([0.0, 1.0])], dim=1)  # two animals: summed
    summed = part_affinity_fields(two, edges, 40, 40, 4.0, 1)
    assert summed[0, 0, 20, 20] > 1.9
