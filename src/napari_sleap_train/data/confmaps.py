"""Gaussian confidence maps for keypoints and instance anchors.

Points are ``(x, y)`` in pixels of the image the maps describe, with the centre of
pixel ``(row i, col j)`` at ``(x=j, y=i)``; missing points are NaN. As in SLEAP,
confidence-map pixel ``(r, c)`` at output stride ``s`` sits at image coordinates
``(x=c*s, y=r*s)`` (see `make_grid`), so a peak found at map pixel ``(r, c)`` is the
image point ``(c*s, r*s)``.

Maps are separable: each is the outer product of a column and a row Gaussian, built
for a whole batch by broadcasting.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["anchor_confmaps", "make_grid", "node_confmaps", "part_affinity_fields"]


def make_grid(
    height: int, width: int, stride: int, device: torch.device | str | None = None
) -> tuple[Tensor, Tensor]:
    """Image coordinates of the confidence-map pixels.

    Parameters
    ----------
    height, width : int
        Size of the image the maps describe, in pixels.
    stride : int
        Output stride of the maps.
    device : torch.device or str, optional
        Device of the returned tensors.

    Returns
    -------
    xv, yv : Tensor
        ``arange(0, width, stride)`` and ``arange(0, height, stride)`` as float32, of
        lengths ``ceil(width / stride)`` and ``ceil(height / stride)``.
    """
    if stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride}.")
    xv = torch.arange(0, width, stride, dtype=torch.float32, device=device)
    yv = torch.arange(0, height, stride, dtype=torch.float32, device=device)
    return xv, yv


def node_confmaps(points: Tensor, height: int, width: int, sigma: float, stride: int) -> Tensor:
    """One Gaussian confidence map per point.

    Parameters
    ----------
    points : Tensor
        ``(B, K, 2)`` points ``(x, y)`` in image pixels; NaN for missing points.
    height, width : int
        Size of the image the points live in.
    sigma : float
        Standard deviation of the Gaussians, in image pixels.
    stride : int
        Output stride of the maps.

    Returns
    -------
    Tensor
        ``(B, K, ceil(height / stride), ceil(width / stride))`` float32 maps
        ``exp(-d² / (2 sigma²))``, with peak value 1 at the point; all zeros where a
        point is missing.
    """
    points = torch.as_tensor(points)
    if points.ndim != 3 or points.shape[-1] != 2:
        raise ValueError(f"points must have shape (B, K, 2), got {tuple(points.shape)}.")
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}.")
    points = points.to(torch.float32)
    xv, yv = make_grid(height, width, stride, device=points.device)
    scale = -0.5 / float(sigma) ** 2
    gx = torch.exp((xv - points[..., 0:1]).square() * scale)
    gy = torch.exp((yv - points[..., 1:2]).square() * scale)
    gx = torch.nan_to_num(gx, nan=0.0)
    gy = torch.nan_to_num(gy, nan=0.0)
    return gy.unsqueeze(-1) * gx.unsqueeze(-2)


def anchor_confmaps(points: Tensor, height: int, width: int, sigma: float, stride: int) -> Tensor:
    """One confidence map per image holding the Gaussians of all its anchors.

    Parameters
    ----------
    points : Tensor
        ``(B, M, 2)`` anchors ``(x, y)`` in image pixels, up to ``M`` per image; NaN
        rows are padding.
    height, width : int
        Size of the image the anchors live in.
    sigma : float
        Standard deviation of the Gaussians, in image pixels.
    stride : int
        Output stride of the maps.

    Returns
    -------
    Tensor
        ``(B, 1, ceil(height / stride), ceil(width / stride))`` float32: the maximum
        over anchors of their Gaussians (zeros for an image without anchors).

    See Also
    --------
    node_confmaps : the per-anchor Gaussians.
    """
    points = torch.as_tensor(points)
    if points.ndim != 3 or points.shape[-1] != 2:
        raise ValueError(f"points must have shape (B, M, 2), got {tuple(points.shape)}.")
    if points.shape[1] == 0:
        xv, yv = make_grid(height, width, stride, device=points.device)
        return torch.zeros(points.shape[0], 1, len(yv), len(xv), device=points.device)
    return node_confmaps(points, height, width, sigma, stride).amax(dim=1, keepdim=True)


def part_affinity_fields(
    points: Tensor, edges: Tensor, height: int, width: int, sigma: float, stride: int
) -> Tensor:
    """Part affinity fields of directed edges, summed over the animals of each image.

    Parameters
    ----------
    points : Tensor
        ``(B, M, N, 2)`` points ``(x, y)`` of up to ``M`` animals per image; NaN for
        missing points and padding animals.
    edges : Tensor
        ``(E, 2)`` long (source, destination) node indices.
    height, width : int
        Size of the image the points live in.
    sigma : float
        Spread of the field around each edge: its weight is ``exp(-d² / (2 sigma²))`` at
        distance ``d`` (image pixels) from the edge's segment.
    stride : int
        Output stride of the fields.

    Returns
    -------
    Tensor
        ``(B, 2E, ceil(height / stride), ceil(width / stride))`` float32: for edge ``k``,
        channels ``2k`` and ``2k + 1`` hold the x and y components of the unit vector from
        source to destination, weighted as above; zero where either end is missing.
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}.")
    points = torch.as_tensor(points).to(torch.float32)
    b = points.shape[0]
    xv, yv = make_grid(height, width, stride, device=points.device)
    if len(edges) == 0:
        return torch.zeros(b, 0, len(yv), len(xv), device=points.device)
    src = points[:, :, edges[:, 0]]  # (B, M, E, 2)
    vec = points[:, :, edges[:, 1]] - src
    length2 = vec.square().sum(-1).clamp_min(1e-12)  # (B, M, E)
    unit = vec / length2.sqrt()[..., None]
    gx = xv.view(1, 1, 1, 1, -1) - src[..., 0, None, None]  # (B, M, E, 1, w)
    gy = yv.view(1, 1, 1, -1, 1) - src[..., 1, None, None]  # (B, M, E, h, 1)
    vx, vy = vec[..., 0, None, None], vec[..., 1, None, None]
    t = ((gx * vx + gy * vy) / length2[..., None, None]).clamp(0, 1)
    d2 = (gx - t * vx).square() + (gy - t * vy).square()  # (B, M, E, h, w)
    weight = torch.exp(d2 * (-0.5 / float(sigma) ** 2))
    fields = weight[:, :, :, None] * unit[..., None, None]  # (B, M, E, 2, h, w)
    fields = torch.nan_to_num(fields, nan=0.0).sum(1)
    return fields.reshape(b, -1, len(yv), len(xv))
