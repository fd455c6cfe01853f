"""Batched geometric and intensity augmentation.

Geometric augmentation is one affine map per sample. `random_affines` draws the maps
(`fixed_affines` gives them without randomness: crops and scaled frames), `warp_images`
resamples a batch of images with a single ``grid_sample`` call and `warp_points` moves
keypoints with the same maps, so images and keypoints stay in register. Points are
``(x, y)`` in pixels with the centre of pixel ``(row i, col j)`` at ``(x=j, y=i)``;
missing points are NaN.

Random numbers come from the given ``torch.Generator`` on its own device, so a seed
gives the same augmentation whatever device the data live on.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:
    from ..config import AugmentationConfig

__all__ = [
    "fixed_affines",
    "intensity_augment",
    "random_affines",
    "swap_symmetric",
    "warp_images",
    "warp_points",
]


def fixed_affines(
    centres: Tensor, out_size: tuple[int, int], scale: float | Tensor = 1.0
) -> Tensor:
    """Maps that place ``centres`` at the output centre, resized by ``scale`` (no rotation):
    a crop, or a whole frame scaled for a model.

    Parameters
    ----------
    centres : Tensor
        ``(B, 2)`` input pixel coordinates ``(x, y)`` mapped to the output centre.
    out_size : tuple of int
        Output ``(height, width)`` in pixels.
    scale : float or Tensor
        Resize factor from input to output (one, or ``(B,)``).

    Returns
    -------
    Tensor
        ``(B, 2, 3)`` float32 on ``centres``' device, as :func:`random_affines` gives.
    """
    centres = torch.as_tensor(centres).to(torch.float64)
    factor = torch.as_tensor(scale, dtype=torch.float64, device=centres.device)
    factor = factor.expand(centres.shape[0])
    if (factor <= 0).any():
        raise ValueError(f"scale must be positive, got {scale}.")
    out_h, out_w = out_size
    c_out = torch.tensor([(out_w - 1) / 2, (out_h - 1) / 2], dtype=torch.float64)
    lin = torch.eye(2, dtype=torch.float64, device=centres.device) / factor[:, None, None]
    offset = centres - (lin @ c_out.to(centres.device)[:, None])[..., 0]
    return torch.cat([lin, offset[..., None]], dim=-1).to(torch.float32)


def random_affines(
    batch: int,
    params: AugmentationConfig,
    centres: Tensor,
    out_size: tuple[int, int],
    generator: torch.Generator,
    scale: float = 1.0,
) -> tuple[Tensor, Tensor]:
    """Draw one random affine map per sample.

    The output image is the input rotated by a random angle about ``centres``, resized
    by ``scale`` times a random scale factor, shifted by a random translation,
    mirrored left-right with probability ``hflip_prob``, and placed so that
    ``centres`` lands on the output centre ``((out_w - 1) / 2, (out_h - 1) / 2)``.
    With every augmentation off and ``scale=1`` the map is a pure translation (a crop).

    Parameters
    ----------
    batch : int
        Number of samples ``B``.
    params : AugmentationConfig
        Which augmentations to draw, and their ranges.
    centres : Tensor
        ``(B, 2)`` input pixel coordinates ``(x, y)`` mapped to the output centre.
    out_size : tuple of int
        Output ``(height, width)`` in pixels.
    generator : torch.Generator
        Source of randomness.
    scale : float, optional
        Fixed resize factor from input to output, e.g. a model's input scaling.

    Returns
    -------
    A : Tensor
        ``(B, 2, 3)`` float32 on ``centres``' device, mapping output pixel coordinates
        to input pixel coordinates: ``p_in = A[:, :, :2] @ p_out + A[:, :, 2]``.
    flipped : Tensor
        ``(B,)`` bool, True where the sample was mirrored.
    """
    centres = torch.as_tensor(centres)
    if centres.shape != (batch, 2):
        raise ValueError(f"centres must have shape ({batch}, 2), got {tuple(centres.shape)}.")
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}.")
    u = torch.rand(batch, 5, generator=generator, device=generator.device, dtype=torch.float64)
    u = u.to(centres.device)
    zeros = torch.zeros_like(u[:, 0])
    angle = torch.deg2rad((2 * u[:, 0] - 1) * params.rotation_deg) if params.rotation else zeros
    factor = (
        params.scale_min + u[:, 1] * (params.scale_max - params.scale_min)
        if params.scale
        else torch.ones_like(zeros)
    ) * scale
    shift = (
        (2 * u[:, 2:4] - 1) * params.translate_px
        if params.translate
        else torch.zeros_like(u[:, 2:4])
    )
    flipped = (
        u[:, 4] < params.hflip_prob if params.hflip else torch.zeros_like(zeros, dtype=torch.bool)
    )
    mirror = 1.0 - 2.0 * flipped.to(torch.float64)

    # Inverse of p_out = c_out + s * M R (p_in - c_in) + s * t, M = diag(mirror, 1).
    cos, sin = torch.cos(angle), torch.sin(angle)
    lin = (
        torch.stack(
            [
                torch.stack([cos * mirror, sin], dim=-1),
                torch.stack([-sin * mirror, cos], dim=-1),
            ],
            dim=-2,
        )
        / factor[:, None, None]
    )
    out_h, out_w = out_size
    c_out = torch.tensor([(out_w - 1) / 2, (out_h - 1) / 2], dtype=torch.float64)
    c_out = c_out.to(centres.device) + factor[:, None] * shift
    offset = centres.to(torch.float64) - (lin @ c_out[..., None])[..., 0]
    A = torch.cat([lin, offset[..., None]], dim=-1)
    return A.to(torch.float32), flipped


def _det(A: Tensor) -> Tensor:
    return A[:, 0, 0] * A[:, 1, 1] - A[:, 0, 1] * A[:, 1, 0]


def _pool_factor(A: Tensor) -> int:
    """Integer box-filter factor that brings the batch's median scale to (0.5, 1]."""
    scales = _det(A).abs().clamp_min(1e-12).rsqrt()
    return max(1, math.floor(1.0 / float(scales.median()) + 1e-6))


