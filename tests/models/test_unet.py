"""Tests for the U-Net backbone, confidence-map model and receptive field."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import torch
from torch import nn

from napari_sleap_train.models import (
    ConfmapModel,
    UNet,
    UNetSpec,
    receptive_field,
    receptive_field_px,
    unet_receptive_field,
)


@pytest.mark.parametrize(
    ("max_stride", "output_stride"),
    [(8, 1), (8, 2), (16, 2), (16, 4), (16, 16), (32, 4), (32, 8)],
)
@pytest.mark.parametrize("in_channels", [1, 3])
def test_output_shape(max_stride: int, output_stride: int, in_channels: int) -> None:
    spec = UNetSpec(
        in_channels=in_channels, filters=4, max_stride=max_stride, output_stride=output_stride
    )
    model = ConfmapModel(spec, n_maps=3)
    height, width = 2 * max_stride, 3 * max_stride
    with torch.no_grad():
        out = model(torch.rand(2, in_channels, height, width))
    assert out.shape == (2, 3, height // output_stride, width // output_stride)


@pytest.mark.parametrize("middle_block", [True, False])
def test_backbone_features_shape(middle_block: bool) -> None:
    spec = UNetSpec(filters=4, max_stride=16, output_stride=16, middle_block=middle_block)
    backbone = UNet(spec)
    with torch.no_grad():
        out = backbone(torch.rand(1, 1, 32, 32))
    assert out.shape == (1, backbone.out_channels, 2, 2)
    assert backbone.out_channels == (64 if middle_block else 32)


def test_filters_per_block() -> None:
    spec = UNetSpec(filters=24, filters_rate=2.0, max_stride=16, output_stride=4)
    model = UNet(spec)

    def conv_widths(block: nn.Sequential) -> list[int]:
        return [layer.out_channels for layer in block if isinstance(layer, nn.Conv2d)]

    assert [conv_widths(b) for b in model.encoder] == [[24, 24], [48, 48], [96, 96], [192, 192]]
    assert conv_widths(model.middle) == [384, 384]
    assert [conv_widths(b) for b in model.decoder] == [[192, 192], [96, 96]]
    first_decoder_conv = model.decoder[0][0]
    assert first_decoder_conv.in_channels == 384 + 192
    assert model.out_channels == 96
    assert spec.encoder_filters == (24, 48, 96, 192)
    assert spec.decoder_filters == (192, 96)

    odd = UNetSpec(filters=16, filters_rate=1.5, max_stride=8, output_stride=8)
    assert odd.encoder_filters == (16, 24, 36)
    assert odd.middle_filters == 54


def test_convs_per_block_and_kernel() -> None:
    model = UNet(UNetSpec(filters=2, max_stride=8, convs_per_block=3, kernel_size=5))
    convs = [layer for layer in model.encoder_layers() if isinstance(layer, nn.Conv2d)]
    pools = [layer for layer in model.encoder_layers() if isinstance(layer, nn.MaxPool2d)]
    assert len(convs) == 9
    assert len(pools) == 3
    assert all(conv.kernel_size == (5, 5) for conv in convs)


@pytest.mark.parametrize(("max_stride", "expected"), [(8, 36), (16, 76), (32, 156)])
def test_receptive_field_sleap_values(max_stride: int, expected: int) -> None:
    spec = UNetSpec(max_stride=max_stride, output_stride=min(4, max_stride))
    assert unet_receptive_field(spec) == expected
    assert unet_receptive_field(UNet(UNetSpec(filters=2, max_stride=max_stride))) == expected
    assert unet_receptive_field(ConfmapModel(UNetSpec(filters=2, max_stride=max_stride), 1)) == (
        expected
    )
    assert receptive_field_px(max_stride) == expected


@pytest.mark.parametrize("max_stride", [2, 4, 8, 16, 32, 64])
@pytest.mark.parametrize("convs_per_block", [1, 2, 3])
@pytest.mark.parametrize("kernel_size", [1, 3, 5])
def test_receptive_field_px_agrees_with_model(
    max_stride: int, convs_per_block: int, kernel_size: int
) -> None:
    spec = UNetSpec(max_stride=max_stride, convs_per_block=convs_per_block, kernel_size=kernel_size)
    assert receptive_field_px(max_stride, convs_per_block, kernel_size) == (
        unet_receptive_field(spec)
    )


def test_receptive_field_layers() -> None:
    assert receptive_field([]) == 1
    layers = [nn.Conv2d(1, 1, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3, dilation=2)]
    assert receptive_field(layers) == 1 + 2 + 1 + 4 * 2
    assert receptive_field([nn.Sequential(*layers)]) == receptive_field(layers)
    assert receptive_field([nn.AvgPool2d(3, stride=1), nn.Conv2d(1, 1, 5, stride=2)]) == 7
    with pytest.raises(ValueError, match="ConvTranspose2d"):
        receptive_field([nn.ConvTranspose2d(1, 1, 3)])
    with pytest.raises(ValueError, match="same along every axis"):
        receptive_field([nn.Conv2d(1, 1, (3, 5))])


def _gradient_footprint(layers: list[nn.Module], size: int, max_stride: int) -> tuple[int, int]:
    """Height and width of the input region that one encoder output pixel depends on.

    The layers are copied into a probe network whose gradient is non-zero exactly where
    the output depends on the input:

    - every ``MaxPool2d`` becomes an ``AvgPool2d`` with the same kernel and stride. Its
      window geometry, and so the dependency footprint, is identical, but it passes
      gradient to every position of the window, whereas max pooling passes it only to
      the argmax, which would make the measured footprint depend on the data;
    - convolution weights are set to a positive constant and biases to zero, and the
      ReLUs are left out (they would zero the gradient wherever a pre-activation is
      negative). Every path from an input pixel to the output then carries a strictly
      positive product of weights, so contributions cannot cancel and the gradient is
      positive on the whole footprint and zero outside it.

    The input is large enough that the footprint of the centre output pixel does not
    touch the zero padding at the borders, and float64 keeps the smallest
    contributions far from underflow.
    """
    probe: list[nn.Module] = []
    for layer in layers:
        if isinstance(layer, nn.MaxPool2d):
            assert layer.padding == 0
            assert layer.dilation == 1
            probe.append(nn.AvgPool2d(layer.kernel_size, layer.stride))
        elif isinstance(layer, nn.Conv2d):
            conv = copy.deepcopy(layer)
            with torch.no_grad():
                conv.weight.fill_(1.0 / conv.weight[0].numel())
                if conv.bias is not None:
                    conv.bias.zero_()
            probe.append(conv)
        else:
            raise AssertionError(f"unexpected encoder layer {layer!r}")
    net = nn.Sequential(*probe).double()
    x = torch.ones(1, layers[0].in_channels, size, size, dtype=torch.float64, requires_grad=True)
    out = net(x)
    assert out.shape[-1] == size // max_stride
    centre = out.shape[-1] // 2
    out[0, 0, centre, centre].backward()
    nonzero = (x.grad[0] != 0).any(dim=0).nonzero()
    rows, cols = nonzero[:, 0], nonzero[:, 1]
    assert rows.min() > 0 and cols.min() > 0
    assert rows.max() < size - 1 and cols.max() < size - 1
    height = int(rows.max() - rows.min()) + 1
    width = int(cols.max() - cols.min()) + 1
    return height, width


@pytest.mark.parametrize(
    ("max_stride", "convs_per_block", "kernel_size"),
    [(8, 2, 3), (16, 2, 3), (32, 2, 3), (16, 1, 3), (8, 3, 5)],
)
def test_receptive_field_matches_gradient_footprint(
    max_stride: int, convs_per_block: int, kernel_size: int
) -> None:
    spec = UNetSpec(
        filters=2,
        max_stride=max_stride,
        convs_per_block=convs_per_block,
        kernel_size=kernel_size,
    )
    model = UNet(spec)
    rf = unet_receptive_field(model)
    size = max_stride * (-(-2 * rf // max_stride) + 1)
    assert _gradient_footprint(model.encoder_layers(), size, max_stride) == (rf, rf)


def test_model_learns() -> None:
    torch.manual_seed(0)
    model = ConfmapModel(UNetSpec(filters=8, max_stride=8, output_stride=2), n_maps=2)
    image = torch.rand(1, 1, 32, 32)
    yy, xx = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    target = torch.stack(
        [
            torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 1.5**2))
            for cy, cx in [(5, 9), (10, 4)]
        ]
    )[None]
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    with torch.no_grad():
        initial = nn.functional.mse_loss(model(image), target).item()
    for _ in range(50):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(image), target)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        final = nn.functional.mse_loss(model(image), target).item()
    assert final < initial / 10


@pytest.mark.parametrize("shape", [(1, 1, 97, 96), (1, 1, 96, 100), (2, 1, 8, 8)])
def test_input_not_multiple_of_max_stride(shape: tuple[int, ...]) -> None:
    model = ConfmapModel(UNetSpec(filters=2, max_stride=16), n_maps=1)
    with pytest.raises(ValueError, match="multiples of the max stride \\(16\\)") as info:
        model(torch.zeros(shape))
    assert "pad the image to" in str(info.value)


def test_input_wrong_channels_or_rank() -> None:
    model = ConfmapModel(UNetSpec(filters=2, max_stride=8, in_channels=3), n_maps=1)
    with pytest.raises(ValueError, match="3 input channel"):
        model(torch.zeros(1, 1, 16, 16))
    with pytest.raises(ValueError, match="batch, channels, height, width"):
        model(torch.zeros(3, 16, 16))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_stride": 12},
        {"max_stride": 1},
        {"output_stride": 32},
        {"output_stride": 3},
        {"kernel_size": 4},
        {"convs_per_block": 0},
        {"filters": 0},
        {"filters": 1, "filters_rate": 0.1},
    ],
)
def test_invalid_spec(kwargs: dict[str, int | float]) -> None:
    with pytest.raises(ValueError):
        UNetSpec(**kwargs)


def test_invalid_receptive_field_px() -> None:
    with pytest.raises(ValueError, match="power of two"):
        receptive_field_px(24)
    with pytest.raises(ValueError, match="odd"):
        receptive_field_px(16, kernel_size=2)


def test_receptive_field_px_without_torch() -> None:
    code = (
        "import sys\n"
        "from napari_sleap_train.models import receptive_field_px\n"
        "assert receptive_field_px(16) == 76\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_identity_head_follows_the_maps_as_constant_channels_and_learns() -> None:
    torch.manual_seed(0)
    model = ConfmapModel(UNetSpec(filters=8, max_stride=16, output_stride=4), 5, n_classes=3)
    out = model(torch.rand(2, 1, 64, 64))
    assert out.shape == (2, 8, 16, 16)
    assert torch.equal(out[:, 5:], out[:, 5:, :1, :1].expand(-1, -1, 16, 16))
    plain = ConfmapModel(UNetSpec(filters=8, max_stride=16, output_stride=4), 5)
    assert plain(torch.rand(2, 1, 64, 64)).shape == (2, 5, 16, 16)
    assert not any(name.startswith("classes") for name in plain.state_dict())
    # a bright square whose size says the class: the head learns to tell them apart
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(120):
        y = torch.randint(0, 3, (8,), generator=gen)
        x = torch.rand(8, 1, 64, 64, generator=gen) * 0.2
        for i, c in enumerate(y.tolist()):
            r = 6 + 6 * c
            x[i, :, 32 - r : 32 + r, 32 - r : 32 + r] += 0.6
        loss = nn.functional.cross_entropy(model(x)[:, 5:, 0, 0], y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        assert (model(x)[:, 5:, 0, 0].argmax(1) == y).all()


def test_identity_head_sends_no_gradient_into_the_unet() -> None:
    torch.manual_seed(0)
    spec = UNetSpec(filters=8, max_stride=16, output_stride=4)
    model = ConfmapModel(spec, 5, n_classes=3)
    x = torch.rand(2, 1, 64, 64)
    nn.functional.cross_entropy(model(x)[:, 5:, 0, 0], torch.tensor([0, 2])).backward()
    for p in [*model.backbone.parameters(), *model.head.parameters()]:
        assert p.grad is None or not p.grad.any()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.classes.parameters())
    # the maps' gradient is the same with or without the head
    plain = ConfmapModel(spec, 5)
    plain.load_state_dict(model.state_dict(), strict=False)
    model.zero_grad()
    model(x)[:, :5].square().mean().backward()
    plain(x).square().mean().backward()
    for (name, a), b in zip(model.backbone.named_parameters(), plain.backbone.parameters()):
        assert torch.allclose(a.grad, b.grad), name
