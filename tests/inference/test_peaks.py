"""Peak finding against analytic Gaussians at random subpixel positions."""

from __future__ import annotations

import pytest
import torch

from napari_sleap_train.data.confmaps import anchor_confmaps, node_confmaps
from napari_sleap_train.inference.peaks import (
    global_peaks,
    local_peaks,
    refine_gaussian,
    refine_integral,
)

SIGMA = 2.5  # input px, as for the training targets
STRIDES = [1, 2, 4]


def gaussians(centres: torch.Tensor, h: int, w: int, sigma: float, amp=1.0) -> torch.Tensor:
    """Maximum over ``M`` Gaussians ``(..., M, 2)`` (map px) as ``(..., h, w)`` float32."""
    centres = torch.as_tensor(centres, dtype=torch.float64)
    amp = torch.as_tensor(amp, dtype=torch.float64).expand(centres.shape[:-1])
    yy = torch.arange(h, dtype=torch.float64)[:, None]
    xx = torch.arange(w, dtype=torch.float64)
    d2 = (xx - centres[..., 0, None, None]) ** 2 + (yy - centres[..., 1, None, None]) ** 2
    maps = amp[..., None, None] * torch.exp(-d2 / (2 * sigma**2))
    return maps.amax(dim=-3).float()


def match_errors(found: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Distance from each true point to the nearest found one (same count required)."""
    assert found.shape == truth.shape
    d = torch.cdist(truth.double(), found.double())
    assert torch.equal(d.argmin(dim=1).sort().values, torch.arange(len(truth)))
    return d.min(dim=1).values


@pytest.mark.parametrize("stride", STRIDES)
def test_global_peaks_subpixel(stride):
    gen = torch.Generator().manual_seed(stride)
    b, k, size = 8, 6, 160
    pts = 8 + torch.rand(b, k, 2, generator=gen, dtype=torch.float64) * (size - 16)
    cms = gaussians(pts[:, :, None] / stride, size // stride, size // stride, SIGMA / stride)
    xy, values = global_peaks(cms, stride=stride)
    assert xy.shape == (b, k, 2) and values.shape == (b, k)
    err_input = (xy.double() - pts).norm(dim=-1)
    err_map = err_input / stride
    print(f"stride {stride}: max error {err_map.max():.2e} map px, {err_input.max():.2e} input px")
    assert err_map.max() < 0.1
    assert err_map.max() < 1e-3  # exact for Gaussians up to float32 rounding
    if stride == 4:
        assert err_input.max() < 0.1
    col, row = (pts / stride).round().long().unbind(-1)
    expected = cms[torch.arange(b)[:, None], torch.arange(k), row, col]
    torch.testing.assert_close(values, expected, rtol=0, atol=0)


@pytest.mark.parametrize(("stride", "accurate"), [(1, False), (2, False), (4, True)])
def test_integral_5x5_bias(stride, accurate):
    """SLEAP's 5x5 integral regression is only accurate for narrow maps (why it is no default)."""
    gen = torch.Generator().manual_seed(10 + stride)
    size = 40
    pts = 8 + torch.rand(32, 4, 2, generator=gen, dtype=torch.float64) * (size - 16)
    cms = gaussians(pts[:, :, None], size, size, SIGMA / stride)
    xy, _ = global_peaks(cms, method="integral", window=5)
    err = (xy.double() - pts).norm(dim=-1).max()
    assert (err < 0.1) == accurate


@pytest.mark.parametrize("stride", STRIDES)
def test_global_peaks_at_borders(stride):
    h, w = 24, 30
    pts = torch.tensor([[0.2, h - 1.3], [w - 1.1, 0.45], [-0.3, 10.2], [w - 0.7, h - 0.6]])
    cms = gaussians(pts[None, :, None], h, w, SIGMA / stride)
    xy, _ = global_peaks(cms, stride=stride)
    err_map = (xy[0].double() / stride - pts).norm(dim=-1)
    assert err_map.max() < 0.1
    assert err_map.max() < 1e-3


def test_global_peaks_batched_matches_single_maps():
    gen = torch.Generator().manual_seed(3)
    b, k, h, w = 3, 4, 20, 26
    pts = 2 + torch.rand(b, k, 1, 2, generator=gen) * torch.tensor([w - 4, h - 4])
    cms = gaussians(pts, h, w, 1.3) + 0.05 * torch.rand(b, k, h, w, generator=gen)
    for method in ("gaussian", "integral"):
        xy, values = global_peaks(cms, stride=2, method=method)
        for i in range(b):
            for j in range(k):
                one_xy, one_v = global_peaks(cms[i : i + 1, j : j + 1], stride=2, method=method)
                torch.testing.assert_close(xy[i, j], one_xy[0, 0])
                torch.testing.assert_close(values[i, j], one_v[0, 0])
        assert (xy / 2 - pts[:, :, 0]).norm(dim=-1).max() < 0.5


def test_global_peaks_without_refinement():
    cms = torch.zeros(2, 3, 9, 11)
    rows, cols = torch.tensor([[1, 4, 8], [0, 7, 3]]), torch.tensor([[10, 0, 5], [2, 2, 9]])
    cms[torch.arange(2)[:, None], torch.arange(3), rows, cols] = torch.rand(2, 3) + 0.1
    xy, values = global_peaks(cms, stride=4, refine=False)
    torch.testing.assert_close(xy, torch.stack([cols, rows], dim=-1).float() * 4)
    assert (values > 0.1).all()


def test_global_peaks_low_empty_and_nan_maps():
    cms = gaussians(torch.tensor([[[5.3, 6.7]]]).expand(4, 1, 2), 12, 12, 1.2, amp=0.05)[None]
    cms[0, 1] = 0.0
    cms[0, 2, 3, 4] = torch.nan
    cms[0, 3] = -cms[0, 3]
    xy, values = global_peaks(cms, stride=2)
    torch.testing.assert_close(xy[0, 0], torch.tensor([10.6, 13.4]), atol=1e-3, rtol=0)
    assert 0 < values[0, 0] < 0.05
    assert xy[0, 1:].isnan().all()
    assert values[0, 1] == 0 and values[0, 2] == 0 and values[0, 3] <= 0


@pytest.mark.parametrize("stride", STRIDES)
def test_local_peaks(stride):
    h, w = 48, 40
    truth = torch.tensor(
        [
            [20.3, 20.6],  # close pair, about 3.1 px apart
            [23.4, 20.1],
            [0.4, 12.3],  # borders
            [w - 1.2, h - 1.35],
            [15.7, 0.2],
            [30.6, 35.2],
            [8.4, 38.7],  # amplitude 0.3: found
        ]
    )
    weak = torch.tensor([[30.2, 8.8]])  # amplitude 0.15: below threshold
    centres = torch.cat([truth, weak])
    amp = torch.tensor([1.0, 0.9, 0.8, 1.0, 0.7, 1.0, 0.3, 0.15])
    cms = gaussians(centres, h, w, SIGMA / stride, amp=amp)[None, None]
    sample, channel, xy, values = local_peaks(cms, threshold=0.2, stride=stride)
    assert (sample == 0).all() and (channel == 0).all()
    assert (values > 0.2).all()
    err_map = match_errors(xy / stride, truth)
    print(f"stride {stride}: max error {err_map.max():.2e} map px")
    assert err_map.max() < 0.1
    assert err_map[[0, *range(2, len(truth))]].max() < 1e-3  # exact unless a higher peak is near


def test_local_peaks_threshold_is_strict():
    cms = torch.zeros(1, 1, 9, 9)
    cms[0, 0, 2, 2] = 0.2
    cms[0, 0, 6, 6] = 0.2001
    sample, _, xy, values = local_peaks(cms, threshold=0.2, refine=False)
    assert len(sample) == 1
    torch.testing.assert_close(xy, torch.tensor([[6.0, 6.0]]))
    torch.testing.assert_close(values, torch.tensor([0.2001]))


@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (0, 1, 8, 8)])
@pytest.mark.parametrize("refine", [True, False])
def test_local_peaks_empty(shape, refine):
    sample, channel, xy, values = local_peaks(torch.zeros(shape), refine=refine)
    assert sample.shape == channel.shape == values.shape == (0,)
    assert xy.shape == (0, 2)
    assert sample.dtype == channel.dtype == torch.int64
    assert xy.dtype == values.dtype == torch.float32


