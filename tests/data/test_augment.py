"""Tests for batched geometric and intensity augmentation."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from napari_sleap_train.config import AugmentationConfig as AugmentParams
from napari_sleap_train.data.augment import (
    fixed_affines,
    intensity_augment,
    random_affines,
    swap_symmetric,
    warp_images,
    warp_points,
)
from napari_sleap_train.data.confmaps import node_confmaps

NAN = float("nan")
OFF = AugmentParams(rotation=False)
ALL_GEOMETRY = AugmentParams(
    rotation=True,
    rotation_deg=180.0,
    scale=True,
    scale_min=0.8,
    scale_max=1.2,
    translate=True,
    translate_px=8.0,
    hflip=True,
    hflip_prob=0.5,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _dots(points: torch.Tensor, height: int, width: int, sigma: float) -> torch.Tensor:
    """``(B, 1, H, W)`` dark images with a bright Gaussian dot (peak 255) at each point."""
    return 255 * node_confmaps(points, height, width, sigma, 1).amax(1, keepdim=True)


def _keypoints(batch: int, centres: torch.Tensor, spread: float, seed: int) -> torch.Tensor:
    """Five well-separated keypoints per sample around ``centres``."""
    layout = torch.tensor([[-1.0, -0.7], [0.9, -0.5], [0.0, 0.0], [-0.7, 0.95], [0.8, 0.85]])
    jitter = torch.rand(batch, 5, 2, generator=_gen(seed)) * 0.2 - 0.1
    return centres[:, None] + (layout + jitter) * spread


@pytest.mark.parametrize(
    ("frame", "out", "scale", "spread", "dot_sigma"),
    [(256, 96, 1.0, 28.0, 1.5), (384, 96, 0.25, 120.0, 5.0)],
    ids=["crop-scale1", "centroid-scale0.25"],
)
def test_images_and_points_stay_in_register(
    frame: int, out: int, scale: float, spread: float, dot_sigma: float
) -> None:
    batch = 16
    gen = _gen(1)
    if scale == 1.0:
        centres = 100 + torch.rand(batch, 2, generator=gen) * 56
    else:
        centres = torch.full((batch, 2), (frame - 1) / 2)
    points = _keypoints(batch, centres, spread, seed=2)
    images = _dots(points, frame, frame, dot_sigma)

    A, flipped = random_affines(batch, ALL_GEOMETRY, centres, (out, out), gen, scale=scale)
    assert flipped.any() and not flipped.all()
    warped = warp_images(images, A, (out, out))[:, 0]
    warped_points = warp_points(points, A)
    maps = node_confmaps(warped_points, out, out, sigma=1.0, stride=1)

    checked = 0
    for b in range(batch):
        for k in range(points.shape[1]):
            x, y = warped_points[b, k].tolist()
            if not (4 <= x <= out - 5 and 4 <= y <= out - 5):
                continue
            checked += 1
            row, col = divmod(int(maps[b, k].argmax()), out)
            patch = warped[b, row - 3 : row + 4, col - 3 : col + 4]
            prow, pcol = divmod(int(patch.argmax()), 7)
            assert abs(prow - 3) <= 1 and abs(pcol - 3) <= 1, (b, k)
            ry, rx = round(y), round(x)
            near = warped[b, ry - 4 : ry + 5, rx - 4 : rx + 5]
            ys, xs = torch.meshgrid(
                torch.arange(ry - 4, ry + 5.0), torch.arange(rx - 4, rx + 5.0), indexing="ij"
            )
            cx = float((near * xs).sum() / near.sum())
            cy = float((near * ys).sum() / near.sum())
            assert abs(cx - x) < 0.15 and abs(cy - y) < 0.15, (b, k, cx - x, cy - y)
    assert checked >= 0.8 * batch * points.shape[1]


def test_all_off_is_a_crop_equal_to_slicing() -> None:
    images = torch.randint(0, 256, (2, 3, 100, 120)).float()
    corners = torch.tensor([[10.0, 20.0], [-5.0, 70.0]])
    out_h, out_w = 40, 31
    centres = corners + torch.tensor([(out_w - 1) / 2, (out_h - 1) / 2])
    A, flipped = random_affines(2, OFF, centres, (out_h, out_w), _gen())
    assert not flipped.any()
    assert torch.equal(A[:, :, :2], torch.eye(2).expand(2, 2, 2))
    assert torch.equal(A[:, :, 2], corners)
    out = warp_images(images, A, (out_h, out_w))
    assert torch.equal(out[0], images[0, :, 20:60, 10:41])
    assert torch.equal(out[1, :, :30, 5:], images[1, :, 70:, :26])
    assert not out[1, :, 30:].any() and not out[1, :, :, :5].any()
    points = torch.tensor([[[12.0, 25.0]], [[0.0, 71.5]]])
    assert torch.equal(warp_points(points, A), points - corners[:, None])


def test_subpixel_crop_interpolates() -> None:
    images = torch.arange(20.0).reshape(1, 1, 1, 20).expand(1, 1, 5, 20).contiguous()
    A = torch.tensor([[[1.0, 0.0, 3.25], [0.0, 1.0, 0.0]]])
    out = warp_images(images, A, (5, 8))
    torch.testing.assert_close(out[0, 0, 2], torch.arange(8.0) + 3.25)


def test_pure_downscale_matches_area_resize() -> None:
    frame = 384
    yy, xx = torch.meshgrid(torch.arange(frame * 1.0), torch.arange(frame * 1.0), indexing="ij")
    smooth = 127 + 100 * torch.sin(xx / 9) * torch.cos(yy / 13)
    images = torch.stack([smooth, smooth.flip(0)])[:, None]
    centres = torch.full((2, 2), (frame - 1) / 2)
    A, _ = random_affines(2, OFF, centres, (96, 96), _gen(), scale=0.25)
    torch.testing.assert_close(A[:, :, :2], 4 * torch.eye(2).expand(2, 2, 2))
    out = warp_images(images, A, (96, 96))
    area = F.interpolate(images, size=(96, 96), mode="area")
    torch.testing.assert_close(out, area, atol=1e-3, rtol=0)
    antialiased = F.interpolate(images, size=(96, 96), mode="bilinear", antialias=True)
    assert (out - antialiased).abs().mean() < 1.0
    checker = ((xx + yy) % 2 * 255)[None, None]
    flat = warp_images(checker, A[:1], (96, 96))[0, 0, 2:-2, 2:-2]
    assert (flat - 127.5).abs().max() < 1e-3


def test_mirror_without_rotation_flips_the_crop() -> None:
    params = dataclasses.replace(OFF, hflip=True, hflip_prob=1.0)
    images = torch.rand(2, 1, 50, 60) * 255
    corners = torch.tensor([[5.0, 6.0], [20.0, 10.0]])
    centres = corners + torch.tensor([(32 - 1) / 2, (24 - 1) / 2])
    A, flipped = random_affines(2, params, centres, (24, 32), _gen())
    assert flipped.all()
    out = warp_images(images, A, (24, 32))
    assert torch.equal(out[0], images[0, :, 6:30, 5:37].flip(-1))
    assert torch.equal(out[1], images[1, :, 10:34, 20:52].flip(-1))


def test_hflip_swaps_symmetric_nodes() -> None:
    params = dataclasses.replace(OFF, hflip=True, hflip_prob=0.5)
    batch = 32
    centres = torch.full((batch, 2), 50.0)
    # Nodes: left ear, right ear, nose.
    points = centres[:, None] + torch.tensor([[-10.0, -5.0], [10.0, -5.0], [0.0, 8.0]])
    A, flipped = random_affines(batch, params, centres, (64, 64), _gen(3))
    assert flipped.any() and not flipped.all()
    warped = warp_points(points, A)
    named = swap_symmetric(warped, flipped, torch.tensor([1, 0, 2]))
    assert (named[:, 0, 0] < named[:, 1, 0]).all()
    torch.testing.assert_close(named[~flipped], warped[~flipped])
    torch.testing.assert_close(named[flipped][:, [1, 0, 2]], warped[flipped])
    extra = swap_symmetric(warped[:, None].expand(batch, 4, 3, 2), flipped, [1, 0, 2])
    torch.testing.assert_close(extra[:, 2], named)


def test_warp_points_round_trip_and_nan() -> None:
    batch = 6
    centres = torch.rand(batch, 2, generator=_gen(4)) * 100 + 50
    A, _ = random_affines(batch, ALL_GEOMETRY, centres, (80, 60), _gen(5), scale=0.5)
    points = torch.rand(batch, 2, 3, 2, generator=_gen(6)) * 200
    points[0, 1, 2] = NAN
    points[3, 0, 1, 1] = NAN
    out = warp_points(points, A)
    assert out.shape == points.shape
    assert out[0, 1, 2].isnan().all() and out[3, 0, 1].isnan().all()
    assert out.isnan().sum() == 4
    back = torch.einsum("bij,bnj->bni", A[:, :, :2], out.reshape(batch, -1, 2)) + A[:, None, :, 2]
    expected = points.clone()
    expected[3, 0, 1] = NAN
    torch.testing.assert_close(
        back.reshape(points.shape), expected, equal_nan=True, atol=1e-3, rtol=0
    )
    c_out = warp_points(centres[:, None], A)[:, 0]
    assert ((c_out - torch.tensor([29.5, 39.5])).abs() <= 8 * 0.5 * 1.2 + 1e-4).all()


def test_affine_ranges() -> None:
    batch = 200
    params = AugmentParams(rotation_deg=20.0, scale=True, scale_min=0.9, scale_max=1.1)
    A, _ = random_affines(batch, params, torch.zeros(batch, 2), (10, 10), _gen(), scale=0.5)
    lin = A[:, :, :2].double()
    factor = 1 / lin.det().abs().sqrt()
    assert ((factor >= 0.45 - 1e-6) & (factor <= 0.55 + 1e-6)).all()
    angle = torch.rad2deg(torch.atan2(lin[:, 0, 1], lin[:, 0, 0]))
    assert angle.abs().max() <= 20.0 + 1e-4
    assert angle.abs().max() > 15.0


def test_determinism() -> None:
    centres = torch.rand(4, 2, generator=_gen(7)) * 100
    first = random_affines(4, ALL_GEOMETRY, centres, (32, 32), _gen(11))
    second = random_affines(4, ALL_GEOMETRY, centres, (32, 32), _gen(11))
    other = random_affines(4, ALL_GEOMETRY, centres, (32, 32), _gen(12))
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert not torch.equal(first[0], other[0])
    params = AugmentParams(uniform_noise=True, gaussian_noise=True, contrast=True, brightness=True)
    images = torch.rand(4, 1, 16, 16, generator=_gen(8)) * 255
    a = intensity_augment(images, params, _gen(11))
    b = intensity_augment(images, params, _gen(11))
    c = intensity_augment(images, params, _gen(12))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize(
    "params",
    [
        AugmentParams(uniform_noise=True, uniform_noise_min=0.0, uniform_noise_max=30.0),
        AugmentParams(gaussian_noise=True, gaussian_noise_mean=5.0, gaussian_noise_std=20.0),
        AugmentParams(contrast=True, contrast_min_gamma=0.5, contrast_max_gamma=2.0),
        AugmentParams(brightness=True, brightness_min=20.0, brightness_max=40.0),
    ],
    ids=["uniform", "gaussian", "contrast", "brightness"],
)
def test_intensity_changes_pixels_within_range(params: AugmentParams) -> None:
    images = torch.rand(4, 1, 32, 32, generator=_gen(9)) * 255
    images[:, :, 0, 0] = 0
    images[:, :, 0, 1] = 255
    out = intensity_augment(images, params, _gen(10))
    assert out.shape == images.shape
    assert out.min() >= 0 and out.max() <= 255
    assert (out != images).float().mean() > 0.5
    assert torch.equal(images, intensity_augment(images, OFF, _gen(10)))


def test_intensity_leaves_geometry_alone() -> None:
    points = torch.tensor([[[10.0, 12.0], [25.0, 20.0]], [[5.0, 28.0], [30.0, 4.0]]])
    images = _dots(points, 36, 40, 1.5) * 0.8
    params = AugmentParams(contrast=True, brightness=True, brightness_max=20.0)
    out = intensity_augment(images, params, _gen(13))
    order_in = images.flatten(1).argsort(dim=1, stable=True)
    sorted_out = out.flatten(1).gather(1, order_in)
    assert (sorted_out.diff(dim=1) >= -1e-4).all()
    noisy = intensity_augment(
        images, AugmentParams(gaussian_noise=True, gaussian_noise_std=3.0), _gen(14)
    )
    for b in range(2):
        for x, y in points[b].tolist():
            patch = noisy[b, 0, int(y) - 3 : int(y) + 4, int(x) - 3 : int(x) + 4]
            row, col = divmod(int(patch.argmax()), 7)
            assert abs(row - 3) <= 1 and abs(col - 3) <= 1


def test_config_defaults_are_sleaps() -> None:
    defaults = AugmentParams()
    assert defaults.rotation and defaults.rotation_deg == 15.0
    switches = ("scale", "translate", "uniform_noise", "gaussian_noise", "contrast")
    assert not any(getattr(defaults, name) for name in (*switches, "brightness", "hflip"))
    cfg = AugmentParams(scale=True, scale_min=0.7, hflip=True)
    assert (cfg.scale, cfg.scale_min, cfg.scale_max, cfg.hflip) == (True, 0.7, 1.1, True)


def test_fixed_affines_are_the_maps_without_augmentation() -> None:
    centres = torch.tensor([[10.0, 20.0], [100.5, 3.25]])
    for scale in (1.0, 0.25):
        drawn, flipped = random_affines(2, OFF, centres, (32, 48), _gen(), scale=scale)
        fixed = fixed_affines(centres, (32, 48), scale)
        assert torch.equal(fixed, drawn) and not flipped.any()
    crop = fixed_affines(torch.tensor([[10.5, 20.5]]), (4, 4))  # output centre (1.5, 1.5)
    image = torch.arange(40 * 200, dtype=torch.float32).reshape(1, 1, 40, 200)
    assert torch.equal(warp_images(image, crop, (4, 4)), image[:, :, 19:23, 9:13])


def test_device_follows_inputs() -> None:
    centres = torch.zeros(2, 2, dtype=torch.float64)
    A, flipped = random_affines(2, AugmentParams(), centres, (8, 8), _gen())
    assert A.dtype == torch.float32 and flipped.dtype == torch.bool
    with pytest.raises(ValueError, match="centres"):
        random_affines(3, AugmentParams(), centres, (8, 8), _gen())
    with pytest.raises(TypeError, match="floating"):
        warp_images(torch.zeros(1, 1, 4, 4, dtype=torch.uint8), A[:1], (4, 4))