def _maps_pixels_onto_pixels(A: Tensor) -> bool:
    """Whether every map takes pixel centres onto pixel centres (crops, flips, 90° turns)."""
    return torch.equal(A, A.round()) and bool((_det(A).abs() == 1).all())


def warp_images(images: Tensor, A: Tensor, out_size: tuple[int, int]) -> Tensor:
    """Resample images through affine maps with bilinear interpolation.

    When the maps shrink the images by a factor of 2 or more, the images are first
    box-filtered (``avg_pool2d`` by the integer factor ``k = floor(1 / median scale)``,
    zero-padded to a multiple of ``k``) and the maps adjusted to the pooled grid, so
    the result is not aliased; for a pure downscale by ``1/k`` this equals
    ``F.interpolate(mode="area")``. Maps that take pixel centres onto pixel centres
    (whole-pixel shifts, mirrors, quarter turns) are sampled exactly with nearest
    neighbours, so a plain crop equals slicing.

    Parameters
    ----------
    images : Tensor
        ``(B, C, H, W)`` floating-point images.
    A : Tensor
        ``(B, 2, 3)`` maps from output to input pixel coordinates (`random_affines`).
    out_size : tuple of int
        Output ``(height, width)``.

    Returns
    -------
    Tensor
        ``(B, C, out_h, out_w)``, zeros where the map samples outside the input.
    """
    if images.ndim != 4:
        raise ValueError(f"images must have shape (B, C, H, W), got {tuple(images.shape)}.")
    if not images.is_floating_point():
        raise TypeError(f"images must be floating point, got {images.dtype}.")
    A = A.to(device=images.device, dtype=torch.float64)
    k = _pool_factor(A)
    if k > 1:
        pad_h, pad_w = -images.shape[-2] % k, -images.shape[-1] % k
        if pad_h or pad_w:
            images = F.pad(images, (0, pad_w, 0, pad_h))
        images = F.avg_pool2d(images, k)
        A = torch.cat([A[:, :, :2], A[:, :, 2:] - (k - 1) / 2], dim=-1) / k
    height, width = images.shape[-2:]
    # Pixel coordinates -> grid_sample's normalised coordinates (align_corners=False).
    norm_scale = torch.tensor([2.0 / width, 2.0 / height], dtype=A.dtype, device=A.device)
    norm_shift = torch.tensor([1.0 / width - 1, 1.0 / height - 1], dtype=A.dtype, device=A.device)
    A_norm = A * norm_scale[:, None]
    A_norm[:, :, 2] += norm_shift
    out_h, out_w = out_size
    xs = torch.arange(out_w, dtype=A.dtype, device=A.device)
    ys = torch.arange(out_h, dtype=A.dtype, device=A.device)
    from_x = (A_norm[:, None, :, 0] * xs[None, :, None] + A_norm[:, None, :, 2]).to(images.dtype)
    from_y = (A_norm[:, None, :, 1] * ys[None, :, None]).to(images.dtype)
    grid = from_y[:, :, None, :] + from_x[:, None, :, :]
    mode = "nearest" if _maps_pixels_onto_pixels(A) else "bilinear"
    return F.grid_sample(images, grid, mode=mode, padding_mode="zeros", align_corners=False)


