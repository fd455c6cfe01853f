"""Receptive field of convolutional encoders.

The receptive field of a stack of convolution and pooling layers with kernel sizes
:math:`k_l` and strides :math:`s_l` is

.. math:: RF = 1 + \\sum_l (k_l - 1) \\prod_{m<l} s_m

(Araujo et al., "Computing receptive fields of convolutional neural networks",
Distill 2019, eq. 2). Like SLEAP, the receptive field of a U-Net counts the encoder's
down blocks only, so numbers can be compared with SLEAP's receptive-field preview.

`receptive_field_px` needs only Python, so a GUI can preview the receptive field
without importing torch; torch is imported inside the functions that read modules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from .spec import is_power_of_two

if TYPE_CHECKING:
    from torch import nn

    from .unet import ConfmapModel, UNet, UNetSpec

__all__ = ["receptive_field", "receptive_field_px", "unet_receptive_field"]


def _rf_from_geometry(layers: Iterable[tuple[int, int]]) -> int:
    """Receptive field of a chain of ``(effective kernel size, stride)`` layers."""
    rf = 1
    jump = 1
    for kernel, stride in layers:
        rf += (kernel - 1) * jump
        jump *= stride
    return rf


def receptive_field_px(max_stride: int, convs_per_block: int = 2, kernel_size: int = 3) -> int:
    """Receptive field in input pixels of a U-Net encoder, without torch.

    Parameters
    ----------
    max_stride : int
        Stride of the deepest encoder level, a power of two (at least 2). The encoder
        has ``log2(max_stride)`` down blocks.
    convs_per_block : int, optional
        Convolutions per down block.
    kernel_size : int, optional
        Convolution kernel size (odd).

    Returns
    -------
    int
        Side of the receptive field in the model's input, ``1 + (max_stride - 1) *
        (convs_per_block * (kernel_size - 1) + 1)``: 36, 76 and 156 for max strides
        8, 16 and 32 with two 3×3 convolutions per block.

    Raises
    ------
    ValueError
        If an argument is out of range.

    See Also
    --------
    unet_receptive_field : The same number read from a built model.
    """
    if not is_power_of_two(max_stride) or max_stride < 2:
        raise ValueError(f"max_stride must be a power of two >= 2, got {max_stride}")
    if convs_per_block < 1:
        raise ValueError(f"convs_per_block must be >= 1, got {convs_per_block}")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd number, got {kernel_size}")
    down_blocks = max_stride.bit_length() - 1
    block = [(kernel_size, 1)] * convs_per_block + [(2, 2)]
    return _rf_from_geometry(block * down_blocks)


def _square(value: int | tuple[int, ...], name: str, layer: nn.Module) -> int:
    if isinstance(value, int):
        return value
    if len(set(value)) != 1:
        raise ValueError(f"{name} of {layer!r} is not the same along every axis: {value}")
    return int(value[0])


def _flatten(layers: Iterable[nn.Module]) -> list[nn.Module]:
    from torch import nn

    flat: list[nn.Module] = []
    for layer in layers:
        if isinstance(layer, (nn.Sequential, nn.ModuleList)):
            flat.extend(_flatten(layer))
        else:
            flat.append(layer)
    return flat


def receptive_field(layers: Sequence[nn.Module]) -> int:
    """Receptive field of a chain of convolution and pooling layers.

    ``RF = 1 + Σ_l (k_l − 1) · Π_{m<l} s_m`` over the convolution and pooling layers,
    with kernel size and stride read from the modules and dilation honoured
    (``k_eff = dilation · (k − 1) + 1``).

    Parameters
    ----------
    layers : sequence of torch.nn.Module
        Layers in the order they are applied. ``nn.Sequential`` and ``nn.ModuleList``
        are expanded. Layers other than convolutions and max/average pooling
        (activations, normalisation, dropout, identity) are treated as pointwise.

    Returns
    -------
    int
        Side of the receptive field in input pixels.

    Raises
    ------
    ValueError
        For layers the formula does not cover (transposed convolutions, upsampling,
        adaptive pooling) or kernels and strides that differ between axes.
    """
    from torch import nn

    unsupported = (
        nn.modules.conv._ConvTransposeNd,
        nn.Upsample,
        nn.modules.pooling._AdaptiveAvgPoolNd,
        nn.modules.pooling._AdaptiveMaxPoolNd,
    )
    geometry: list[tuple[int, int]] = []
    for layer in _flatten(layers):
        if isinstance(layer, unsupported):
            raise ValueError(f"receptive_field does not support {type(layer).__name__} layers")
        if isinstance(layer, (nn.modules.conv._ConvNd, nn.modules.pooling._MaxPoolNd)):
            dilation = _square(layer.dilation, "dilation", layer)
        elif isinstance(layer, nn.modules.pooling._AvgPoolNd):
            dilation = 1
        else:
            continue
        kernel = _square(layer.kernel_size, "kernel_size", layer)
        stride = _square(layer.stride, "stride", layer)
        geometry.append((dilation * (kernel - 1) + 1, stride))
    return _rf_from_geometry(geometry)


def unet_receptive_field(spec_or_model: UNetSpec | UNet | ConfmapModel) -> int:
    """Receptive field of a U-Net, from the encoder layers actually built.

    Parameters
    ----------
    spec_or_model : UNetSpec or UNet or ConfmapModel
        A spec (the encoder is built on the ``meta`` device, without allocating
        weights) or a built model.

    Returns
    -------
    int
        Receptive field in the model's input pixels over the encoder's down blocks
        (SLEAP's definition): 76 for max stride 16 with two 3×3 convolutions per
        block. Divide by the input scaling to get pixels in the original frame.

    See Also
    --------
    receptive_field_px : The same number without torch.
    """
    import torch

    from .unet import ConfmapModel, UNet, UNetSpec

    if isinstance(spec_or_model, UNetSpec):
        with torch.device("meta"):
            model = UNet(spec_or_model)
    elif isinstance(spec_or_model, ConfmapModel):
        model = spec_or_model.backbone
    elif isinstance(spec_or_model, UNet):
        model = spec_or_model
    else:
        raise TypeError(
            "expected a UNetSpec, UNet or ConfmapModel, got " + type(spec_or_model).__name__
        )
    return receptive_field(model.encoder_layers())