def test_local_peaks_batched_indices():
    gen = torch.Generator().manual_seed(5)
    b, k, h, w = 3, 2, 32, 32
    grid = torch.tensor([[6.0, 6.0], [20.0, 8.0], [8.0, 22.0], [24.0, 24.0]])
    maps, truth = [], {}
    for i in range(b):
        for j in range(k):
            n = 1 + (i * k + j) % 4
            pts = grid[:n] + torch.rand(n, 2, generator=gen) - 0.5
            truth[i, j] = pts
            maps.append(gaussians(pts, h, w, 1.5))
    cms = torch.stack(maps).reshape(b, k, h, w)
    sample, channel, xy, values = local_peaks(cms, stride=2)
    for (i, j), pts in truth.items():
        rows = (sample == i) & (channel == j)
        assert match_errors(xy[rows] / 2, pts).max() < 1e-3
        s1, _, xy1, v1 = local_peaks(cms[i : i + 1, j : j + 1], stride=2)
        torch.testing.assert_close(xy[rows], xy1)
        torch.testing.assert_close(values[rows], v1)
    order = sample * k + channel
    assert (order[1:] >= order[:-1]).all()


def test_local_peaks_plateau_reported_once():
    cms = gaussians(torch.tensor([[5.5, 4.0], [12.5, 10.5], [3.0, 12.0]]), 16, 16, 1.0)
    sample, _, xy, _ = local_peaks(cms[None, None])
    torch.testing.assert_close(xy, torch.tensor([[5.5, 4.0], [12.5, 10.5], [3.0, 12.0]]))