def warp_points(points: Tensor, A: Tensor) -> Tensor:
    """Move points from input to output coordinates (the inverse of ``A``).

    Parameters
    ----------
    points : Tensor
        ``(B, ..., 2)`` input pixel coordinates ``(x, y)``; NaN for missing points.
    A : Tensor
        ``(B, 2, 3)`` maps from output to input pixel coordinates.

    Returns
    -------
    Tensor
        Points in output pixel coordinates, same shape and dtype; NaN stays NaN.
    """
    points = torch.as_tensor(points)
    A = A.to(device=points.device, dtype=torch.float64)
    inv = torch.linalg.inv(A[:, :, :2])
    flat = points.reshape(points.shape[0], -1, 2).to(torch.float64) - A[:, None, :, 2]
    out = flat @ inv.transpose(-1, -2)
    return out.reshape(points.shape).to(points.dtype if points.is_floating_point() else A.dtype)


def swap_symmetric(points: Tensor, flipped: Tensor, flip_index: Tensor) -> Tensor:
    """Swap left/right node names on mirrored samples.

    Parameters
    ----------
    points : Tensor
        ``(B, ..., N, 2)`` points.
    flipped : Tensor
        ``(B,)`` bool, True for mirrored samples.
    flip_index : Tensor
        ``(N,)`` long: node ``i`` of a mirrored sample takes the point of node
        ``flip_index[i]`` (its symmetric partner, or itself).

    Returns
    -------
    Tensor
        Points with the node axis permuted on mirrored samples.
    """
    flip_index = torch.as_tensor(flip_index, dtype=torch.long, device=points.device)
    swapped = points.index_select(-2, flip_index)
    mask = flipped.to(points.device, torch.bool).reshape((-1,) + (1,) * (points.ndim - 1))
    return torch.where(mask, swapped, points)


def _uniform(shape: tuple[int, ...], low: float, high: float, generator: torch.Generator) -> Tensor:
    u = torch.rand(shape, generator=generator, device=generator.device)
    return low + u * (high - low)


def intensity_augment(
    images: Tensor, params: AugmentationConfig, generator: torch.Generator
) -> Tensor:
    """Random noise, contrast and brightness, as SLEAP applies them.

    In order: per-pixel uniform noise, per-pixel Gaussian noise, a per-sample gamma
    ``255 * (x / 255) ** gamma``, a per-sample brightness offset; the result is
    clamped to ``[0, 255]``.

    Parameters
    ----------
    images : Tensor
        ``(B, ...)`` floating-point images in grey levels 0–255.
    params : AugmentationConfig
        Which augmentations to apply, and their ranges.
    generator : torch.Generator
        Source of randomness.

    Returns
    -------
    Tensor
        New images of the same shape, within ``[0, 255]``.
    """
    if not images.is_floating_point():
        raise TypeError(f"images must be floating point, got {images.dtype}.")
    out = images
    per_sample = (images.shape[0],) + (1,) * (images.ndim - 1)
    dev = images.device
    if params.uniform_noise:
        noise = _uniform(
            tuple(images.shape), params.uniform_noise_min, params.uniform_noise_max, generator
        )
        out = out + noise.to(dev, images.dtype)
    if params.gaussian_noise:
        noise = torch.randn(tuple(images.shape), generator=generator, device=generator.device)
        noise = noise * params.gaussian_noise_std + params.gaussian_noise_mean
        out = out + noise.to(dev, images.dtype)
    if params.contrast:
        gamma = _uniform(
            per_sample, params.contrast_min_gamma, params.contrast_max_gamma, generator
        )
        out = (out.clamp(0, 255) / 255).pow(gamma.to(dev, images.dtype)) * 255
    if params.brightness:
        offset = _uniform(per_sample, params.brightness_min, params.brightness_max, generator)
        out = out + offset.to(dev, images.dtype)
    return out.clamp(0, 255)