def test_local_peaks_nan_pixel():
    cms = gaussians(torch.tensor([[6.2, 5.9]]), 12, 12, 1.0)[None, None]
    cms[0, 0, 5, 5] = torch.nan
    sample, _, xy, _ = local_peaks(cms, refine=False)
    torch.testing.assert_close(xy, torch.tensor([[6.0, 6.0]]))


def test_refine_integral_by_hand():
    cms = torch.zeros(2, 1, 7, 7)
    cms[0, 0, 3, 3], cms[0, 0, 3, 4], cms[0, 0, 2, 3] = 1.0, 0.5, -1.0  # negative ignored
    cms[1, 0, 0, 0], cms[1, 0, 1, 0] = 1.0, 1.0  # at a corner: zero padding
    idx = torch.tensor([0, 1])
    zero = torch.zeros(2, dtype=torch.long)
    out = refine_integral(cms, idx, zero, torch.tensor([3, 0]), torch.tensor([3, 0]))
    torch.testing.assert_close(out, torch.tensor([[3 + 1 / 3, 3.0], [0.0, 0.5]]))
    out = refine_integral(torch.zeros(1, 1, 5, 5), *[torch.tensor([i]) for i in (0, 0, 2, 1)])
    torch.testing.assert_close(out, torch.tensor([[1.0, 2.0]]))


def test_refine_gaussian_falls_back_per_axis():
    cms = torch.zeros(1, 1, 9, 9)
    cms[0, 0, 4, 3:6] = torch.tensor([0.5, 1.0, 0.25])  # x: fit; y: no neighbours
    args = (cms, *[torch.tensor([i]) for i in (0, 0, 4, 4)])
    fit = refine_gaussian(*args)
    integral = refine_integral(*args)
    lm, l0, lp = torch.tensor([0.5, 1.0, 0.25]).log()
    x = 4 + 0.5 * (lm - lp) / (lm - 2 * l0 + lp)
    torch.testing.assert_close(fit, torch.tensor([[x, integral[0, 1]]]))


@pytest.mark.parametrize("stride", STRIDES)
def test_convention_matches_confmaps(stride):
    pts = torch.tensor([[[30.3, 41.7], [12.8, 9.1]], [[50.0, 22.6], [3.3, 60.4]]])
    cms = node_confmaps(pts, 64, 72, SIGMA, stride)
    xy, _ = global_peaks(cms, stride=stride)
    assert (xy - pts).norm(dim=-1).max() < 1e-2
    anchors = anchor_confmaps(pts, 64, 72, SIGMA, stride)
    sample, channel, axy, _ = local_peaks(anchors, stride=stride)
    assert (channel == 0).all()
    for i in range(2):
        assert match_errors(axy[sample == i], pts[i]).max() < 1e-2


def test_dtypes():
    cms = gaussians(torch.tensor([[4.3, 5.6]]), 10, 10, 1.0)[None, None]
    xy, values = global_peaks(cms.double())
    assert xy.dtype == values.dtype == torch.float64
    xy, values = global_peaks(cms.half())
    assert xy.dtype == torch.float32 and values.dtype == torch.float16
    torch.testing.assert_close(xy[0, 0], torch.tensor([4.3, 5.6]), atol=0.05, rtol=0)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="shape"):
        global_peaks(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="window"):
        local_peaks(torch.zeros(1, 1, 8, 8), window=4)
    with pytest.raises(ValueError, match="method"):
        global_peaks(torch.zeros(1, 1, 8, 8), method="quadratic")
